/* The vDSO (vdso/vdso.c, built into a shared object by CMake), embedded in
 * the kernel image page-aligned: every address space maps the kernel at
 * the same place, so AT_SYSINFO_EHDR is the same for every process. */
    .section .rodata.vdso, "a"
    .balign 4096
    .globl vdso_image_start
vdso_image_start:
    .incbin EMBER_VDSO_PATH
    .globl vdso_image_end
vdso_image_end:
    .balign 4096
    .section .note.GNU-stack, "", @progbits
