/*
 * Frame receiver (a byte-driven state machine) and encoder; docs/protocol.md.
 *
 * The receiver keeps the candidate header in a 7-byte buffer instead of
 * deciding byte by byte, so that after a false start (A5 5A in garbage, caught
 * by the header CRC-8) it can rescan the bytes after that A5: a real frame
 * that begins inside them is not lost.
 */
#include "mcb/frame.h"

#include <string.h>

#include "mcb/crc.h"
#include "mcb/le.h"

enum {
    ST_HEADER = 0, /* hunting for / collecting the header (hdr_len bytes held) */
    ST_PAYLOAD,    /* collecting len payload bytes */
    ST_TRAILER,    /* collecting the 4 CRC-32 bytes */
};

#define SMALL_FRAME 64u    /* frames up to this size go out in one write */
#define MAX_SEND_HEAD 16u  /* mcb_frame_send's head_len limit */
_Static_assert(SMALL_FRAME >= MCB_FRAME_HEADER_SIZE + MAX_SEND_HEAD, "send buffer too small");

void mcb_frame_rx_init(mcb_frame_rx *rx)
{
    memset(rx, 0, sizeof *rx);
    rx->state = ST_HEADER;
}

bool mcb_frame_rx_idle(const mcb_frame_rx *rx)
{
    return rx->state == ST_HEADER && rx->hdr_len == 0;
}

/* Could h[0..n) be the start of a header? (The CRC-8 is checked separately.) */
static bool header_prefix_ok(const uint8_t *h, size_t n)
{
    return n == 0 || (h[0] == MCB_FRAME_SOF0 && (n < 2 || h[1] == MCB_FRAME_SOF1));
}

/*
 * The held bytes are not a frame start: drop the first one and keep the
 * longest suffix that could still be one (spec step 2: "resume hunting at the
 * byte after it").
 */
static void header_resync(mcb_frame_rx *rx)
{
    size_t k = 1;
    while (k < rx->hdr_len && !header_prefix_ok(&rx->hdr[k], rx->hdr_len - k)) {
        k++;
    }
    rx->stats.garbage += (uint32_t)k;
    rx->hdr_len = (uint8_t)(rx->hdr_len - k);
    memmove(rx->hdr, &rx->hdr[k], rx->hdr_len);
}

static void reset(mcb_frame_rx *rx)
{
    rx->state = ST_HEADER;
    rx->hdr_len = 0;
    rx->trl_len = 0;
}

static void set_event(const mcb_frame_rx *rx, mcb_frame_event *ev, mcb_frame_event_kind kind)
{
    ev->kind = kind;
    ev->opcode = rx->hdr[2];
    ev->seq = rx->hdr[3];
    ev->len = rx->len;
    ev->received = rx->got;
    ev->payload = (kind == MCB_FRAME_EV_FRAME) ? rx->payload : NULL;
}

/* A header byte was appended. Returns true if *ev now holds an event. */
static bool header_byte(mcb_frame_rx *rx, mcb_frame_event *ev)
{
    if (!header_prefix_ok(rx->hdr, rx->hdr_len)) {
        header_resync(rx);
        return false;
    }
    if (rx->hdr_len < MCB_FRAME_HEADER_SIZE) {
        return false;
    }
    if (mcb_crc8(&rx->hdr[2], 4) != rx->hdr[6]) {
        header_resync(rx);
        return false;
    }
    rx->len = (uint16_t)(rx->hdr[4] | (rx->hdr[5] << 8));
    rx->got = 0;
    rx->trl_len = 0;
    if (rx->len > MCB_MAX_PAYLOAD) {
        /* Spec step 3: report, then hunt from the byte after the header. */
        set_event(rx, ev, MCB_FRAME_EV_TOO_LARGE);
        rx->stats.too_large++;
        reset(rx);
        return true;
    }
    rx->crc = mcb_crc32_update(MCB_CRC32_INIT, &rx->hdr[2], MCB_FRAME_HEADER_SIZE - 2);
    rx->state = (rx->len > 0) ? ST_PAYLOAD : ST_TRAILER;
    return false;
}

static void trailer_done(mcb_frame_rx *rx, mcb_frame_event *ev)
{
    const uint32_t sent = (uint32_t)rx->trl[0] | ((uint32_t)rx->trl[1] << 8) |
                          ((uint32_t)rx->trl[2] << 16) | ((uint32_t)rx->trl[3] << 24);
    if (sent == rx->crc) {
        set_event(rx, ev, MCB_FRAME_EV_FRAME);
        rx->stats.frames++;
    } else {
        set_event(rx, ev, MCB_FRAME_EV_BAD_CRC);
        rx->stats.bad_crc++;
    }
    reset(rx);
}

/* Called with no new bytes: drop a frame whose sender went quiet. */
static void check_stall(mcb_frame_rx *rx, uint64_t now_us, mcb_frame_event *ev)
{
    if (mcb_frame_rx_idle(rx) || now_us <= rx->last_us ||
        now_us - rx->last_us <= MCB_FRAME_TIMEOUT_US) {
        return;
    }
    if (rx->state == ST_HEADER) {
        /* Unchecked header: maybe not a frame at all, and its seq is untrusted. */
        rx->stats.stale++;
    } else {
        set_event(rx, ev, MCB_FRAME_EV_TIMEOUT);
        rx->stats.timeouts++;
    }
    reset(rx);
}

