# Unified tracing (seed 003 section 4.1): on every VM exit, append a record to the guest's ring buffer.
# Event: VM exit (any reason). r1 = context (docs/hyperupcalls.md), r2 = the granted region: the ring.
# Ring (guest/kernel/hyperupcall.c): u64 head at 0 (records ever reserved), 4096 records of 32 bytes from
# offset 64, the oldest overwritten (ftrace's overwrite mode). Record: exit seq, icount, reason, rip.
# The slot is reserved by one read-modify-write of head: the guest is stopped while this runs, and the
# kernel reserves its own records with one LOCK XADD, so the two never take the same slot.
ldxdw %r3, [%r2+0]
mov %r4, %r3
add %r4, 1
stxdw [%r2+0], %r4
and %r3, 4095
lsh %r3, 5
mov %r5, %r2
add %r5, %r3
ldxdw %r0, [%r1+64]
stxdw [%r5+64], %r0
ldxdw %r0, [%r1+56]
stxdw [%r5+72], %r0
ldxw %r0, [%r1+4]
stxdw [%r5+80], %r0
ldxdw %r0, [%r1+16]
stxdw [%r5+88], %r0
mov %r0, 0
exit
