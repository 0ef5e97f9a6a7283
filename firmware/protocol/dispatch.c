/*
 * Request dispatcher: one handler per opcode, every payload length and every
 * pool range checked before use, one response (OK or ERROR) per request.
 * docs/protocol.md is the contract.
 */
#include "mcb/proto.h"

#include <string.h>

#include "mcb/crc.h"
#include "mcb/le.h"
#include "mcb/msg.h"
#include "mcb/protocol_defs.h"
#include "mcb/version.h"

#ifndef MCB_FIRMWARE_GIT
#define MCB_FIRMWARE_GIT "unknown"
#endif
#ifndef MCB_BUILD_FLAGS
#define MCB_BUILD_FLAGS ""
#endif

#define MCB_STR_(x) #x
#define MCB_STR(x) MCB_STR_(x)
#if defined(__clang__)
#define MCB_COMPILER \
    "clang " MCB_STR(__clang_major__) "." MCB_STR(__clang_minor__) "." MCB_STR(__clang_patchlevel__)
#elif defined(__GNUC__)
#define MCB_COMPILER "gcc " __VERSION__
#elif defined(__VERSION__)
#define MCB_COMPILER __VERSION__
#else
#define MCB_COMPILER "unknown"
#endif

/* Longest ERROR message: one line, and the frame must fit MCB_MAX_PAYLOAD. */
#define MSG_MAX (MCB_MAX_PAYLOAD - 3u < 96u ? MCB_MAX_PAYLOAD - 3u : 96u)
#define TLV_STR_MAX 255u /* a TLV length is one byte */

/* off + len <= size, without computing off + len (it may wrap). */
static bool range_ok(uint32_t off, uint32_t len, uint32_t size)
{
    return off <= size && len <= size - off;
}

static const char *op_name(uint8_t opcode)
{
    switch (opcode) {
#define MCB_OP_NAME(name, value) \
    case value:                  \
        return #name;
        MCB_OPCODES(MCB_OP_NAME)
#undef MCB_OP_NAME
    default:
        return "request";
    }
}

/* ---- responses --------------------------------------------------------- */

static mcb_status reply(const mcb_proto *p, const mcb_frame_event *ev, const uint8_t *head,
                        size_t head_len, const uint8_t *body, size_t body_len)
{
    return mcb_frame_send(p->out, p->out_user, (uint8_t)(ev->opcode | MCB_RESPONSE_BIT), ev->seq,
                          head, head_len, body, body_len);
}

static mcb_status reply_error(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                              const mcb_msg *m)
{
    uint8_t head[3];
    mcb_le_put_u16(head, code);
    head[2] = ev->opcode;
    return mcb_frame_send(p->out, p->out_user, (uint8_t)MCB_OPCODE_ERROR, ev->seq, head,
                          sizeof head, (const uint8_t *)m->text, m->len);
}

static mcb_status fail(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                       const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    char text[MSG_MAX + 1];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_fmt(&m, fmt, a, b, c);
    return reply_error(p, ev, code, &m);
}

/* ERROR BAD_LENGTH unless the payload is exactly want bytes; true if it was sent. */
static bool bad_length(const mcb_proto *p, const mcb_frame_event *ev, uint16_t want,
                       mcb_status *st)
{
    if (ev->len == want) {
        return false;
    }
    char text[MSG_MAX + 1];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, op_name(ev->opcode));
    mcb_msg_fmt(&m, " payload must be %u bytes, got %u", want, ev->len, 0);
    *st = reply_error(p, ev, MCB_E_BAD_LENGTH, &m);
    return true;
}

/* ---- INFO -------------------------------------------------------------- */

typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
} tlv_buf;

static void tlv_put(tlv_buf *t, uint8_t tag, const uint8_t *value, size_t n)
{
    if (n > TLV_STR_MAX || t->cap - t->len < 2 + n) {
        return; /* does not fit: left out (the host skips what it does not get) */
    }
    t->buf[t->len++] = tag;
    t->buf[t->len++] = (uint8_t)n;
    if (n > 0) {
        memcpy(&t->buf[t->len], value, n);
        t->len += n;
    }
}

static void tlv_u8(tlv_buf *t, uint8_t tag, uint8_t v)
{
    tlv_put(t, tag, &v, 1);
}

static void tlv_u16(tlv_buf *t, uint8_t tag, uint16_t v)
{
    uint8_t b[2];
    mcb_le_put_u16(b, v);
    tlv_put(t, tag, b, sizeof b);
}

static void tlv_u32(tlv_buf *t, uint8_t tag, uint32_t v)
{
    uint8_t b[4];
    mcb_le_put_u32(b, v);
    tlv_put(t, tag, b, sizeof b);
}

