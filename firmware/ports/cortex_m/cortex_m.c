/*
 * Reset and fault handling shared by the Cortex-M ports (ARMv7-M and ARMv8-M
 * mainline). The port supplies the vector table (cm_vectors, startup.c) and
 * cm_fault_putc (port.c); the linker script supplies the symbols below.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cortex_m.h"

/* Linker script symbols. */
extern uint8_t __data_start[];
extern uint8_t __data_end[];
extern const uint8_t __data_source[];
extern uint8_t __bss_start[];
extern uint8_t __bss_end[];
extern uint8_t __tls_base[];
extern void (*const __init_array_start[])(void);
extern void (*const __init_array_end[])(void);

int main(void);
void _set_tls(void *tls); /* picolibc: errno and friends are thread-local */

void cm_reset_c(void);
void cm_fault_report(uint32_t exc_return, uint32_t pc, uint32_t lr);

/*
 * Everything but reset and SysTick ends in Default_Handler unless a port
 * defines the handler. Weak aliases must live next to their target, so here.
 */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));

/*
 * The stack pointer is set explicitly (a debugger or boot loader may jump here
 * with another one). On ARMv8-M, MSPLIM makes a stack overflow fault instead
 * of running into the pool.
 */
__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    __asm volatile(
        "ldr r0, =__StackTop\n\t"
        "msr msp, r0\n\t"
#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
        "ldr r0, =__StackLimit\n\t"
        "msr msplim, r0\n\t"
#endif
        "b cm_reset_c\n\t"
        ".ltorg");
}

__attribute__((noreturn, used)) void cm_reset_c(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /*
     * CP10/CP11 full access: the FPU and, on the Cortex-M55, MVE (Helium).
     * Before any floating-point instruction, so first.
     */
    CM_CPACR |= CM_CPACR_CP10_CP11_FULL;
    cm_dsb_isb();
#endif
    CM_VTOR = (uint32_t)(uintptr_t)cm_vectors;

    memcpy(__data_start, __data_source, (size_t)(__data_end - __data_start));
    memset(__bss_start, 0, (size_t)(__bss_end - __bss_start));
    _set_tls(__tls_base); /* the static TLS block is .tdata + .tbss above */

    for (void (*const *f)(void) = __init_array_start; f < __init_array_end; f++) {
        (*f)();
    }

    (void)main();
    for (;;) {
        cm_wfi();
    }
}

/*
 * Any unexpected exception: report it on the UART as one ASCII line (the
 * host's frame parser skips it as garbage, and it shows up in logs), then
 * sleep forever so the host times out instead of the core spinning.
 * The stacked PC and LR are read first, then MSP is reset to the top of the
 * stack (we never return), so even a stack overflow can be reported.
 */
__attribute__((naked)) void Default_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r3, msp\n\t"
        "mrsne r3, psp\n\t"
        "mov r0, lr\n\t"
        "ldr r1, [r3, #24]\n\t"
        "ldr r2, [r3, #20]\n\t"
        "ldr r3, =__StackTop\n\t"
        "msr msp, r3\n\t"
        "b cm_fault_report\n\t"
        ".ltorg");
}

static void put_str(const char *s)
{
    while (*s != '\0') {
        cm_fault_putc((uint8_t)*s++);
    }
}

static void put_hex(const char *label, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    put_str(label);
    for (int shift = 28; shift >= 0; shift -= 4) {
        cm_fault_putc((uint8_t)digits[(v >> shift) & 0xFu]);
    }
}

__attribute__((noreturn, used)) void cm_fault_report(uint32_t exc_return, uint32_t pc,
                                                     uint32_t lr)
{
    uint32_t ipsr;
    __asm volatile("cpsid i\n\tmrs %0, ipsr" : "=r"(ipsr) : : "memory");
    CM_SYSTICK->CTRL = 0u; /* nothing left to wake us */

    put_str("\r\n!! MCB FAULT");
    put_hex(" exc=", ipsr & 0x1FFu);
    put_hex(" pc=", pc);
    put_hex(" lr=", lr);
    put_hex(" excret=", exc_return);
    put_hex(" cfsr=", CM_CFSR);
    put_hex(" hfsr=", CM_HFSR);
    put_hex(" mmfar=", CM_MMFAR);
    put_hex(" bfar=", CM_BFAR);
    put_str("\r\n");
    for (;;) {
        cm_wfi();
    }
}
