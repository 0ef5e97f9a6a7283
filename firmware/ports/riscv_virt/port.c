/*
 * Port for QEMU `virt` (riscv32, -bios none): NS16550A UART0, minstret counter.
 */
#include <stddef.h>
#include <stdint.h>

#include "mcb/port.h"
#include "mcb/protocol_defs.h"

#ifndef MCB_BOARD
#define MCB_BOARD "qemu-rv32"
#endif
#ifndef MCB_CORE
#define MCB_CORE "rv32imc"
#endif

/*
 * NS16550A at 0x10000000, byte registers one byte apart (QEMU hw/riscv/virt.c:
 * serial_mm_init with regshift 0, 3.6864 MHz input clock, -serial 0).
 */
typedef struct {
    volatile uint8_t RBR_THR_DLL; /* 0: RX / TX; divisor low with LCR.DLAB */
    volatile uint8_t IER_DLM;     /* 1: interrupt enable; divisor high with DLAB */
    volatile uint8_t IIR_FCR;     /* 2: read IIR, write FCR */
    volatile uint8_t LCR;         /* 3 */
    volatile uint8_t MCR;         /* 4 */
    volatile uint8_t LSR;         /* 5 */
    volatile uint8_t MSR;         /* 6 */
    volatile uint8_t SCR;         /* 7 */
} ns16550_regs;

#define UART0 ((ns16550_regs *)0x10000000u)
#define UART_CLK_HZ 3686400u
#define UART_BAUD 115200u
#define UART_FIFO_BYTES 16u
#define LCR_8N1 0x03u
#define LCR_DLAB 0x80u
/* FIFO on, both cleared, RX trigger at 14 bytes. QEMU then offers up to 14
 * bytes per chardev read instead of 1, which is much faster. */
#define FCR_SETUP 0xC7u
#define MCR_DTR_RTS 0x03u
#define LSR_DR 0x01u
#define LSR_THRE 0x20u

/* Free RAM between .bss and the stack (virt.ld). */
extern uint8_t __mcb_pool_start[];
extern uint8_t __mcb_pool_end[];

static mcb_port_info s_info;

void riscv_trap_report(uint32_t mcause, uint32_t mepc, uint32_t mtval);

mcb_status mcb_port_init(void)
{
    ns16550_regs *const u = UART0;
    const uint32_t div = (UART_CLK_HZ + 8u * UART_BAUD) / (16u * UART_BAUD);

    u->IER_DLM = 0u; /* polled */
    u->LCR = LCR_DLAB;
    u->RBR_THR_DLL = (uint8_t)(div & 0xFFu);
    u->IER_DLM = (uint8_t)(div >> 8);
    u->LCR = LCR_8N1;
    u->IIR_FCR = FCR_SETUP;
    u->MCR = MCR_DTR_RTS;

    s_info.board = MCB_BOARD;
    s_info.core = MCB_CORE;
    s_info.clock_hz = 0u; /* QEMU models no core clock */
    s_info.counter_source = MCB_COUNTER_MINSTRET;
    /*
     * minstret counts retired instructions, which is what results report.
     * Its rate in device time is still needed (the protocol's 100 ms frame
     * timeout): QEMU 7.2 reads minstret from the virtual clock in ns
     * (target/riscv/csr.c get_ticks: icount_get()), and with -icount shift=0
     * one instruction is one ns, so minstret is exactly a 1 GHz clock of
     * virtual time (plus any time spent in wfi, which this firmware does not
     * execute while running). 0 here ("not a clock") would make main.c take
     * ticks as microseconds: a 100 ms timeout of 100,000 instructions, which
     * breaks uploads (measured: FRAME_TIMEOUT on the first WRITE_DATA).
     */
    s_info.counter_hz = 1000000000u;
    s_info.pool = __mcb_pool_start;
    s_info.pool_bytes = (uint32_t)(__mcb_pool_end - __mcb_pool_start);
    /* The 16-byte receive FIFO; QEMU applies backpressure beyond it. */
    s_info.rx_buffer_bytes = UART_FIFO_BYTES;
    return MCB_OK;
}

const mcb_port_info *mcb_port_get_info(void)
{
    return &s_info;
}

size_t mcb_port_uart_read(uint8_t *buf, size_t cap)
{
    ns16550_regs *const u = UART0;
    size_t n = 0;

    if (buf == NULL) {
        return 0;
    }
    while (n < cap && (u->LSR & LSR_DR) != 0u) {
        buf[n++] = u->RBR_THR_DLL;
    }
    return n;
}

mcb_status mcb_port_uart_write(const uint8_t *buf, size_t len)
{
    ns16550_regs *const u = UART0;

    if (buf == NULL && len != 0u) {
        return MCB_ERR_ARG;
    }
    if (u->LCR != LCR_8N1) {
        return MCB_ERR_STATE; /* mcb_port_init not called */
    }
    size_t i = 0;
    while (i < len) {
        while ((u->LSR & LSR_THRE) == 0u) {
        }
        /* THRE with the FIFO on: the whole transmit FIFO is free. */
        for (uint32_t k = 0; k < UART_FIFO_BYTES && i < len; k++) {
            u->RBR_THR_DLL = buf[i++];
        }
    }
    return MCB_OK;
}

void mcb_port_idle(void)
{
    /* Polling the UART is all there is to do: no sleep, nothing is missed. */
}

uint64_t mcb_port_counter_read(void)
{
    uint32_t hi;
    uint32_t lo;
    uint32_t hi2;
    /* minstreth changes when minstret wraps: read until it did not. */
    do {
        __asm volatile(".option push\n\t"
                       ".option arch, +zicsr\n\t"
                       "csrr %0, minstreth\n\t"
                       "csrr %1, minstret\n\t"
                       "csrr %2, minstreth\n\t"
                       ".option pop"
                       : "=r"(hi), "=r"(lo), "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

static void putc_raw(uint8_t c)
{
    ns16550_regs *const u = UART0;
    for (uint32_t spin = 0; spin < 1000000u; spin++) {
        if ((u->LSR & LSR_THRE) != 0u) {
            u->RBR_THR_DLL = c;
            return;
        }
    }
}

static void put_hex(const char *label, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    while (*label != '\0') {
        putc_raw((uint8_t)*label++);
    }
    for (int shift = 28; shift >= 0; shift -= 4) {
        putc_raw((uint8_t)digits[(v >> shift) & 0xFu]);
    }
}

/*
 * Called by start.S for any trap: one ASCII line on the UART (the host's frame
 * parser skips it as garbage, logs show it), then the hart parks in wfi.
 */
void riscv_trap_report(uint32_t mcause, uint32_t mepc, uint32_t mtval)
{
    put_hex("\r\n!! MCB FAULT mcause=", mcause);
    put_hex(" mepc=", mepc);
    put_hex(" mtval=", mtval);
    putc_raw('\r');
    putc_raw('\n');
}