/* Strings are cut to what fits, at a UTF-8 character boundary. */
static void tlv_str(tlv_buf *t, uint8_t tag, const char *s)
{
    if (s == NULL) {
        s = "";
    }
    const size_t room = (t->cap - t->len >= 2) ? t->cap - t->len - 2 : 0;
    const size_t limit = room < TLV_STR_MAX ? room : TLV_STR_MAX;
    size_t n = 0;
    while (n < limit && s[n] != '\0') {
        n++;
    }
    if (s[n] != '\0') {
        while (n > 0 && ((uint8_t)s[n] & 0xC0u) == 0x80u) {
            n--; /* s[n] continues a character: drop that whole character */
        }
    }
    tlv_put(t, tag, (const uint8_t *)s, n);
}

/*
 * RX_WINDOW = rx_buffer_bytes + one max frame. The device reads the line only
 * between requests. While it handles one (and sends its response), that frame
 * has already left the port's buffer: it sits in the receiver's payload
 * buffer, at most MCB_FRAME_MAX_SIZE bytes. The frames sent after it queue in
 * the port's receive buffer, rx_buffer_bytes. The host counts the frame being
 * handled as in flight until its response arrives, hence the sum.
 * Caveat: the sum is safe when the frame being handled is full-size (a
 * WRITE_DATA stream). Behind a small request that keeps the device busy (a
 * READ whose 4 KiB response takes a slow UART a while to send, a CRC over a
 * large range) only rx_buffer_bytes + that small frame are absorbed; such
 * streams must keep less than rx_buffer_bytes behind the oldest request.
 */
static uint32_t rx_window(const mcb_port_info *info)
{
    const uint32_t rx = info->rx_buffer_bytes;
    return rx > UINT32_MAX - MCB_FRAME_MAX_SIZE ? UINT32_MAX : rx + MCB_FRAME_MAX_SIZE;
}

static mcb_status on_info(mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 0, &st)) {
        return st;
    }
    /*
     * Built in the receive buffer: the INFO request has no payload, and the
     * buffer is free until the next feed. Saves a second buffer on the MCU.
     * Integers first: with the smallest MCB_MAX_PAYLOAD (64) they always fit,
     * and only strings get cut.
     */
    const mcb_port_info *info = p->info;
    tlv_buf t = {.buf = p->rx.payload, .cap = sizeof p->rx.payload, .len = 0};
    tlv_u16(&t, MCB_TAG_PROTOCOL_VERSION, MCB_PROTOCOL_VERSION);
    tlv_u32(&t, MCB_TAG_CLOCK_HZ, info->clock_hz);
    tlv_u8(&t, MCB_TAG_COUNTER_SOURCE, info->counter_source);
    tlv_u32(&t, MCB_TAG_COUNTER_HZ, info->counter_hz);
    tlv_u16(&t, MCB_TAG_MAX_PAYLOAD, (uint16_t)MCB_MAX_PAYLOAD);
    tlv_u32(&t, MCB_TAG_RX_WINDOW, rx_window(info));
    tlv_u32(&t, MCB_TAG_POOL_BYTES, p->pool_bytes);
    tlv_u32(&t, MCB_TAG_CAPABILITIES,
            MCB_CAP_BULK_WRITE | MCB_CAP_BULK_READ | MCB_CAP_CRC | p->service.capabilities);
    tlv_str(&t, MCB_TAG_FIRMWARE_VERSION, MCB_FIRMWARE_VERSION);
    tlv_str(&t, MCB_TAG_FIRMWARE_GIT, MCB_FIRMWARE_GIT);
    tlv_str(&t, MCB_TAG_BOARD, info->board);
    tlv_str(&t, MCB_TAG_CORE, info->core);
    tlv_str(&t, MCB_TAG_COMPILER, MCB_COMPILER);
    tlv_str(&t, MCB_TAG_BUILD_FLAGS, MCB_BUILD_FLAGS);
    if (p->service.kernels != NULL) {
        tlv_str(&t, MCB_TAG_KERNELS, p->service.kernels);
        tlv_u32(&t, MCB_TAG_EMBEDDED_MODEL_BYTES, p->service.embedded_model_bytes);
    }
    return reply(p, ev, NULL, 0, t.buf, t.len);
}

/* ---- the other requests ------------------------------------------------ */

static mcb_status on_hello(mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 2, &st)) {
        return st;
    }
    p->write.open = false; /* a host that (re)starts gets a clean device */
    const uint16_t host_version = mcb_le_get_u16(ev->payload);
    if (host_version != MCB_PROTOCOL_VERSION) {
        return fail(p, ev, MCB_E_UNSUPPORTED_VERSION, "host speaks protocol v%u, device speaks v%u",
                    host_version, MCB_PROTOCOL_VERSION, 0);
    }
    uint8_t head[6];
    mcb_le_put_u16(head, MCB_PROTOCOL_VERSION);
    memcpy(&head[2], "MCUB", 4);
    return reply(p, ev, head, sizeof head, NULL, 0);
}

