/*
 * The port API: everything the portable firmware needs from a platform. One
 * implementation per folder in firmware/ports/; exactly one is linked.
 */
#ifndef MCB_PORT_H
#define MCB_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "mcb/status.h"

typedef struct {
    const char *board;       /* e.g. "qemu-m4" (MCB_BOARD from the build) */
    const char *core;        /* e.g. "cortex-m4" */
    uint32_t clock_hz;       /* core clock as configured by mcb_port_init */
    uint8_t counter_source;  /* enum mcb_counter_source */
    uint32_t counter_hz;     /* counter ticks per second of device time */
    uint8_t *pool;           /* RAM free for models and arena */
    uint32_t pool_bytes;
    uint32_t rx_buffer_bytes; /* bytes the UART side absorbs while the app is busy */
} mcb_port_info;

/* Clocks, UART, counter. Called once, first thing in main(). */
mcb_status mcb_port_init(void);

/* Fixed facts about this port; valid after mcb_port_init. */
const mcb_port_info *mcb_port_get_info(void);

/* Copies up to cap received bytes into buf without blocking; returns how many. */
size_t mcb_port_uart_read(uint8_t *buf, size_t cap);

/*
 * Nothing to do until a byte arrives: a port may wait here briefly (the native
 * build sleeps in poll() for up to 10 ms); an MCU port returns at once. Not
 * called while the app has work of its own (a log running).
 */
void mcb_port_idle(void);

/* Sends len bytes, blocking until all are handed to the UART. */
mcb_status mcb_port_uart_write(const uint8_t *buf, size_t len);

/* Free-running 64-bit counter (source and rate in mcb_port_info). */
uint64_t mcb_port_counter_read(void);

#endif
