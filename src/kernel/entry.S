/*
 * entry.S - the guest kernel's machine entry points.
 *
 * Everything here runs at CPL 3 except syscall_entry, which the CPU enters
 * at CPL 0 on `syscall` (MSR_LSTAR). It touches neither the application's
 * stack nor its red zone: it records the return address and flags, then
 * sysretq's into syscall_handler at CPL 3.
 */
    .intel_syntax noprefix
    .code64

    .section .text.entry, "ax"

/* The VMM starts us here: rdi = boot info, rsp = EMBER_GPA_KSTACK_TOP. */
    .globl kernel_start
kernel_start:
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rsi, rax                 /* tsc at the first instruction */
    xor ebp, ebp
    and rsp, -16
    call kernel_main
    ud2

/* CPL 0. rcx = application rip, r11 = application rflags, rsp = app rsp. */
    .balign 64
    .globl syscall_entry
syscall_entry:
    cmp rcx, OFFSET cr3_return   /* ember_load_cr3's own syscall */
    je 2f
    mov [rip + sys_user_rip], rcx
    mov [rip + sys_user_rflags], r11
    lea rcx, [rip + syscall_handler]
    mov r11d, 0x3002             /* IOPL 3, IF 0, DF 0, AC 0 */
    sysretq
2:  mov cr3, rdi                 /* the only privileged instruction: a switch */
    sysretq                      /* of address space, back to cr3_return */

/* ember_load_cr3(pml4): CPL 3 -> the stub above -> CPL 3. Loading CR3 is
 * also the kernel's TLB flush. rcx and r11 are clobbered (caller-saved). */
    .globl ember_load_cr3
ember_load_cr3:
    syscall
cr3_return:
    ret

/* CPL 3, still on the application's stack; all application registers but
 * rcx/r11 are live. The running thread's kernel stack top is the first
 * field of the CPU struct (ember_cpu0; per-CPU once there are several).
 * Frame on that stack (struct SyscallFrame in sched.h): nr, a0..a5, the
 * callee-saved rbx rbp r12..r15, rip, rflags, rsp, path (0 = trapped
 * syscall, 1 = patched site), pad. Threads need the whole register file
 * in the frame: a new thread starts from a copy of its parent's. */
    .balign 16
syscall_handler:
    mov [rip + sys_user_rsp], rsp
    mov rsp, [rip + ember_cpu0]
    push 0                       /* pad: keeps the frame 16-byte aligned */
    push 0
    jmp syscall_common

/* A patched syscall site (see the ABI header): the site's `jmp *slot` led
 * to its trampoline, which loaded rax = the number and rcx = the return
 * address, as `syscall` would have. No trap, and nothing is written to the
 * application's stack: rflags are read only once on the kernel stack. */
    .balign 16
    .globl fast_syscall_entry
fast_syscall_entry:
    mov [rip + sys_user_rsp], rsp
    mov rsp, [rip + ember_cpu0]
    pushfq
    pop r11                      /* r11 = rflags, as after syscall */
    mov [rip + sys_user_rip], rcx
    mov [rip + sys_user_rflags], r11
    push 0                       /* pad */
    push 1
syscall_common:
    /* sys_user_* are scratch of this CPU: only valid until here, since a
     * blocking call may switch to another thread. */
    push qword ptr [rip + sys_user_rsp]
    push qword ptr [rip + sys_user_rflags]
    push qword ptr [rip + sys_user_rip]
    push r15
    push r14
    push r13
    push r12
    push rbp
    push rbx
    push r9
    push r8
    push r10
    push rdx
    push rsi
    push rdi
    push rax
    mov rdi, rsp
    call syscall_dispatch        /* returns the result in rax */
    .globl syscall_return
syscall_return:                  /* rax = result, rsp = the frame */
    mov rdi, [rsp + 8]
    mov rsi, [rsp + 16]
    mov rdx, [rsp + 24]
    mov r10, [rsp + 32]
    mov r8, [rsp + 40]
    mov r9, [rsp + 48]
    mov r11, [rsp + 112]         /* rflags */
    push r11
    popfq
    mov rcx, [rsp + 104]         /* rip */
    mov rsp, [rsp + 120]         /* the application's rsp */
    jmp rcx

/* A new thread's first run (sched.cpp puts this address under the frame it
 * copied from its parent): the callee-saved registers come from the frame,
 * and clone returns 0. */
    .globl thread_first_return
thread_first_return:
    mov rbx, [rsp + 56]
    mov rbp, [rsp + 64]
    mov r12, [rsp + 72]
    mov r13, [rsp + 80]
    mov r14, [rsp + 88]
    mov r15, [rsp + 96]
    xor eax, eax
    jmp syscall_return

/* Preemption (see the ABI header): the VMM stopped the vCPU in application
 * code, stored its registers in boot_info.preempt_regs and entered here with
 * RFLAGS = 0x3002. Never while the kernel runs, so nothing of the kernel's
 * is live. preempt_dispatch copies the registers to this thread's kernel
 * stack (18 words: rax rcx rdx rbx rsp rbp rsi rdi r8..r15 rip rflags) and
 * runs other threads; when this one is resumed, every register is reloaded
 * from there and nothing is written to the application's stack. */
    .balign 16
    .globl preempt_entry
