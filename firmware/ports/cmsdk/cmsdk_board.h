/*
 * Board table of the CMSDK port: which ARM MPS2/MPS3 FPGA image (and QEMU
 * machine) this build is for. Exactly one MCB_CMSDK_* is defined by the board
 * manifest (boards/platform/boards/<board>.json, build.defines).
 *
 * Sources: QEMU 7.2 hw/arm/mps2.c and mps2-tz.c (confirmed with `info mtree`),
 * ARM AN386/AN500/AN505/AN547 application notes.
 */
#ifndef MCB_CMSDK_BOARD_H
#define MCB_CMSDK_BOARD_H

/* The CMSDK UARTs on all four images are clocked by the 25 MHz peripheral clock. */
#define CMSDK_UART_CLK_HZ 25000000u

#if defined(MCB_CMSDK_MPS2_AN386)
/* Cortex-M4F. QEMU mps2-an386: UART0 on -serial 0, SYSCLK 25 MHz. */
#define CMSDK_UART0_BASE 0x40004000u
#define CMSDK_CPU_HZ 25000000u
#elif defined(MCB_CMSDK_MPS2_AN500)
/* Cortex-M7. QEMU mps2-an500: same peripheral map and clock as AN386. */
#define CMSDK_UART0_BASE 0x40004000u
#define CMSDK_CPU_HZ 25000000u
#elif defined(MCB_CMSDK_MPS2_AN505)
/*
 * Cortex-M33 (SSE-200), boots Secure. UART0 at 0x40200000 (NS alias; the
 * Secure alias is 0x50200000). With the SAU off and ALLNS = 0 every address is
 * Secure, and the APB PPCs reset to Secure-only, so the NS alias works from
 * Secure state. QEMU mps2-an505: SYSCLK 20 MHz.
 */
#define CMSDK_UART0_BASE 0x40200000u
#define CMSDK_CPU_HZ 20000000u
#elif defined(MCB_CMSDK_MPS3_AN547)
/* Cortex-M55 (SSE-300), boots Secure. UART0 at 0x49303000; SYSCLK 32 MHz. */
#define CMSDK_UART0_BASE 0x49303000u
#define CMSDK_CPU_HZ 32000000u
#else
#error "cmsdk port: define one of MCB_CMSDK_MPS2_AN386, _AN500, _AN505, MCB_CMSDK_MPS3_AN547"
#endif

#define CMSDK_UART_BAUD 115200u

#endif
