/* Embeds the guest kernel ELF into the host binaries. */
    .section .rodata.ember_kernel, "a"
    .balign 16
    .globl ember_kernel_elf
ember_kernel_elf:
    .incbin EMBER_KERNEL_PATH
    .globl ember_kernel_elf_end
ember_kernel_elf_end:
    .section .note.GNU-stack, "", @progbits