static mcb_status on_ping(const mcb_proto *p, const mcb_frame_event *ev)
{
    return reply(p, ev, NULL, 0, ev->payload, ev->len);
}

static mcb_status on_write_begin(mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 8, &st)) {
        return st;
    }
    const uint32_t off = mcb_le_get_u32(ev->payload);
    const uint32_t len = mcb_le_get_u32(&ev->payload[4]);
    p->write.open = false; /* a new BEGIN abandons any session, even if it fails */
    if (!range_ok(off, len, p->pool_bytes)) {
        return fail(p, ev, MCB_E_OUT_OF_RANGE, "offset %u + length %u exceeds pool of %u bytes", off,
                    len, p->pool_bytes);
    }
    if (p->service.will_write != NULL) {
        p->service.will_write(p->service.user, off, len);
    }
    p->write.open = true;
    p->write.base = off;
    p->write.length = len;
    p->write.next = off;
    p->write.crc = MCB_CRC32_INIT;
    return reply(p, ev, NULL, 0, NULL, 0);
}

static mcb_status on_write_data(mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_write_session *w = &p->write;
    if (ev->len < 4) {
        return fail(p, ev, MCB_E_BAD_LENGTH, "WRITE_DATA payload must be at least 4 bytes, got %u",
                    ev->len, 0, 0);
    }
    if (!w->open) {
        return fail(p, ev, MCB_E_STATE, "no write session open (send WRITE_BEGIN first)", 0, 0, 0);
    }
    const uint32_t off = mcb_le_get_u32(ev->payload);
    const uint32_t n = (uint32_t)ev->len - 4u;
    if (off != w->next) {
        return fail(p, ev, MCB_E_SEQUENCE, "WRITE_DATA offset %u, expected %u", off, w->next, 0);
    }
    const uint32_t end = w->base + w->length; /* cannot wrap: checked by WRITE_BEGIN */
    if (n > end - w->next) {
        return fail(p, ev, MCB_E_OUT_OF_RANGE, "%u bytes at offset %u run past the session end %u", n,
                    off, end);
    }
    if (n > 0) {
        memcpy(&p->pool[w->next], &ev->payload[4], n);
        w->crc = mcb_crc32_update(w->crc, &ev->payload[4], n);
        w->next += n;
    }
    uint8_t head[4];
    mcb_le_put_u32(head, w->next);
    return reply(p, ev, head, sizeof head, NULL, 0);
}

static mcb_status on_write_end(mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 0, &st)) {
        return st;
    }
    if (!p->write.open) {
        return fail(p, ev, MCB_E_STATE, "no write session open (send WRITE_BEGIN first)", 0, 0, 0);
    }
    /* Reports what was written; a short upload shows as a short length. */
    uint8_t head[8];
    mcb_le_put_u32(head, p->write.next - p->write.base);
    mcb_le_put_u32(&head[4], p->write.crc);
    p->write.open = false;
    return reply(p, ev, head, sizeof head, NULL, 0);
}

static mcb_status on_read(const mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 8, &st)) {
        return st;
    }
    const uint32_t off = mcb_le_get_u32(ev->payload);
    const uint32_t len = mcb_le_get_u32(&ev->payload[4]);
    if (len > MCB_MAX_PAYLOAD - 4u) {
        return fail(p, ev, MCB_E_BAD_LENGTH, "READ length %u exceeds MAX_PAYLOAD - 4 = %u", len,
                    MCB_MAX_PAYLOAD - 4u, 0);
    }
    if (!range_ok(off, len, p->pool_bytes)) {
        return fail(p, ev, MCB_E_OUT_OF_RANGE, "offset %u + length %u exceeds pool of %u bytes", off,
                    len, p->pool_bytes);
    }
    uint8_t head[4];
    mcb_le_put_u32(head, off);
    return reply(p, ev, head, sizeof head, len > 0 ? &p->pool[off] : NULL, len);
}

static mcb_status on_crc(const mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_status st = MCB_OK;
    if (bad_length(p, ev, 8, &st)) {
        return st;
    }
    const uint32_t off = mcb_le_get_u32(ev->payload);
    const uint32_t len = mcb_le_get_u32(&ev->payload[4]);
    if (!range_ok(off, len, p->pool_bytes)) {
        return fail(p, ev, MCB_E_OUT_OF_RANGE, "offset %u + length %u exceeds pool of %u bytes", off,
                    len, p->pool_bytes);
    }
    uint8_t head[4];
    mcb_le_put_u32(head, len > 0 ? mcb_crc32_update(MCB_CRC32_INIT, &p->pool[off], len) : 0u);
    return reply(p, ev, head, sizeof head, NULL, 0);
}

