/*
 * libFuzzer target: frame receiver + dispatcher + inference service together,
 * as the device runs them (the service with the reference kernels, over the
 * same 64 KiB pool). Build and run with scripts/fuzz.
 *
 * Input layout:
 *   byte 0          bits 0-4: n = number of control bytes
 *                   bit 7: "fix CRCs" mode: before feeding, every A5 5A header
 *                   found in the host bytes gets a correct CRC-8 and, if its
 *                   payload is there, a correct CRC-32. Without it, mutating
 *                   a field of a seed almost always yields a BAD_CRC frame, and
 *                   the dispatcher's length/range checks are rarely reached.
 *   bytes 1..n      control bytes, used round-robin, one per slice:
 *                   low nibble  -> slice size (1 .. 65536 bytes)
 *                   high nibble -> device time that passes before the slice;
 *                                  if any, an idle poll runs first, so frame
 *                                  timeouts fire
 *   rest            the bytes the "host" sends
 * With n == 0 the bytes go in as one slice.
 *
 * Every response goes to a sink that parses it again with a second receiver
 * and traps unless it is a well-formed frame: good CRCs, no stray bytes, a
 * response opcode, an ERROR payload with a known code. After every feed the
 * sink must hold only whole frames, and the number of responses must equal
 * the number of requests the receiver reported (one response per request;
 * frames with a response opcode are never answered). LOG_START+ and LOG_READ+
 * payloads are parsed too: a page's records must be consecutive and inside
 * the ring's [oldest_seq, next_seq).
 *
 * After every feed the main loop's mcb_infer_service_poll runs, as on the
 * device, so a LOG_START really logs; at most POLL_BUDGET polls per input
 * (each may run one inference) keep an input's cost bounded.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcb/crc.h"
#include "mcb/frame.h"
#include "mcb/infer_service.h"
#include "mcb/port.h"
#include "mcb/proto.h"
#include "mcb/protocol_defs.h"

#define POOL_BYTES (64u * 1024u)
#define POLL_BUDGET 64u /* inferences the log may run per input */

#define CHECK(cond)           \
    do {                      \
        if (!(cond)) {        \
            __builtin_trap(); \
        }                     \
    } while (0)

static uint8_t pool[POOL_BYTES];

/*
 * Over-long board name: INFO must cut it to a TLV's 255 bytes, and the cut
 * falls inside the two-byte UTF-8 "\xc3\xa9" (bytes 254 and 255).
 */
#define LONG16 "0123456789abcdef"
#define LONG254 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 \
    LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 LONG16 "0123456789abcd"

static const mcb_port_info fake_info = {
    .board = LONG254 "\xc3\xa9-fuzz",
    .core = "cortex-fuzz",
    .clock_hz = 25000000u,
    .counter_source = MCB_COUNTER_SYSTICK,
    .counter_hz = 25000000u,
    .pool = pool,
    .pool_bytes = POOL_BYTES,
    .rx_buffer_bytes = 256u,
};

typedef struct {
    mcb_frame_rx rx;
    uint32_t responses;
    uint8_t raw[MCB_FRAME_MAX_SIZE]; /* bytes of the response being received */
    size_t raw_len;
} sink;

static bool known_request(uint8_t op)
{
    switch (op) {
#define MCB_CASE(name, value) case value:
        MCB_OPCODES(MCB_CASE)
#undef MCB_CASE
        return true;
    default:
        return false;
    }
}

static uint32_t le32(const uint8_t *b)
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static uint16_t le16(const uint8_t *b)
{
    return (uint16_t)(b[0] | (b[1] << 8));
}

/* LOG_START+: session, ring_records (16..65535), record_bytes, ops. */
static void check_log_started(const mcb_frame_event *ev)
{
    CHECK(ev->len == 12u);
    const uint32_t ring = le32(&ev->payload[4]);
    const uint32_t record_bytes = le16(&ev->payload[8]);
    const uint32_t extra = record_bytes - 24u - 4u * le16(&ev->payload[10]);
    CHECK(ring >= 16u && ring <= 65535u);
    CHECK(record_bytes >= 24u && (extra == 0u || extra == 4u || extra == 8u));
}