preempt_entry:
    mov rsp, [rip + ember_cpu0]
    sub rsp, 144
    mov rdi, rsp
    call preempt_dispatch
    jmp 1f

/* resume_user(const UserRegs* r): back to the application with every
 * register from r (the preempt_regs order), e.g. into a signal handler or
 * out of rt_sigreturn. r is on the kernel stack, which is free from here. */
    .globl resume_user
resume_user:
    mov rsp, rdi
1:
    mov rax, [rsp + 128]
    mov [rip + preempt_resume_rip], rax
    push qword ptr [rsp + 136]
    popfq
    mov rax, [rsp + 0]
    mov rcx, [rsp + 8]
    mov rdx, [rsp + 16]
    mov rbx, [rsp + 24]
    mov rbp, [rsp + 40]
    mov rsi, [rsp + 48]
    mov rdi, [rsp + 56]
    mov r8, [rsp + 64]
    mov r9, [rsp + 72]
    mov r10, [rsp + 80]
    mov r11, [rsp + 88]
    mov r12, [rsp + 96]
    mov r13, [rsp + 104]
    mov r14, [rsp + 112]
    mov r15, [rsp + 120]
    mov rsp, [rsp + 32]
    jmp qword ptr [rip + preempt_resume_rip]

/* switch_stacks(uint64_t* save_sp, uint64_t next_sp): saves the kernel
 * callee-saved registers on this stack, stores its rsp, and resumes the
 * thread whose kernel rsp is next_sp (where it called switch_stacks, or at
 * thread_first_return for a new thread). */
    .globl switch_stacks
switch_stacks:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

/* enter_user(entry, sp): start the application with a clean register file. */
    .globl enter_user
enter_user:
    mov rsp, rsi
    mov rax, rdi
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx                 /* rdx = 0: no rtld_fini for atexit */
    xor esi, esi
    xor edi, edi
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    push 0x3202
    popfq
    jmp rax

/* Exceptions: gates target CS 0x33, so the CPU pushes its frame on the
 * current stack (no stack switch). Each stub pushes a dummy error code when
 * the CPU does not, then the vector number. */
    .macro VEC n, has_err
    .balign 16
vec_\n:
    .if \has_err == 0
    push 0
    .endif
    push \n
    jmp exception_common
    .endm

    VEC 0,0
    VEC 1,0
    VEC 2,0
    VEC 3,0
    VEC 4,0
    VEC 5,0
    VEC 6,0
    VEC 7,0
    VEC 8,1
    VEC 9,0
    VEC 10,1
    VEC 11,1
    VEC 12,1
    VEC 13,1
    VEC 14,1
    VEC 15,0
    VEC 16,0
    VEC 17,1
    VEC 18,0
    VEC 19,0
    VEC 20,0
    VEC 21,1
    VEC 22,0
    VEC 23,0
    VEC 24,0
    VEC 25,0
    VEC 26,0
    VEC 27,0
    VEC 28,0
    VEC 29,1
    VEC 30,1
    VEC 31,0

    .balign 16
    .globl spurious_entry
spurious_entry:
    push 0
    push 255
    jmp exception_common

/* Frame: vector, error, rip, cs, rflags, rsp, ss. Switch to the exception
 * stack and save the general registers (struct ExceptionRegs order:
 * rax rcx rdx rbx rsp rbp rsi rdi r8..r15). */
exception_common:
    mov [rip + exc_frame], rsp
    lea rsp, [rip + exc_stack_top]
    push r15
    push r14
    push r13
    push r12
    push r11
    push r10
    push r9
    push r8
    push rdi
    push rsi
    push rbp
    push qword ptr [rip + exc_frame]  /* rsp slot: patched in C++ */
    push rbx
    push rdx
    push rcx
    push rax
    mov rdi, rsp
    mov rsi, [rip + exc_frame]
    call exception_handler
    ud2

    .section .data
    .balign 8
    .globl sys_user_rip, sys_user_rflags, sys_user_rsp
sys_user_rip:    .quad 0
sys_user_rflags: .quad 0
sys_user_rsp:    .quad 0
exc_frame:       .quad 0
preempt_resume_rip: .quad 0     /* one CPU, and the kernel is not preemptible */

/* struct ember_kernel_header: what the VMM installs in RIP, LSTAR and the IDT. */
    .section .ember_header, "a"
    .balign 8
    .quad 0x4c4e524b52424d45     /* EMBER_KERNEL_MAGIC */
    .long 4                      /* EMBER_ABI_VERSION */
    .long 304                    /* sizeof(struct ember_kernel_header) */
    .quad kernel_start
    .quad syscall_entry
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad vec_\n
    .endr
    .quad spurious_entry
    .quad fast_syscall_entry

    .section .bss
    .balign 16
exc_stack:
    .skip 16384
exc_stack_top:

    .section .note.GNU-stack, "", @progbits
