# Guard (Amit & Wei, ATC 2018, protection use case): the guest's own protection policy, run by the hypervisor
# on the exits of writes it must not allow, with no round trip to the guest. Events: VM exit, registered
# twice by the kernel (guest/kernel/hyperupcall.c): on WRMSR (reason 32) and on control-register access
# (reason 28). r1 = context, r2 = the granted region: the kernel's guard log page.
# Policy (env, fixed at registration; the context is read-only): env[0] = the only value IA32_LSTAR may be
# given (the kernel's syscall_entry), env[1] = CR0 bits a MOV to CR0 may not clear (WP: Linux's CR pinning),
# env[2] = the vector to notify the guest with (0 = none).
# A write that breaks the policy is blocked: r0 = 1, the verdict that makes the hypervisor complete the
# instruction without its effect (docs/hyperupcalls.md "Verdicts"); it is logged in the page and the guest
# is notified with send_vcpu_ipi. Anything else returns 0 (the exit proceeds as usual).
# Log page: u64 checked at 0 (protected writes examined), u64 blocked at 8, u64 head at 16 (records ever
# written), 64 records of 32 bytes from offset 64 (slot = head mod 64): exit seq, what ((reason << 32) |
# MSR index or CR number), the value refused, rip.
mov %r6, %r1
mov %r7, %r2
ldxw %r3, [%r6+4]
jeq %r3, 32, wrmsr
jeq %r3, 28, cr
mov %r0, 0
exit
wrmsr:
mov %r1, %r6
mov %r2, 0
mov %r3, 1
call 2
mov32 %r9, %r0
lddw %r4, 0xc0000082
jne %r9, %r4, allow_other
mov %r1, %r6
mov %r2, 0
mov %r3, 0
call 2
mov32 %r8, %r0
mov %r1, %r6
mov %r2, 0
mov %r3, 2
call 2
lsh %r0, 32
or %r8, %r0
ldxdw %r4, [%r6+96]
jeq %r8, %r4, allow
lddw %r4, 0x2000000000
or %r9, %r4
ja block
cr:
ldxdw %r3, [%r6+8]
mov %r4, %r3
and %r4, 0x3f
jne %r4, 0, allow_other
rsh %r3, 8
and %r3, 15
mov %r1, %r6
mov %r2, 0
call 2
mov %r8, %r0
ldxdw %r4, [%r6+104]
mov %r5, %r8
and %r5, %r4
jeq %r5, %r4, allow
lddw %r9, 0x1c00000000
block:
ldxdw %r3, [%r7+0]
add %r3, 1
stxdw [%r7+0], %r3
ldxdw %r3, [%r7+8]
add %r3, 1
stxdw [%r7+8], %r3
ldxdw %r3, [%r7+16]
mov %r4, %r3
add %r4, 1
stxdw [%r7+16], %r4
and %r3, 63
lsh %r3, 5
mov %r5, %r7
add %r5, %r3
ldxdw %r0, [%r6+64]
stxdw [%r5+64], %r0
stxdw [%r5+72], %r9
stxdw [%r5+80], %r8
ldxdw %r0, [%r6+16]
stxdw [%r5+88], %r0
ldxdw %r3, [%r6+112]
jeq %r3, 0, blocked
mov %r1, %r6
mov %r2, 0
call 1
blocked:
mov %r0, 1
exit
allow:
ldxdw %r3, [%r7+0]
add %r3, 1
stxdw [%r7+0], %r3
allow_other:
mov %r0, 0
exit
