/*
 * Port for the STM32F405/407/446 (Nucleo-F446RE, STM32F4-Discovery, QEMU
 * netduinoplus2): 16 MHz HSI, USART2 on PA2/PA3 with an interrupt-fed receive
 * ring, DWT cycle counter (SysTick where DWT is missing, i.e. on QEMU).
 * Register offsets: RM0090 (F405/F407) and RM0390 (F446), identical here.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cortex_m.h"
#include "mcb/port.h"
#include "mcb/protocol_defs.h"

#ifndef MCB_BOARD
#define MCB_BOARD "stm32f4"
#endif
#ifndef MCB_CORE
#define MCB_CORE "cortex-m4"
#endif

/* HSI, the reset clock of all three parts; AHB and APB1 prescalers stay at 1. */
#define STM32F4_HCLK_HZ 16000000u
#define STM32F4_PCLK1_HZ 16000000u
/*
 * QEMU's STM32F405 model has no RCC: SYSCLK is fixed at 168 MHz and SysTick's
 * processor clock with it (hw/arm/stm32f405_soc.c). Only used when DWT is
 * missing, which no STM32F4 silicon is.
 */
#define STM32F4_QEMU_SYSTICK_HZ 168000000u
#define UART_BAUD 115200u

/* Receive ring: at 115200 baud it covers ~89 ms of busy application. */
#ifndef STM32F4_RX_RING_BYTES
#define STM32F4_RX_RING_BYTES 1024u
#endif
_Static_assert((STM32F4_RX_RING_BYTES & (STM32F4_RX_RING_BYTES - 1u)) == 0u,
               "STM32F4_RX_RING_BYTES must be a power of two");

/* RCC, 0x40023800. */
#define RCC_AHB1ENR (*(volatile uint32_t *)0x40023830u)
#define RCC_APB1ENR (*(volatile uint32_t *)0x40023840u)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)

/* Flash interface: ART accelerator (0 wait states are right for 16 MHz). */
#define FLASH_ACR (*(volatile uint32_t *)0x40023C00u)
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)

typedef struct {
    volatile uint32_t MODER;
    volatile uint32_t OTYPER;
    volatile uint32_t OSPEEDR;
    volatile uint32_t PUPDR;
    volatile uint32_t IDR;
    volatile uint32_t ODR;
    volatile uint32_t BSRR;
    volatile uint32_t LCKR;
    volatile uint32_t AFR[2];
} stm32_gpio_regs;
#define GPIOA ((stm32_gpio_regs *)0x40020000u)

typedef struct {
    volatile uint32_t SR;
    volatile uint32_t DR;
    volatile uint32_t BRR;
    volatile uint32_t CR1;
    volatile uint32_t CR2;
    volatile uint32_t CR3;
    volatile uint32_t GTPR;
} stm32_usart_regs;
#define USART2 ((stm32_usart_regs *)0x40004400u)
#define USART2_IRQN 38u
#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NF (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE (1u << 13)

extern uint8_t __mcb_pool_start[];
extern uint8_t __mcb_pool_end[];

/*
 * Port-private state shared with the interrupt handlers, so file-static: the
 * handlers take no arguments, and exactly one port instance exists.
 * Ring: single producer (USART2_IRQHandler writes head), single consumer
 * (mcb_port_uart_read writes tail); free-running 32-bit indices, aligned
 * 32-bit accesses are atomic on Cortex-M. The bytes are volatile so the
 * compiler keeps "store byte, then publish head" in order.
 */
static volatile uint8_t s_rx_ring[STM32F4_RX_RING_BYTES];
static volatile uint32_t s_rx_head;
static volatile uint32_t s_rx_tail;
static volatile uint32_t s_rx_lost; /* overruns seen by the USART (debugger aid) */

static bool s_use_dwt;
static volatile uint32_t s_systick_wraps = 1u; /* see cm_systick_ticks */
static volatile uint32_t s_cyc_hi;             /* CYCCNT extended to 64 bits */
static volatile uint32_t s_cyc_last;

