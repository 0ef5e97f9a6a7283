/*
 * Frame layer of the serial protocol (docs/protocol.md, "Frame" and
 * "Receiving and resynchronisation"): an incremental receiver fed with bytes
 * as they arrive, and an encoder for outgoing frames.
 *
 * MCB_MAX_PAYLOAD sizes the receive buffer and so the struct layout: define it
 * (if at all) identically for every translation unit, from the build.
 */
#ifndef MCB_FRAME_H
#define MCB_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/protocol_defs.h"
#include "mcb/status.h"

#ifndef MCB_MAX_PAYLOAD
#define MCB_MAX_PAYLOAD 4096u
#endif

/* INFO items and error replies must fit; the length field is a u16. */
_Static_assert(MCB_MAX_PAYLOAD >= 64u && MCB_MAX_PAYLOAD <= 0xFFFFu,
               "MCB_MAX_PAYLOAD must be in 64..65535");

/* A frame whose bytes stop arriving for longer than this is dropped. */
#define MCB_FRAME_TIMEOUT_US 100000u

/* Largest frame on the wire. */
#define MCB_FRAME_MAX_SIZE (MCB_MAX_PAYLOAD + MCB_FRAME_OVERHEAD)

/* Sink for outgoing bytes; the protocol core does no I/O of its own. */
typedef mcb_status (*mcb_write_fn)(void *user, const uint8_t *buf, size_t len);

typedef enum {
    MCB_FRAME_EV_NONE = 0,  /* all input consumed, nothing to report */
    MCB_FRAME_EV_FRAME,     /* a complete frame with good CRCs */
    MCB_FRAME_EV_BAD_CRC,   /* header good, CRC-32 wrong: frame dropped */
    MCB_FRAME_EV_TOO_LARGE, /* header good, len > MCB_MAX_PAYLOAD: header dropped */
    MCB_FRAME_EV_TIMEOUT,   /* header good, then the bytes stalled: frame dropped */
} mcb_frame_event_kind;

/*
 * What the receiver found. opcode, seq and len come from a header whose CRC-8
 * matched, so they can be trusted for every kind except NONE.
 */
typedef struct {
    mcb_frame_event_kind kind;
    uint8_t opcode;
    uint8_t seq;
    uint16_t len;           /* payload length from the header */
    uint16_t received;      /* payload bytes that arrived (TIMEOUT: < len) */
    const uint8_t *payload; /* FRAME only: len bytes, valid until the next feed */
} mcb_frame_event;

/* Counters for diagnostics; they wrap. */
typedef struct {
    uint32_t frames;    /* EV_FRAME */
    uint32_t bad_crc;   /* EV_BAD_CRC */
    uint32_t too_large; /* EV_TOO_LARGE */
    uint32_t timeouts;  /* EV_TIMEOUT */
    uint32_t garbage;   /* bytes dropped while hunting, incl. false starts */
    uint32_t stale;     /* partial headers dropped by the timeout (no event) */
} mcb_frame_stats;

/* Receiver state; treat as opaque except stats. */
typedef struct {
    uint8_t state;                        /* internal enum */
    uint8_t hdr_len;                      /* header bytes held in hdr */
    uint8_t trl_len;                      /* CRC-32 bytes held in trl */
    uint8_t hdr[MCB_FRAME_HEADER_SIZE];   /* candidate header, rescanned on a bad hcrc */
    uint8_t trl[MCB_FRAME_TRAILER_SIZE];
    uint16_t len;                         /* payload length of the current frame */
    uint16_t got;                         /* payload bytes received so far */
    uint32_t crc;                         /* running CRC-32 of bytes 2.. */
    uint64_t last_us;                     /* device time of the last byte */
    mcb_frame_stats stats;
    uint8_t payload[MCB_MAX_PAYLOAD];
} mcb_frame_rx;

void mcb_frame_rx_init(mcb_frame_rx *rx);

/*
 * Consumes bytes from data[0..len) until it has something to report, and
 * returns how many it consumed. ev->kind is NONE once all len bytes are
 * consumed without an event; otherwise the caller handles *ev (its payload
 * stays valid until the next call) and calls again with the rest:
 *
 *     for (;;) {
 *         size_t n = mcb_frame_rx_feed(rx, data, len, now_us, &ev);
 *         data += n; len -= n;
 *         if (ev.kind == MCB_FRAME_EV_NONE) break;
 *         handle(&ev);
 *     }
 *
 * now_us is device time in microseconds (monotonic). The stall timeout is
 * only judged by a call with len == 0, i.e. when the caller found the line
 * idle: bytes handed in late (they waited in a UART buffer while the device
 * was busy) show the sender did not stall, whatever the clock says. A stall
 * inside a payload or CRC reports EV_TIMEOUT; a stalled partial header has no
 * trusted seq and is dropped silently (stats.stale).
 */
size_t mcb_frame_rx_feed(mcb_frame_rx *rx, const uint8_t *data, size_t len, uint64_t now_us,
                         mcb_frame_event *ev);

/* True when no frame is partly received (hunting with nothing buffered). */
bool mcb_frame_rx_idle(const mcb_frame_rx *rx);

/* Writes the 7-byte header of a frame with a len-byte payload. */
void mcb_frame_encode_header(uint8_t out[MCB_FRAME_HEADER_SIZE], uint8_t opcode, uint8_t seq,
                             uint16_t len);

/*
 * Encodes a whole frame into out[0..cap). Returns its size (len + 11), or 0
 * when len > 0xFFFF or cap is too small.
 */
size_t mcb_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, uint8_t seq,
                        const uint8_t *payload, size_t len);

/*
 * Sends one frame whose payload is head[0..head_len) followed by
 * body[0..body_len), without copying body (READ sends pool memory directly).
 * head_len <= 16. Small frames go out in one write call, others in three.
 * Returns MCB_ERR_ARG if the payload exceeds 0xFFFF bytes, else the first
 * failing write's status.
 */
mcb_status mcb_frame_send(mcb_write_fn write, void *user, uint8_t opcode, uint8_t seq,
                          const uint8_t *head, size_t head_len, const uint8_t *body,
                          size_t body_len);

#endif
