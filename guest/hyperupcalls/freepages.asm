# Free-page discovery (seed 003 section 2: "the hypervisor can act as if it were a guest kernel thread and
# scan the guest for free pages directly"). Event: memory pressure. A local hyperupcall: r2 is all of guest
# memory, read-only; the loop is bounded by the run-time budget. env[0] = guest-physical address of the
# kernel's free-list head (guest/kernel/mm.c: each free page holds the physical address of the next).
# Reports every free page with hint_free_page (helper 32) and returns their number.
# Guest pointers are masked to a 64 MiB guest (seed 003 3.4: masking, not branches): the verifier proves
# every load lies inside guest memory, and a registration on a smaller guest is rejected.
mov %r6, %r1
mov %r7, %r2
ldxdw %r3, [%r6+96]
and %r3, 0x3fffff8
mov %r4, %r7
add %r4, %r3
ldxdw %r8, [%r4+0]
mov %r9, 0
loop:
jeq %r8, 0, done
mov %r1, %r6
mov %r2, %r8
call 32
add %r9, 1
and %r8, 0x3fff000
mov %r4, %r7
add %r4, %r8
ldxdw %r8, [%r4+0]
ja loop
done:
mov %r0, %r9
exit