/* LOG_READ+: the head, then n consecutive records inside [oldest, next). */
static void check_log_page(const mcb_frame_event *ev)
{
    CHECK(ev->len >= 24u);
    const uint32_t oldest = le32(&ev->payload[4]);
    const uint32_t next = le32(&ev->payload[8]);
    const uint32_t record_bytes = le16(&ev->payload[12]);
    const uint32_t n = le16(&ev->payload[14]);
    CHECK(record_bytes >= 24u && ev->len == 24u + n * record_bytes);
    CHECK(next - oldest <= 65535u);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *r = &ev->payload[24u + i * record_bytes];
        const uint32_t seq = le32(r);
        CHECK(seq - oldest < next - oldest);
        CHECK(i == 0u || seq == le32(r - record_bytes) + 1u);
    }
}

static void check_response(const mcb_frame_event *ev)
{
    CHECK(ev->kind == MCB_FRAME_EV_FRAME);
    if (ev->opcode == MCB_OPCODE_ERROR) {
        CHECK(ev->len >= 3);
        const uint16_t code = (uint16_t)(ev->payload[0] | (ev->payload[1] << 8));
        CHECK(code >= MCB_E_BAD_CRC && code <= MCB_E_INVOKE_FAILED);
        for (size_t i = 3; i < ev->len; i++) {
            CHECK(ev->payload[i] >= 0x20 && ev->payload[i] < 0x7F); /* one ASCII line */
        }
    } else {
        CHECK((ev->opcode & MCB_RESPONSE_BIT) != 0);
        CHECK(known_request((uint8_t)(ev->opcode & ~MCB_RESPONSE_BIT)));
        if (ev->opcode == (MCB_REQ_LOG_START | MCB_RESPONSE_BIT)) {
            check_log_started(ev);
        } else if (ev->opcode == (MCB_REQ_LOG_READ | MCB_RESPONSE_BIT)) {
            check_log_page(ev);
        }
    }
}

static mcb_status sink_write(void *user, const uint8_t *buf, size_t len)
{
    sink *s = user;
    CHECK(buf != NULL || len == 0);
    while (len > 0) {
        mcb_frame_event ev;
        const size_t used = mcb_frame_rx_feed(&s->rx, buf, len, 0, &ev);
        CHECK(used <= sizeof s->raw - s->raw_len);
        memcpy(&s->raw[s->raw_len], buf, used);
        s->raw_len += used;
        buf += used;
        len -= used;
        if (ev.kind != MCB_FRAME_EV_NONE) {
            check_response(&ev);
            /* The streamed frame must be exactly what the one-shot encoder makes. */
            static uint8_t again[MCB_FRAME_MAX_SIZE];
            const size_t n = mcb_frame_encode(again, sizeof again, ev.opcode, ev.seq, ev.payload, ev.len);
            CHECK(n == s->raw_len && memcmp(again, s->raw, n) == 0);
            s->raw_len = 0;
            s->responses++;
        }
    }
    CHECK(s->rx.stats.garbage == 0); /* not one byte outside a frame */
    return MCB_OK;
}

static mcb_proto proto;
static mcb_infer_service inference;
static sink out;
static uint32_t polls_left;

/* A counter that moves: INVOKE reports differences of it. */
static uint64_t fake_counter(void)
{
    static uint64_t ticks;
    return ticks += 7u;
}

/* The main loop's turn after a feed: the log runs (bounded), its state stays consistent. */
static void poll_log(void)
{
    if (polls_left > 0u) {
        polls_left -= mcb_infer_service_busy(&inference) ? 1u : 0u; /* idle polls are free */
        CHECK(mcb_infer_service_poll(&inference) == MCB_OK);
    }
    const mcb_log_state *log = &inference.log;
    CHECK(!log->active || (log->readable && inference.loaded));
    CHECK(mcb_infer_service_busy(&inference) == log->active);
    if (log->readable) {
        CHECK(log->ring.held <= log->ring.capacity && log->ring.slot < log->ring.capacity);
        CHECK(log->ring.capacity >= 16u && log->ring.capacity <= 65535u);
        CHECK(log->page_records >= 1u);
        /* All of it in the arena's free middle, clear of activations and the tail. */
        const mcb_interpreter *it = &inference.interpreter;
        const uint8_t *end = log->ring.mem + (size_t)log->ring.capacity * log->ring.record_bytes;
        CHECK(inference.loaded);
        CHECK(log->snapshot >= it->arena + it->head + it->stats.nonpersistent_bytes);
        CHECK(log->snapshot <= log->page && log->page < log->ring.mem);
        CHECK(end <= it->arena + it->tail);
    }
}

