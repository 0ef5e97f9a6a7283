/*
 * Port for the ARM MPS2/MPS3 FPGA images emulated by QEMU (qemu-m4, qemu-m7,
 * qemu-m33, qemu-m55): CMSDK APB UART0, SysTick-based 64-bit counter.
 */
#include <stddef.h>
#include <stdint.h>

#include "cmsdk_board.h"
#include "cortex_m.h"
#include "mcb/port.h"
#include "mcb/protocol_defs.h"

#ifndef MCB_BOARD
#define MCB_BOARD "cmsdk"
#endif
#ifndef MCB_CORE
#define MCB_CORE "cortex-m"
#endif

/* CMSDK APB UART (ARM DDI 0479, "APB UART"). */
typedef struct {
    volatile uint32_t DATA;
    volatile uint32_t STATE;
    volatile uint32_t CTRL;
    volatile uint32_t INTSTATUS; /* write: INTCLEAR */
    volatile uint32_t BAUDDIV;
} cmsdk_uart_regs;

#define CMSDK_UART ((cmsdk_uart_regs *)CMSDK_UART0_BASE)
#define UART_STATE_TXFULL (1u << 0)
#define UART_STATE_RXFULL (1u << 1)
#define UART_STATE_TXOVR (1u << 2)
#define UART_STATE_RXOVR (1u << 3)
#define UART_CTRL_TXEN (1u << 0)
#define UART_CTRL_RXEN (1u << 1)

/* Free RAM between .bss and the stack (linker script). */
extern uint8_t __mcb_pool_start[];
extern uint8_t __mcb_pool_end[];

/* SysTick zero crossings; starts at 1 so cm_systick_ticks never underflows. */
static volatile uint32_t s_systick_wraps = 1u;

static mcb_port_info s_info;

void SysTick_Handler(void)
{
    s_systick_wraps = s_systick_wraps + 1u;
}

mcb_status mcb_port_init(void)
{
    cmsdk_uart_regs *const uart = CMSDK_UART;

    /*
     * BAUDDIV: QEMU ignores it, the FPGA images divide the 25 MHz peripheral
     * clock by it (minimum 16).
     */
    uart->CTRL = 0u;
    uart->BAUDDIV = CMSDK_UART_CLK_HZ / CMSDK_UART_BAUD;
    uart->STATE = UART_STATE_TXOVR | UART_STATE_RXOVR; /* write 1 to clear */
    uart->CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;

    cm_systick_start();

    s_info.board = MCB_BOARD;
    s_info.core = MCB_CORE;
    s_info.clock_hz = CMSDK_CPU_HZ;
    s_info.counter_source = MCB_COUNTER_SYSTICK;
    s_info.counter_hz = CMSDK_CPU_HZ; /* CLKSOURCE = processor clock */
    s_info.pool = __mcb_pool_start;
    s_info.pool_bytes = (uint32_t)(__mcb_pool_end - __mcb_pool_start);
    /*
     * The CMSDK UART holds one received byte (no FIFO). On QEMU nothing is lost
     * anyway: the UART model only takes a byte from the chardev when RXFULL is
     * clear, so the socket applies backpressure to the host.
     */
    s_info.rx_buffer_bytes = 1u;
    return MCB_OK;
}

const mcb_port_info *mcb_port_get_info(void)
{
    return &s_info;
}

size_t mcb_port_uart_read(uint8_t *buf, size_t cap)
{
    cmsdk_uart_regs *const uart = CMSDK_UART;
    size_t n = 0;

    if (buf == NULL) {
        return 0;
    }
    while (n < cap && (uart->STATE & UART_STATE_RXFULL) != 0u) {
        buf[n++] = (uint8_t)uart->DATA;
    }
    return n;
}

mcb_status mcb_port_uart_write(const uint8_t *buf, size_t len)
{
    cmsdk_uart_regs *const uart = CMSDK_UART;

    if (buf == NULL && len != 0u) {
        return MCB_ERR_ARG;
    }
    if ((uart->CTRL & UART_CTRL_TXEN) == 0u) {
        return MCB_ERR_STATE; /* mcb_port_init not called */
    }
    for (size_t i = 0; i < len; i++) {
        while ((uart->STATE & UART_STATE_TXFULL) != 0u) {
        }
        uart->DATA = buf[i];
    }
    return MCB_OK;
}

void mcb_port_idle(void)
{
    /* Polling the UART is all there is to do: no sleep, nothing is missed. */
}

uint64_t mcb_port_counter_read(void)
{
    return cm_systick_ticks(&s_systick_wraps);
}

void cm_fault_putc(uint8_t c)
{
    cmsdk_uart_regs *const uart = CMSDK_UART;

    if ((uart->CTRL & UART_CTRL_TXEN) == 0u) {
        return;
    }
    /* ~87 us per byte at 115200 baud; give up long after that. */
    for (uint32_t spin = 0; spin < 1000000u; spin++) {
        if ((uart->STATE & UART_STATE_TXFULL) == 0u) {
            uart->DATA = c;
            return;
        }
    }
}