size_t mcb_frame_rx_feed(mcb_frame_rx *rx, const uint8_t *data, size_t len, uint64_t now_us,
                         mcb_frame_event *ev)
{
    ev->kind = MCB_FRAME_EV_NONE;
    ev->payload = NULL;
    if (len == 0) {
        check_stall(rx, now_us, ev);
        return 0;
    }
    rx->last_us = now_us;

    size_t i = 0;
    while (i < len) {
        if (rx->state == ST_HEADER) {
            if (rx->hdr_len == 0) {
                /* Hunting: skip garbage in bulk. */
                const uint8_t *sof = memchr(&data[i], MCB_FRAME_SOF0, len - i);
                const size_t skip = sof ? (size_t)(sof - &data[i]) : len - i;
                rx->stats.garbage += (uint32_t)skip;
                i += skip;
                if (i == len) {
                    break;
                }
            }
            rx->hdr[rx->hdr_len++] = data[i++];
            if (header_byte(rx, ev)) {
                return i;
            }
        } else if (rx->state == ST_PAYLOAD) {
            size_t n = (size_t)(rx->len - rx->got);
            if (n > len - i) {
                n = len - i;
            }
            memcpy(&rx->payload[rx->got], &data[i], n);
            rx->crc = mcb_crc32_update(rx->crc, &data[i], n);
            rx->got = (uint16_t)(rx->got + n);
            i += n;
            if (rx->got == rx->len) {
                rx->state = ST_TRAILER;
            }
        } else {
            rx->trl[rx->trl_len++] = data[i++];
            if (rx->trl_len == MCB_FRAME_TRAILER_SIZE) {
                trailer_done(rx, ev);
                return i;
            }
        }
    }
    return i;
}

void mcb_frame_encode_header(uint8_t out[MCB_FRAME_HEADER_SIZE], uint8_t opcode, uint8_t seq,
                             uint16_t len)
{
    out[0] = MCB_FRAME_SOF0;
    out[1] = MCB_FRAME_SOF1;
    out[2] = opcode;
    out[3] = seq;
    out[4] = (uint8_t)len;
    out[5] = (uint8_t)(len >> 8);
    out[6] = mcb_crc8(&out[2], 4);
}

size_t mcb_frame_encode(uint8_t *out, size_t cap, uint8_t opcode, uint8_t seq,
                        const uint8_t *payload, size_t len)
{
    if (len > 0xFFFFu || cap < MCB_FRAME_OVERHEAD || len > cap - MCB_FRAME_OVERHEAD) {
        return 0;
    }
    mcb_frame_encode_header(out, opcode, seq, (uint16_t)len);
    if (len > 0) {
        memcpy(&out[MCB_FRAME_HEADER_SIZE], payload, len);
    }
    const uint32_t crc = mcb_crc32_update(MCB_CRC32_INIT, &out[2], MCB_FRAME_HEADER_SIZE - 2 + len);
    mcb_le_put_u32(&out[MCB_FRAME_HEADER_SIZE + len], crc);
    return len + MCB_FRAME_OVERHEAD;
}

mcb_status mcb_frame_send(mcb_write_fn write, void *user, uint8_t opcode, uint8_t seq,
                          const uint8_t *head, size_t head_len, const uint8_t *body,
                          size_t body_len)
{
    if (write == NULL || head_len > MAX_SEND_HEAD || body_len > 0xFFFFu - head_len) {
        return MCB_ERR_ARG;
    }
    uint8_t buf[SMALL_FRAME];
    const size_t len = head_len + body_len;
    mcb_frame_encode_header(buf, opcode, seq, (uint16_t)len);
    if (head_len > 0) {
        memcpy(&buf[MCB_FRAME_HEADER_SIZE], head, head_len);
    }
    size_t used = MCB_FRAME_HEADER_SIZE + head_len;
    uint32_t crc = mcb_crc32_update(MCB_CRC32_INIT, &buf[2], used - 2);
    crc = mcb_crc32_update(crc, body, body_len);

    if (len + MCB_FRAME_OVERHEAD <= sizeof buf) {
        /* One write: on a pty or socket that is one syscall per response. */
        if (body_len > 0) {
            memcpy(&buf[used], body, body_len);
            used += body_len;
        }
        mcb_le_put_u32(&buf[used], crc);
        return write(user, buf, used + MCB_FRAME_TRAILER_SIZE);
    }
    mcb_status st = write(user, buf, used);
    if (st == MCB_OK && body_len > 0) {
        st = write(user, body, body_len);
    }
    if (st == MCB_OK) {
        uint8_t trl[MCB_FRAME_TRAILER_SIZE];
        mcb_le_put_u32(trl, crc);
        st = write(user, trl, sizeof trl);
    }
    return st;
}
