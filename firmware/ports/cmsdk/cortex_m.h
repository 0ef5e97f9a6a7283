/*
 * Cortex-M core registers used by this port (ARMv7-M / ARMv8-M Architecture
 * Reference Manuals, "System Control Space"). A small CMSIS-like subset so the
 * port needs no vendor headers. This file is kept identical in
 * firmware/ports/cmsdk/ and firmware/ports/stm32f4/ (one port folder is
 * compiled at a time, so neither can include the other's).
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
 * Port-private hooks shared by startup.c and port.c.
 * cm_fault_putc: one byte to the UART without interrupts, bounded wait, usable
 * before mcb_port_init (then it may simply drop the byte).
 */
void cm_fault_putc(uint8_t c);

#endif
