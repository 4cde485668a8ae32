# Rejected on purpose: stores past the end of its granted region (the verifier must refuse it).
mov %r3, 0x100000
add %r2, %r3
stxdw [%r2+0], %r3
mov %r0, 0
exit