static mcb_status dispatch(mcb_proto *p, const mcb_frame_event *ev)
{
    switch (ev->opcode) {
    case MCB_REQ_HELLO:
        return on_hello(p, ev);
    case MCB_REQ_INFO:
        return on_info(p, ev);
    case MCB_REQ_PING:
        return on_ping(p, ev);
    case MCB_REQ_WRITE_BEGIN:
        return on_write_begin(p, ev);
    case MCB_REQ_WRITE_DATA:
        return on_write_data(p, ev);
    case MCB_REQ_WRITE_END:
        return on_write_end(p, ev);
    case MCB_REQ_READ:
        return on_read(p, ev);
    case MCB_REQ_CRC:
        return on_crc(p, ev);
    default:
        if (p->service.handle != NULL) {
            return p->service.handle(p->service.user, p, ev);
        }
        return fail(p, ev, MCB_E_UNKNOWN_OPCODE, "unknown opcode %x", ev->opcode, 0, 0);
    }
}

/*
 * Every request gets exactly one response. A frame with the response bit set
 * is not a request (requests are 0x01..0x7F): it is our own output coming
 * back (a loopback or an echoing terminal). Answering it would answer the
 * answer forever, so it is counted and dropped.
 */
static mcb_status respond(mcb_proto *p, const mcb_frame_event *ev)
{
    if ((ev->opcode & MCB_RESPONSE_BIT) != 0) {
        p->ignored_responses++;
        return MCB_OK;
    }
    switch (ev->kind) {
    case MCB_FRAME_EV_FRAME:
        return dispatch(p, ev);
    case MCB_FRAME_EV_BAD_CRC:
        return fail(p, ev, MCB_E_BAD_CRC, "frame CRC-32 mismatch (payload %u bytes)", ev->len, 0,
                    0);
    case MCB_FRAME_EV_TOO_LARGE:
        return fail(p, ev, MCB_E_FRAME_TOO_LARGE, "payload length %u exceeds MAX_PAYLOAD %u",
                    ev->len, MCB_MAX_PAYLOAD, 0);
    case MCB_FRAME_EV_TIMEOUT:
        return fail(p, ev, MCB_E_FRAME_TIMEOUT,
                    "frame stalled over 100 ms after %u of %u payload bytes", ev->received, ev->len,
                    0);
    default:
        return MCB_OK;
    }
}

mcb_status mcb_proto_init(mcb_proto *p, const mcb_port_info *info, mcb_write_fn out,
                          void *out_user)
{
    if (p == NULL || info == NULL || out == NULL) {
        return MCB_ERR_ARG;
    }
    memset(p, 0, sizeof *p);
    mcb_frame_rx_init(&p->rx);
    p->info = info;
    p->pool = info->pool;
    p->pool_bytes = (info->pool != NULL) ? info->pool_bytes : 0u;
    p->out = out;
    p->out_user = out_user;
    return MCB_OK;
}

void mcb_proto_set_service(mcb_proto *p, const mcb_proto_service *service)
{
    if (p != NULL && service != NULL) {
        p->service = *service;
    }
}

mcb_status mcb_proto_reply(const mcb_proto *p, const mcb_frame_event *ev, const uint8_t *head,
                           size_t head_len, const uint8_t *body, size_t body_len)
{
    return reply(p, ev, head, head_len, body, body_len);
}

mcb_status mcb_proto_fail(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                          const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    return fail(p, ev, code, fmt, a, b, c);
}

mcb_status mcb_proto_fail_text(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                               const char *text)
{
    char buf[MSG_MAX + 1];
    mcb_msg m;
    mcb_msg_init(&m, buf, sizeof buf);
    mcb_msg_str(&m, text);
    return reply_error(p, ev, code, &m);
}

mcb_status mcb_proto_feed(mcb_proto *p, const uint8_t *data, size_t len, uint64_t now_us)
{
    if (p == NULL || (data == NULL && len > 0)) {
        return MCB_ERR_ARG;
    }
    mcb_status result = MCB_OK;
    for (;;) {
        mcb_frame_event ev;
        const size_t used = mcb_frame_rx_feed(&p->rx, data, len, now_us, &ev);
        if (used > 0) {
            data += used;
            len -= used;
        }
        if (ev.kind == MCB_FRAME_EV_NONE) {
            return result;
        }
        const mcb_status st = respond(p, &ev);
        if (result == MCB_OK) {
            result = st;
        }
    }
}
