/*
 * Firmware main loop: bytes from the UART into the protocol, responses back.
 * Nothing here can fail for good: bad input becomes ERROR responses, and a
 * failed write is the host's problem to notice (it times out and retries).
 */
#include <stddef.h>
#include <stdint.h>

#include "mcb/embedded_model.h"
#include "mcb/infer_service.h"
#include "mcb/port.h"
#include "mcb/proto.h"

#ifdef MCB_EMBEDDED_MODEL
#define EMBEDDED_MODEL mcb_embedded_model
#define EMBEDDED_MODEL_BYTES mcb_embedded_model_bytes
#else
#define EMBEDDED_MODEL NULL
#define EMBEDDED_MODEL_BYTES 0u
#endif

/*
 * Counter ticks to microseconds. ticks * 1e6 would overflow 64 bits after
 * 1.8e13 ticks (5 hours at 1 GHz), so whole seconds and the remainder are
 * scaled separately; the remainder is < hz <= 2^32, so rem * 1e6 < 2^52.
 */
static uint64_t ticks_to_us(uint64_t ticks, uint32_t hz)
{
    if (hz == 0) {
        return ticks; /* rate unknown: take ticks as microseconds */
    }
    return (ticks / hz) * 1000000u + (ticks % hz) * 1000000u / hz;
}

static mcb_status uart_out(void *user, const uint8_t *buf, size_t len)
{
    (void)user;
    return mcb_port_uart_write(buf, len);
}

int main(void)
{
    /* Static, not on the stack: they hold a MCB_MAX_PAYLOAD buffer and the interpreter. */
    static mcb_proto proto;
    static mcb_infer_service inference;
    mcb_proto_service service;

    /* A port that failed to init still gets to try: there is no one to tell. */
    (void)mcb_port_init();
    const mcb_port_info *info = mcb_port_get_info();
    if (info == NULL || mcb_proto_init(&proto, info, uart_out, NULL) != MCB_OK ||
        mcb_infer_service_init(&inference, mcb_kernels_reference(), mcb_port_counter_read,
                               proto.pool, proto.pool_bytes, EMBEDDED_MODEL,
                               EMBEDDED_MODEL_BYTES, &service) != MCB_OK) {
        for (;;) {
        }
    }
    mcb_proto_set_service(&proto, &service);

    for (;;) {
        uint8_t buf[256];
        const size_t n = mcb_port_uart_read(buf, sizeof buf);
        const uint64_t now_us = ticks_to_us(mcb_port_counter_read(), info->counter_hz);
        /* n == 0 is the idle poll that lets a stalled frame time out. */
        (void)mcb_proto_feed(&proto, buf, n, now_us);
        /* Logging: at most one inference, so requests are answered between them. */
        (void)mcb_infer_service_poll(&inference);
        if (n == 0 && !mcb_infer_service_busy(&inference)) {
            mcb_port_idle();
        }
    }
}
