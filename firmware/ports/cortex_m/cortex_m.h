/*
 * Shared by the Cortex-M ports (cmsdk, stm32f4): core registers (ARMv7-M /
 * ARMv8-M Architecture Reference Manuals, "System Control Space"), a small
 * CMSIS-like subset so no port needs vendor headers, and the interface between
 * cortex_m.c (reset, fault report) and each port's startup.c (vector table)
 * and port.c. A board manifest pulls this folder in with
 * "port_libs": ["cortex_m"].
 */
#ifndef MCB_PORT_CORTEX_M_H
#define MCB_PORT_CORTEX_M_H

#include <stdint.h>

/* SysTick, 0xE000E010. */
typedef struct {
    volatile uint32_t CTRL;
    volatile uint32_t LOAD;
    volatile uint32_t VAL;
    volatile const uint32_t CALIB;
} cm_systick_regs;
#define CM_SYSTICK ((cm_systick_regs *)0xE000E010u)
#define CM_SYSTICK_CTRL_ENABLE (1u << 0)
#define CM_SYSTICK_CTRL_TICKINT (1u << 1)
#define CM_SYSTICK_CTRL_CLKSOURCE (1u << 2) /* 1 = processor clock */
#define CM_SYSTICK_MAX 0x00FFFFFFu         /* 24-bit down counter */

/* DWT, 0xE0001000 (not modelled by QEMU: its PPB default region reads as 0). */
typedef struct {
    volatile uint32_t CTRL;
    volatile uint32_t CYCCNT;
} cm_dwt_regs;
#define CM_DWT ((cm_dwt_regs *)0xE0001000u)
#define CM_DWT_CTRL_CYCCNTENA (1u << 0)
#define CM_DWT_CTRL_NOCYCCNT (1u << 25)
#define CM_DWT_LAR (*(volatile uint32_t *)0xE0001FB0u) /* Cortex-M7 lock */
#define CM_DWT_LAR_UNLOCK 0xC5ACCE55u

/* System Control Block. */
#define CM_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define CM_ICSR_PENDSTSET (1u << 26)
#define CM_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define CM_SHPR3 (*(volatile uint32_t *)0xE000ED20u) /* [31:24] SysTick priority */
#define CM_CFSR (*(volatile const uint32_t *)0xE000ED28u)
#define CM_HFSR (*(volatile const uint32_t *)0xE000ED2Cu)
#define CM_MMFAR (*(volatile const uint32_t *)0xE000ED34u)
#define CM_BFAR (*(volatile const uint32_t *)0xE000ED38u)
#define CM_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define CM_CPACR_CP10_CP11_FULL (0xFu << 20) /* FPU and, on v8.1-M, MVE */
#define CM_DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define CM_DEMCR_TRCENA (1u << 24)

/* NVIC: set-enable and byte-wide priority registers. */
#define CM_NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100u + 4u * (uint32_t)(n)))
#define CM_NVIC_IPR(irq) (*(volatile uint8_t *)(0xE000E400u + (uint32_t)(irq)))

static inline uint32_t cm_irq_save(void)
{
    uint32_t primask;
    __asm volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
    return primask;
}

static inline void cm_irq_restore(uint32_t primask)
{
    __asm volatile("msr primask, %0" : : "r"(primask) : "memory");
}

static inline void cm_dsb_isb(void)
{
    __asm volatile("dsb 0xF\n\tisb 0xF" : : : "memory");
}

static inline void cm_wfi(void)
{
    __asm volatile("wfi" : : : "memory");
}

/*
 * Ticks of a SysTick running with LOAD = CM_SYSTICK_MAX, extended to 64 bits
 * by *wraps, which the SysTick handler increments when the counter reaches 0.
 *
 * Race handling (interrupts off, so the handler cannot run in between):
 * the counter pends SysTick when it reaches 0 and reloads on the next tick.
 * - PENDSTSET set: a zero was reached that *wraps does not count yet. Re-read
 *   VAL: non-zero means it has reloaded (count the wrap), zero means we are
 *   on the last tick of the old period.
 * - PENDSTSET clear and VAL == 0: the handler already counted this zero but
 *   the reload has not happened yet; that tick belongs to the old period.
 * With *wraps starting at 1, the value never underflows.
 */
