/*
 * Reset and exception vectors for the MPS2/MPS3 images (ARMv7-M and ARMv8-M
 * mainline). Section and symbol names match the linker scripts in this folder.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cortex_m.h"

/* External interrupts in the table: enough for the AN505/AN547 maps (none is enabled). */
#define CM_IRQ_COUNT 96

/* Linker script symbols. */
extern uint32_t __StackTop[];
extern uint32_t __StackLimit[];
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

void Reset_Handler(void);
void cm_reset_c(void);
void cm_fault_report(uint32_t exc_return, uint32_t pc, uint32_t lr);
void Default_Handler(void);

/* Everything but reset and SysTick ends in Default_Handler unless overridden. */
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SecureFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void); /* port.c: counter wraps */

typedef union {
    void (*handler)(void);
    void *stack_top;
} cm_vector;

#define CM_VECTOR_COUNT (16 + CM_IRQ_COUNT)
#define CM_DH {.handler = Default_Handler}
#define CM_DH8 CM_DH, CM_DH, CM_DH, CM_DH, CM_DH, CM_DH, CM_DH, CM_DH
#define CM_DH32 CM_DH8, CM_DH8, CM_DH8, CM_DH8

/* Own section, first in the code region: VTOR needs 512-byte alignment here. */
__attribute__((section(".vectors"), used)) static const cm_vector s_vectors[] = {
    [0] = {.stack_top = __StackTop},
    [1] = {.handler = Reset_Handler},
    [2] = {.handler = NMI_Handler},
    [3] = {.handler = HardFault_Handler},
    [4] = {.handler = MemManage_Handler},
    [5] = {.handler = BusFault_Handler},
    [6] = {.handler = UsageFault_Handler},
    [7] = {.handler = SecureFault_Handler}, /* ARMv8-M; reserved on v7-M */
    [11] = {.handler = SVC_Handler},
    [12] = {.handler = DebugMon_Handler},
    [14] = {.handler = PendSV_Handler},
    [15] = {.handler = SysTick_Handler},
    CM_DH32, CM_DH32, CM_DH32, /* IRQ 0..95 */
};
_Static_assert(sizeof s_vectors / sizeof s_vectors[0] == CM_VECTOR_COUNT, "recount the CM_DH list");

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
    CM_VTOR = (uint32_t)(uintptr_t)s_vectors;

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
