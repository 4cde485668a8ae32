/* Process entry (System V AMD64 ABI 3.4.1 initial stack) and the thread-clone trampoline. */
        .section .text.start, "ax"
        .globl _start
_start:
        xor %ebp, %ebp
        mov (%rsp), %rdi            /* argc */
        lea 8(%rsp), %rsi           /* argv */
        lea 8(%rsi,%rdi,8), %rdx    /* envp */
        and $-16, %rsp
        call __libc_start
        ud2

        .text
/* long thread_clone(unsigned long flags, void *stack_top, int *ptid, int *ctid, int (*fn)(void *), void *arg)
 * Linux clone(flags, newsp, ptid, ctid, tls): the child runs fn(arg) on the new stack and exits. */
        .globl thread_clone
thread_clone:
        and $-16, %rsi
        sub $16, %rsi
        mov %r8, (%rsi)             /* fn */
        mov %r9, 8(%rsi)            /* arg */
        mov %rcx, %r10              /* ctid */
        xor %r8d, %r8d              /* tls */
        mov $56, %eax
        syscall
        test %rax, %rax
        jnz 1f
        pop %rax
        pop %rdi
        call *%rax
        mov %eax, %edi
        mov $60, %eax               /* exit: this thread only */
        syscall
        ud2
1:      ret