static void check_after_feed(void)
{
    poll_log();
    const mcb_frame_stats *st = &proto.rx.stats;
    CHECK(mcb_frame_rx_idle(&out.rx)); /* responses are never left half-written */
    CHECK(out.responses + proto.ignored_responses ==
          st->frames + st->bad_crc + st->too_large + st->timeouts);
    const mcb_write_session *w = &proto.write;
    if (w->open) {
        CHECK(w->base <= w->next);
        CHECK(w->length <= POOL_BYTES && w->base <= POOL_BYTES - w->length);
        CHECK(w->next <= w->base + w->length);
    }
}

#define FIXED_MAX 65536u
static uint8_t fixed[FIXED_MAX];

/* "Fix CRCs" mode: make every frame-looking thing in buf[0..len) a good frame. */
static void fix_crcs(uint8_t *buf, size_t len)
{
    size_t i = 0;
    while (len >= MCB_FRAME_HEADER_SIZE && i <= len - MCB_FRAME_HEADER_SIZE) {
        if (buf[i] != MCB_FRAME_SOF0 || buf[i + 1] != MCB_FRAME_SOF1) {
            i++;
            continue;
        }
        buf[i + 6] = mcb_crc8(&buf[i + 2], 4);
        const size_t n = (size_t)(buf[i + 4] | (buf[i + 5] << 8));
        const size_t end = i + MCB_FRAME_HEADER_SIZE + n; /* where the CRC-32 goes */
        if (n > MCB_MAX_PAYLOAD || end + MCB_FRAME_TRAILER_SIZE > len) {
            i += MCB_FRAME_HEADER_SIZE;
            continue;
        }
        const uint32_t crc = mcb_crc32_update(MCB_CRC32_INIT, &buf[i + 2], end - (i + 2));
        buf[end] = (uint8_t)crc;
        buf[end + 1] = (uint8_t)(crc >> 8);
        buf[end + 2] = (uint8_t)(crc >> 16);
        buf[end + 3] = (uint8_t)(crc >> 24);
        i = end + MCB_FRAME_TRAILER_SIZE;
    }
}

static const uint32_t slice_sizes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 11, 16, 64, 255, 1024, 4107, 8192, 65536};
static const uint32_t time_steps_us[16] = {0,      0,      0,      1,      50,     1000,
                                           50000,  99999,  100000, 100001, 150000, 1000000,
                                           0,      0,      0,      0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t n_ctl = data[0] % 32u;
    if (n_ctl > size - 1) {
        n_ctl = size - 1;
    }
    const uint8_t *ctl = data + 1;
    const uint8_t *in = ctl + n_ctl;
    size_t left = size - 1 - n_ctl;
    if ((data[0] & 0x80u) != 0) {
        if (left > FIXED_MAX) {
            left = FIXED_MAX;
        }
        memcpy(fixed, in, left);
        fix_crcs(fixed, left);
        in = fixed;
    }

    memset(pool, 0, sizeof pool);
    memset(&out, 0, sizeof out);
    mcb_frame_rx_init(&out.rx);
    CHECK(mcb_proto_init(&proto, &fake_info, sink_write, &out) == MCB_OK);
    mcb_proto_service service;
    CHECK(mcb_infer_service_init(&inference, mcb_kernels_reference(), fake_counter, pool,
                                 POOL_BYTES, NULL, 0, &service) == MCB_OK);
    mcb_proto_set_service(&proto, &service);
    polls_left = POLL_BUDGET;

    uint64_t now = 1000u;
    for (size_t step = 0; left > 0; step++) {
        size_t n = left;
        if (n_ctl > 0) {
            const uint8_t c = ctl[step % n_ctl];
            const uint32_t dt = time_steps_us[c >> 4];
            if (dt > 0) {
                now += dt;
                CHECK(mcb_proto_feed(&proto, NULL, 0, now) == MCB_OK);
                check_after_feed();
            }
            if (slice_sizes[c & 0x0Fu] < n) {
                n = slice_sizes[c & 0x0Fu];
            }
        }
        CHECK(mcb_proto_feed(&proto, in, n, now) == MCB_OK);
        check_after_feed();
        in += n;
        left -= n;
    }
    /* The host goes quiet: a partial frame must now time out. */
    now += MCB_FRAME_TIMEOUT_US + 1u;
    CHECK(mcb_proto_feed(&proto, NULL, 0, now) == MCB_OK);
    check_after_feed();
    CHECK(mcb_frame_rx_idle(&proto.rx));
    return 0;
}
