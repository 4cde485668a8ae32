# Scheduler activation (seed 003 section 4.2): when a packet whose memcached command is "get" arrives,
# boost the VM's priority (cpu.weight 10 -> 100 for 100 ms, as in the paper). Event: packet received.
# r2 = the granted region: the NIC's receive buffer (one page), which holds the packet when the NIC's
# vector is injected. The payload starts with the 8-byte memcached UDP frame header.
ldxb %r3, [%r2+8]
jne %r3, 0x67, out
ldxb %r3, [%r2+9]
jne %r3, 0x65, out
ldxb %r3, [%r2+10]
jne %r3, 0x74, out
mov %r6, %r1
mov %r2, 100
mov %r3, 100000
call 9
mov %r0, 1
exit
out:
mov %r0, 0
exit