static inline uint64_t cm_systick_ticks(volatile const uint32_t *wraps)
{
    const uint32_t primask = cm_irq_save();
    uint64_t w = *wraps;
    uint32_t v = CM_SYSTICK->VAL;
    if (CM_ICSR & CM_ICSR_PENDSTSET) {
        const uint32_t v2 = CM_SYSTICK->VAL;
        if (v2 != 0u) {
            w += 1u;
            v = v2;
        } else {
            v = 0u;
        }
    } else if (v == 0u) {
        w -= 1u;
    }
    cm_irq_restore(primask);
    return (w << 24) + (uint64_t)(CM_SYSTICK_MAX - v);
}

/* SysTick at the processor clock, full 24-bit period, lowest priority, running. */
static inline void cm_systick_start(void)
{
    CM_SYSTICK->CTRL = 0u;
    CM_SYSTICK->LOAD = CM_SYSTICK_MAX;
    CM_SYSTICK->VAL = 0u; /* any write clears it; reloads on the first tick */
    CM_SHPR3 |= 0xFFu << 24; /* unimplemented low bits read as 0 */
    CM_SYSTICK->CTRL =
        CM_SYSTICK_CTRL_CLKSOURCE | CM_SYSTICK_CTRL_TICKINT | CM_SYSTICK_CTRL_ENABLE;
}

/*
 * Vector table. Each port defines cm_vectors in its startup.c, in section
 * ".vectors" (which its linker script places first in the code region, so
 * VTOR's alignment holds): CM_CORE_VECTORS, then its external interrupts.
 * cm_reset_c points VTOR at it.
 */
typedef union {
    void (*handler)(void);
    void *stack_top;
} cm_vector;

extern const cm_vector cm_vectors[];
extern uint32_t __StackTop[];   /* linker script: initial main stack pointer */
extern uint32_t __StackLimit[]; /* linker script: MSPLIM on ARMv8-M */

/* cortex_m.c. The system handlers are weak aliases of Default_Handler. */
void Reset_Handler(void);
void Default_Handler(void);
void NMI_Handler(void);
void HardFault_Handler(void);
void MemManage_Handler(void);
void BusFault_Handler(void);
void UsageFault_Handler(void);
void SecureFault_Handler(void);
void SVC_Handler(void);
void DebugMon_Handler(void);
void PendSV_Handler(void);
/* port.c: counts SysTick wraps (cm_systick_ticks). */
void SysTick_Handler(void);

/* Entries 0..15: initial SP, reset and the system exceptions, on every port. */
#define CM_CORE_VECTORS                                                      \
    [0] = {.stack_top = __StackTop},                                         \
    [1] = {.handler = Reset_Handler},                                        \
    [2] = {.handler = NMI_Handler},                                          \
    [3] = {.handler = HardFault_Handler},                                    \
    [4] = {.handler = MemManage_Handler},                                    \
    [5] = {.handler = BusFault_Handler},                                     \
    [6] = {.handler = UsageFault_Handler},                                   \
    [7] = {.handler = SecureFault_Handler}, /* ARMv8-M; reserved on v7-M */  \
    [11] = {.handler = SVC_Handler},                                         \
    [12] = {.handler = DebugMon_Handler},                                    \
    [14] = {.handler = PendSV_Handler},                                      \
    [15] = {.handler = SysTick_Handler}

/* Unused external interrupts, for the tables' positional IRQ entries. */
#define CM_DH {.handler = Default_Handler}
#define CM_DH2 CM_DH, CM_DH
#define CM_DH4 CM_DH2, CM_DH2
#define CM_DH8 CM_DH4, CM_DH4
#define CM_DH16 CM_DH8, CM_DH8
#define CM_DH32 CM_DH16, CM_DH16

/*
 * Provided by each port.c for cortex_m.c's fault report: one byte to the UART
 * without interrupts, bounded wait, usable before mcb_port_init (then it may
 * simply drop the byte).
 */
void cm_fault_putc(uint8_t c);

#endif
