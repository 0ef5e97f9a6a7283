/*
 * MLPerf Tiny mode (mcubench build --app mlperf-tiny --model M): the firmware
 * speaks the EEMBC / MLPerf Tiny benchmark UART protocol instead of
 * mcubench's framed one, so the official runner can drive the board. This
 * file only connects the port to the session (ee_session.h); see
 * docs/mlperf_tiny.md for the commands and replies.
 */
#include <stddef.h>
#include <stdint.h>

#include "ee_session.h"
#include "mcb/embedded_model.h"
#include "mcb/kernel.h"
#include "mcb/port.h"

#ifdef MCB_EMBEDDED_MODEL
#define EMBEDDED_MODEL mcb_embedded_model
#define EMBEDDED_MODEL_BYTES mcb_embedded_model_bytes
#else
#define EMBEDDED_MODEL NULL
#define EMBEDDED_MODEL_BYTES 0u
#endif

static mcb_status uart_out(void *user, const uint8_t *buf, size_t len)
{
    (void)user;
    return mcb_port_uart_write(buf, len);
}

int main(void)
{
    /* Static, not on the stack: the session holds the interpreter and a command buffer. */
    static mcb_ee_session session;

    /* A port that failed to init still gets to try: there is no one to tell. */
    (void)mcb_port_init();
    const mcb_port_info *info = mcb_port_get_info();
    if (info == NULL) {
        for (;;) {
        }
    }
    const mcb_ee_config cfg = {
        .write = uart_out,
        .write_user = NULL,
        .counter = mcb_port_counter_read,
        .counter_hz = info->counter_hz,
        .board = info->board,
        .kernels = mcb_kernels_reference(),
        .model = EMBEDDED_MODEL,
        .model_bytes = EMBEDDED_MODEL_BYTES,
        .pool = info->pool,
        .pool_bytes = info->pool_bytes,
    };
    if (mcb_ee_session_init(&session, &cfg) != MCB_OK) {
        for (;;) {
        }
    }
    mcb_ee_session_banner(&session);
    for (;;) {
        uint8_t buf[64];
        const size_t n = mcb_port_uart_read(buf, sizeof buf);
        if (n == 0) {
            mcb_port_idle();
            continue;
        }
        mcb_ee_session_feed(&session, buf, n);
    }
}