static mcb_port_info s_info;

void USART2_IRQHandler(void);

/* Call with interrupts off, or from the SysTick handler. */
static uint64_t dwt_extend(void)
{
    const uint32_t now = CM_DWT->CYCCNT;
    if (now < s_cyc_last) {
        s_cyc_hi = s_cyc_hi + 1u;
    }
    s_cyc_last = now;
    return ((uint64_t)s_cyc_hi << 32) | now;
}

/*
 * SysTick runs in both modes: with DWT it only has to see every CYCCNT wrap
 * (2^32 cycles, 268 s at 16 MHz); its period is 2^24 cycles.
 */
void SysTick_Handler(void)
{
    if (s_use_dwt) {
        (void)dwt_extend();
    } else {
        s_systick_wraps = s_systick_wraps + 1u;
    }
}

/*
 * When the ring is full the byte is left in DR and RXNEIE is turned off:
 * QEMU then stops taking bytes from the host (backpressure, nothing lost);
 * real silicon overruns, which loses the same byte dropping it would.
 * mcb_port_uart_read turns RXNEIE back on once there is room.
 */
void USART2_IRQHandler(void)
{
    stm32_usart_regs *const u = USART2;
    const uint32_t sr = u->SR;

    if ((sr & (USART_SR_RXNE | USART_SR_ORE)) == 0u) {
        return;
    }
    const uint32_t head = s_rx_head;
    if (head - s_rx_tail >= STM32F4_RX_RING_BYTES) {
        u->CR1 &= ~USART_CR1_RXNEIE;
        return;
    }
    if ((sr & USART_SR_ORE) != 0u) {
        s_rx_lost = s_rx_lost + 1u;
    }
    /* Reading SR then DR clears RXNE, ORE, NF, FE and PE (RM0090, USART_SR). */
    s_rx_ring[head & (STM32F4_RX_RING_BYTES - 1u)] = (uint8_t)u->DR;
    s_rx_head = head + 1u;
}

static void clocks_and_pins_init(void)
{
    FLASH_ACR |= FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;

    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB1ENR |= RCC_APB1ENR_USART2EN;
    /* ST errata "delay after an RCC peripheral clock enabling": read it back. */
    (void)RCC_APB1ENR;
    cm_dsb_isb();

    /* PA2 = USART2_TX, PA3 = USART2_RX: alternate function 7, RX pulled up. */
    stm32_gpio_regs *const a = GPIOA;
    a->MODER = (a->MODER & ~(0xFu << 4)) | (0xAu << 4);     /* 10 = AF */
    a->OSPEEDR = (a->OSPEEDR & ~(0xFu << 4)) | (0x5u << 4); /* medium */
    a->PUPDR = (a->PUPDR & ~(0xFu << 4)) | (0x4u << 4);     /* PA3 pull-up */
    a->AFR[0] = (a->AFR[0] & ~(0xFFu << 8)) | (0x77u << 8);
}

static void usart2_init(void)
{
    stm32_usart_regs *const u = USART2;

    u->CR1 = 0u;
    /* Oversampling by 16: BRR = PCLK1 / baud, rounded (139 -> 115108 baud, +0.08 %). */
    u->BRR = (STM32F4_PCLK1_HZ + UART_BAUD / 2u) / UART_BAUD;
    u->CR2 = 0u; /* 1 stop bit */
    u->CR3 = 0u; /* no flow control */
    s_rx_head = 0u;
    s_rx_tail = 0u;
    u->CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE;

    CM_NVIC_IPR(USART2_IRQN) = 0x00u; /* highest: must not wait behind SysTick */
    CM_NVIC_ISER(USART2_IRQN / 32u) = 1u << (USART2_IRQN % 32u);
}

