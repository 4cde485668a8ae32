/* Kernel entry points: boot entry, interrupt/exception stubs, the SYSCALL entry, context switch. */
#define KCODE 0x08
#define KDATA 0x10
#define UDATA 0x23
#define UCODE 0x2b
#define VEC_SYSCALL 0x100
#define PCPU_KSTACK 0
#define PCPU_USER_RSP 8
/* trapframe offsets (kernel.h struct trapframe) */
#define TF_RAX 112
#define TF_VECTOR 120
#define TF_RIP 136
#define TF_CS 144
#define TF_RFLAGS 152
#define TF_RSP 160

        .section .text.entry, "ax"
        .globl _start
_start:
        /* Boot protocol (docs/machine.md): 64-bit mode, RDI = boot_info, RSP = boot stack, IF clear. */
        cli
        cld
        xor %ebp, %ebp
        call kmain
1:      hlt
        jmp 1b

        .text
/* ---------------------------------------------------------------- interrupts and exceptions */
.macro PUSH_GPRS
        push %rax
        push %rbx
        push %rcx
        push %rdx
        push %rsi
        push %rdi
        push %rbp
        push %r8
        push %r9
        push %r10
        push %r11
        push %r12
        push %r13
        push %r14
        push %r15
.endm
.macro POP_GPRS
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %r11
        pop %r10
        pop %r9
        pop %r8
        pop %rbp
        pop %rdi
        pop %rsi
        pop %rdx
        pop %rcx
        pop %rbx
        pop %rax
.endm

/* Vectors whose exception pushes an error code (SDM vol. 3 6.15): 8, 10-14, 17, 21, 29, 30. */
.macro ISR vec
        .balign 16
isr\vec:
.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
.else
        pushq $0
.endif
        pushq $\vec
        jmp isr_common
.endm

.altmacro
.macro ISR_RANGE from, to
        ISR \from
.if \to-\from
        ISR_RANGE %(\from+1), \to
.endif
.endm
        ISR_RANGE 0, 48
.noaltmacro

isr_common:
        testb $3, 24(%rsp)          /* CS of the interrupted context */
        jz 1f
        swapgs
1:      PUSH_GPRS
        cld
        mov %rsp, %rdi
        call trap
        .globl trapret
trapret:
        POP_GPRS
        testb $3, 24(%rsp)
        jz 1f
        swapgs
1:      add $16, %rsp               /* vector, error code */
        iretq

        .section .rodata
        .globl isr_table
        .balign 8
isr_table:
.altmacro
.macro ISR_ADDR vec
        .quad isr\vec
.endm
.macro ISR_ADDRS from, to
        ISR_ADDR %(\from)
.if \to-\from
        ISR_ADDRS %(\from+1), \to
.endif
.endm
        ISR_ADDRS 0, 48
.noaltmacro

        .text
/* ---------------------------------------------------------------- SYSCALL entry
 * At least 16 bytes of 0xCC before the handler: the alignment gap seed 004 section 6.2 ("Fill the Gap")
 * puts its VMCALL into (docs/machine.md "Syscall entry"). The first instruction, SWAPGS, is exactly
 * 3 bytes, so a 3-byte VMCALL swapped over the start covers a whole instruction ("Double Instruction Swap"). */
        .balign 16, 0xcc
        .fill 32, 1, 0xcc
        .globl syscall_entry
syscall_entry:
        swapgs
        mov %rsp, %gs:PCPU_USER_RSP
        mov %gs:PCPU_KSTACK, %rsp
        pushq $UDATA                /* ss */
        pushq %gs:PCPU_USER_RSP     /* rsp */
        push %r11                   /* rflags */
        pushq $UCODE                /* cs */
        push %rcx                   /* rip */
        pushq $0                    /* error code */
        pushq $VEC_SYSCALL
        PUSH_GPRS
        cld
        mov %rsp, %rdi
        call syscall_dispatch
        /* Return with SYSRET when the frame is a plain user frame with a canonical lower-half RIP,
         * otherwise through IRETQ. */
        mov TF_RIP(%rsp), %rcx
        shr $47, %rcx
        jnz trapret
        cmpq $UCODE, TF_CS(%rsp)
        jne trapret
        POP_GPRS
        add $16, %rsp
        pop %rcx                    /* rip */
        add $8, %rsp                /* cs */
        pop %r11                    /* rflags */
        pop %rsp                    /* user rsp; IF is still clear (FMASK) */
        swapgs
        sysretq

/* ---------------------------------------------------------------- context switch
 * void swtch(uint64_t *save_sp, uint64_t new_sp): callee-saved registers on the old stack. */
        .globl swtch
swtch:
        push %rbp
        push %rbx
        push %r12
        push %r13
        push %r14
        push %r15
        mov %rsp, (%rdi)
        mov %rsi, %rsp
        pop %r15
        pop %r14
        pop %r13
        pop %r12
        pop %rbx
        pop %rbp
        ret

/* A new kernel thread starts here with r12 = function, r13 = argument. */
        .globl kthread_start
kthread_start:
        mov %r13, %rdi
        call *%r12
        xor %edi, %edi
        xor %esi, %esi
        call thread_exit
        ud2

/* The idle loop's wait: enable interrupts and halt atomically (STI's one-instruction shadow). */
        .globl idle_halt
idle_halt:
        sti
        hlt
        cli
        ret
