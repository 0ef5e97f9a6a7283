/*
 * Reset entry for QEMU `virt` (riscv32) with `-bios none`: every hart starts
 * here, at 0x80000000 in M-mode, with a0 = hartid. Only hart 0 runs the
 * firmware; others (none with the default -smp 1) park.
 * The image runs where QEMU's -kernel loader put it (RAM), so .data needs no
 * copy; .bss (with .sbss and .tbss) is zeroed here.
 */
    .section .text.init.enter, "ax", @progbits
    .globl _start
    .type _start, @function
_start:
    /* gp must not be set through a gp-relative (relaxed) address. */
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop

    la      sp, __stack_top

    /* CSR instructions need Zicsr; -march stays rv32imc (see DESIGN.md). */
    .option push
    .option arch, +zicsr
    csrr    t0, mhartid
    bnez    t0, park
    la      t0, riscv_trap_entry
    csrw    mtvec, t0
    csrw    mie, zero
    .option pop

    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sw      zero, 0(t0)
    addi    t0, t0, 4
    j       1b
2:
    /* picolibc keeps errno in TLS: tp points at the static TLS block. */
    la      tp, __tls_base

    call    main

park:
    wfi
    j       park
    .size _start, . - _start

/*
 * Any trap: nothing enables interrupts, so this is an exception. Report it
 * (riscv_trap_report never returns) on a fresh stack, so a stack overflow can
 * be reported too.
 */
    .section .text.riscv_trap_entry, "ax", @progbits
    .balign 4
    .globl riscv_trap_entry
    .type riscv_trap_entry, @function
riscv_trap_entry:
    la      sp, __stack_top
    .option push
    .option arch, +zicsr
    csrr    a0, mcause
    csrr    a1, mepc
    csrr    a2, mtval
    .option pop
    call    riscv_trap_report
    j       park
    .size riscv_trap_entry, . - riscv_trap_entry