/* True if the DWT cycle counter exists and runs (QEMU has no DWT: reads 0). */
static bool dwt_start(void)
{
    CM_DEMCR |= CM_DEMCR_TRCENA;
    CM_DWT_LAR = CM_DWT_LAR_UNLOCK; /* needed on a Cortex-M7, ignored on the M4 */
    if ((CM_DWT->CTRL & CM_DWT_CTRL_NOCYCCNT) != 0u) {
        return false;
    }
    CM_DWT->CYCCNT = 0u;
    CM_DWT->CTRL |= CM_DWT_CTRL_CYCCNTENA;
    const uint32_t c0 = CM_DWT->CYCCNT;
    for (volatile uint32_t i = 0; i < 16u; i++) {
    }
    return CM_DWT->CYCCNT != c0;
}

mcb_status mcb_port_init(void)
{
    clocks_and_pins_init();
    usart2_init();

    s_use_dwt = dwt_start();
    s_cyc_hi = 0u;
    s_cyc_last = s_use_dwt ? CM_DWT->CYCCNT : 0u;
    cm_systick_start();

    s_info.board = MCB_BOARD;
    s_info.core = MCB_CORE;
    s_info.clock_hz = STM32F4_HCLK_HZ;
    s_info.counter_source = s_use_dwt ? MCB_COUNTER_DWT_CYCCNT : MCB_COUNTER_SYSTICK;
    s_info.counter_hz = s_use_dwt ? STM32F4_HCLK_HZ : STM32F4_QEMU_SYSTICK_HZ;
    s_info.pool = __mcb_pool_start;
    s_info.pool_bytes = (uint32_t)(__mcb_pool_end - __mcb_pool_start);
    s_info.rx_buffer_bytes = STM32F4_RX_RING_BYTES;
    return MCB_OK;
}

const mcb_port_info *mcb_port_get_info(void)
{
    return &s_info;
}

size_t mcb_port_uart_read(uint8_t *buf, size_t cap)
{
    if (buf == NULL) {
        return 0;
    }
    const uint32_t head = s_rx_head;
    uint32_t tail = s_rx_tail;
    size_t n = 0;
    while (n < cap && tail != head) {
        buf[n++] = s_rx_ring[tail & (STM32F4_RX_RING_BYTES - 1u)];
        tail++;
    }
    s_rx_tail = tail;

    if (n != 0u && (USART2->CR1 & USART_CR1_RXNEIE) == 0u) {
        const uint32_t primask = cm_irq_save();
        USART2->CR1 |= USART_CR1_RXNEIE;
        cm_irq_restore(primask);
    }
    return n;
}

mcb_status mcb_port_uart_write(const uint8_t *buf, size_t len)
{
    stm32_usart_regs *const u = USART2;

    if (buf == NULL && len != 0u) {
        return MCB_ERR_ARG;
    }
    if ((u->CR1 & USART_CR1_TE) == 0u) {
        return MCB_ERR_STATE; /* mcb_port_init not called */
    }
    for (size_t i = 0; i < len; i++) {
        while ((u->SR & USART_SR_TXE) == 0u) {
        }
        u->DR = buf[i];
    }
    return MCB_OK;
}

void mcb_port_idle(void)
{
    /* Polling the UART is all there is to do: no sleep, nothing is missed. */
}

uint64_t mcb_port_counter_read(void)
{
    if (!s_use_dwt) {
        return cm_systick_ticks(&s_systick_wraps);
    }
    const uint32_t primask = cm_irq_save();
    const uint64_t t = dwt_extend();
    cm_irq_restore(primask);
    return t;
}

void cm_fault_putc(uint8_t c)
{
    stm32_usart_regs *const u = USART2;

    if ((u->CR1 & USART_CR1_TE) == 0u) {
        return;
    }
    for (uint32_t spin = 0; spin < 1000000u; spin++) {
        if ((u->SR & USART_SR_TXE) != 0u) {
            u->DR = c;
            return;
        }
    }
}
