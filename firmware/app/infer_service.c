/* Inference requests (mcb/infer_service.h); payload layouts in docs/protocol.md. */
#include "mcb/infer_service.h"

#include <math.h>
#include <string.h>

#include "mcb/crc.h"
#include "mcb/le.h"
#include "mcb/protocol_defs.h"

#define MODEL_ALIGN 16u /* TFLM aligns buffers in the file to 16 bytes from its start */

/*
 * INVOKE's largest count: the device answers nothing while it runs, so a
 * count is a promise to be busy; 65535 keeps the longest one finite (the
 * fuzzer builds with a small value to stay fast).
 */
#ifndef MCB_INVOKE_MAX_COUNT
#define MCB_INVOKE_MAX_COUNT 65535u
#endif
#define ARENA_ALIGN 16u

/* Cursor-style writers over mcb/le.h: each returns where the next field goes. */
static uint8_t *put_u16(uint8_t *b, uint32_t v)
{
    mcb_le_put_u16(b, (uint16_t)v);
    return b + 2;
}

static uint8_t *put_u32(uint8_t *b, uint32_t v)
{
    mcb_le_put_u32(b, v);
    return b + 4;
}

static uint8_t *put_u64(uint8_t *b, uint64_t v)
{
    b = put_u32(b, (uint32_t)v);
    return put_u32(b, (uint32_t)(v >> 32));
}

static bool overlaps(uint32_t a, uint32_t a_len, uint32_t b, uint32_t b_len)
{
    return a_len > 0 && b_len > 0 && a < b + b_len && b < a + a_len;
}

static mcb_status bad_length(const mcb_proto *p, const mcb_frame_event *ev, uint32_t want)
{
    return mcb_proto_fail(p, ev, MCB_E_BAD_LENGTH, "payload must be %u bytes, got %u", want,
                          ev->len, 0);
}

/* What MODEL_LOAD, RESET, INVOKE, PROFILE and LOG_START get while logging. */
static mcb_status refuse_logging(const mcb_proto *p, const mcb_frame_event *ev)
{
    return mcb_proto_fail(p, ev, MCB_E_STATE, "logging: LOG_STOP first", 0, 0, 0);
}

/* The model is gone: so is the log, whose ring lived in its arena. */
static void unload(mcb_infer_service *s)
{
    s->loaded = false;
    s->log.active = false;
    s->log.readable = false;
}

/* ---- MODEL_LOAD -------------------------------------------------------- */

static mcb_status load_failed(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev,
                              const mcb_interp_error *err)
{
    uint16_t code = MCB_E_PREPARE_FAILED;
    switch (err->code) {
    case MCB_INTERP_E_UNSUPPORTED_OP:
        code = MCB_E_UNSUPPORTED_OP;
        break;
    case MCB_INTERP_E_ARENA:
        code = MCB_E_ARENA_TOO_SMALL;
        break;
    case MCB_INTERP_E_PLAN:
    case MCB_INTERP_E_ARG:
        code = MCB_E_MODEL_INVALID;
        break;
    default:
        break;
    }
    s->loaded = false;
    return mcb_proto_fail_text(p, ev, code, err->message);
}

static mcb_status on_model_load(mcb_infer_service *s, const mcb_proto *p,
                                const mcb_frame_event *ev)
{
    if (ev->len != 12u) {
        return bad_length(p, ev, 12u);
    }
    if (s->log.active) {
        return refuse_logging(p, ev);
    }
    const uint8_t source = ev->payload[0];
    uint32_t offset = mcb_le_get_u32(&ev->payload[4]);
    uint32_t length = mcb_le_get_u32(&ev->payload[8]);
    const uint8_t *model;
    unload(s); /* whatever happens, the old model is gone (and a stopped log's ring) */
    if (source == MCB_MODEL_SOURCE_EMBEDDED) {
        if (s->embedded == NULL) {
            return mcb_proto_fail(p, ev, MCB_E_NO_MODEL,
                                  "no model embedded in this firmware (mcubench build --model)", 0,
                                  0, 0);
        }
        model = s->embedded;
        offset = 0;
        length = s->embedded_bytes;
        s->arena_offset = 0;
    } else if (source == MCB_MODEL_SOURCE_POOL) {
        if (offset % MODEL_ALIGN != 0u || offset > s->pool_bytes ||
            length > s->pool_bytes - offset) {
            return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE,
                                  "model at %u (16-byte aligned) + %u bytes exceeds pool of %u",
                                  offset, length, s->pool_bytes);
        }
        model = &s->pool[offset];
        const uint32_t end = offset + length;
        s->arena_offset = end + (ARENA_ALIGN - end % ARENA_ALIGN) % ARENA_ALIGN;
        if (s->arena_offset > s->pool_bytes) {
            s->arena_offset = s->pool_bytes;
        }
    } else {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "unknown model source %u", source, 0, 0);
    }
    s->model_in_pool = source == MCB_MODEL_SOURCE_POOL;
    s->model_offset = offset;
    s->model_bytes = length;
    s->arena_bytes = s->pool_bytes - s->arena_offset;

    mcb_model_error merr;
    if (mcb_model_open(&s->model, model, length, &merr) != MCB_OK) {
        return mcb_proto_fail_text(p, ev, MCB_E_MODEL_INVALID, merr.message);
    }
    mcb_interp_error err;
    if (mcb_interpreter_init(&s->interpreter, &s->model, &s->pool[s->arena_offset], s->arena_bytes,
                             s->kernels, &err) != MCB_OK) {
        return load_failed(s, p, ev, &err);
    }
    s->loaded = true;
#ifdef MCB_PROFILE
    memset(s->node_ticks, 0, sizeof s->node_ticks);
    s->profiled_count = 0;
    s->profiling = mcb_interpreter_set_profile(&s->interpreter, &s->profile) == MCB_OK;
#endif

    mcb_arena_stats a;
    mcb_subgraph_info sg;
    (void)mcb_interpreter_arena(&s->interpreter, &a);
    (void)mcb_model_subgraph(&s->model, 0, &sg);
    uint8_t head[40];
    uint8_t *w = head;
    w = put_u32(w, s->model_bytes);
    w = put_u32(w, mcb_crc32_update(MCB_CRC32_INIT, model, length));
    w = put_u32(w, s->arena_offset);
    w = put_u32(w, a.arena_bytes);
    w = put_u32(w, a.nonpersistent_bytes);
    w = put_u32(w, a.scratch_bytes);
    w = put_u32(w, a.persistent_bytes);
    w = put_u32(w, a.required_bytes);
    w = put_u16(w, sg.n_inputs);
    w = put_u16(w, sg.n_outputs);
    w = put_u16(w, sg.n_tensors);
    (void)put_u16(w, sg.n_operators);
    return mcb_proto_reply(p, ev, NULL, 0, head, sizeof head);
}

/* ---- TENSOR_INFO ------------------------------------------------------- */

static mcb_status on_tensor_info(mcb_infer_service *s, const mcb_proto *p,
                                 const mcb_frame_event *ev)
{
    if (ev->len != 8u) {
        return bad_length(p, ev, 8u);
    }
    if (!s->loaded) {
        return mcb_proto_fail(p, ev, MCB_E_NO_MODEL, "no model loaded (MODEL_LOAD first)", 0, 0, 0);
    }
    const uint8_t select = ev->payload[0];
    const uint32_t index = mcb_le_get_u32(&ev->payload[4]);
    const mcb_interpreter *it = &s->interpreter;
    int32_t t = -1;
    uint32_t count = 0;
    if (select == MCB_TENSOR_SELECT_INPUT) {
        count = mcb_interpreter_input_count(it);
        t = mcb_interpreter_input(it, index);
    } else if (select == MCB_TENSOR_SELECT_OUTPUT) {
        count = mcb_interpreter_output_count(it);
        t = mcb_interpreter_output(it, index);
    } else if (select == MCB_TENSOR_SELECT_TENSOR) {
        count = it->n_tensors;
        t = index < count ? (int32_t)index : -1;
    } else {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "unknown tensor selector %u", select, 0,
                              0);
    }
    mcb_tensor_view v;
    mcb_tensor_info ti;
    if (t < 0 || mcb_interpreter_tensor(it, (uint32_t)t, &v) != MCB_OK ||
        mcb_model_tensor(&s->model, 0, (uint32_t)t, &ti) != MCB_OK) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "index %u: the model has %u", index, count,
                              0);
    }
    uint8_t flags = 0;
    uint32_t pool_offset = MCB_TENSOR_NOT_IN_POOL;
    if (v.data != NULL) {
        flags |= MCB_TENSOR_FLAG_WRITABLE;
    }
    if (ti.data != NULL) {
        flags |= MCB_TENSOR_FLAG_CONSTANT;
    }
    if (ti.is_variable) {
        flags |= MCB_TENSOR_FLAG_VARIABLE;
    }
    const uint8_t *pool_end = s->pool + s->pool_bytes;
    if (v.cdata != NULL && v.cdata >= s->pool && v.cdata < pool_end &&
        v.bytes <= (uint32_t)(pool_end - v.cdata)) {
        pool_offset = (uint32_t)(v.cdata - s->pool);
    }
    uint8_t out[16 + 4 * MCB_MODEL_MAX_RANK];
    uint8_t *w = put_u32(out, (uint32_t)t);
    *w++ = (uint8_t)v.type;
    *w++ = (uint8_t)v.rank;
    *w++ = flags;
    *w++ = 0;
    w = put_u32(w, v.bytes);
    w = put_u32(w, pool_offset);
    for (uint32_t d = 0; d < v.rank; d++) {
        w = put_u32(w, (uint32_t)v.shape[d]);
    }
    return mcb_proto_reply(p, ev, NULL, 0, out, (size_t)(w - out));
}

/* ---- INVOKE and RESET -------------------------------------------------- */

/* INVOKE: u32 count [, u32 last_node]. */
static mcb_status on_invoke(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev)
{
    if (ev->len != 4u && ev->len != 8u) {
        return mcb_proto_fail(p, ev, MCB_E_BAD_LENGTH, "payload must be 4 or 8 bytes, got %u",
                              ev->len, 0, 0);
    }
    const bool partial = ev->len == 8u;
    const uint32_t last_node = partial ? mcb_le_get_u32(&ev->payload[4]) : 0u;
    if (s->log.active) {
        return refuse_logging(p, ev);
    }
    if (!s->loaded) {
        return mcb_proto_fail(p, ev, MCB_E_NO_MODEL, "no model loaded (MODEL_LOAD first)", 0, 0, 0);
    }
    const uint32_t count = mcb_le_get_u32(ev->payload);
    if (count == 0u || count > MCB_INVOKE_MAX_COUNT) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "invoke count %u is not in 1..%u", count,
                              MCB_INVOKE_MAX_COUNT, 0);
    }
    uint64_t total = 0;
    uint64_t min = UINT64_MAX;
    uint64_t max = 0;
#ifdef MCB_PROFILE
    memset(s->node_ticks, 0, sizeof s->node_ticks);
    s->profiled_count = 0;
#endif
    for (uint32_t i = 0; i < count; i++) {
        mcb_interp_error err;
        const uint64_t start = s->counter();
#ifdef MCB_PROFILE
        s->profile.start = start;
#endif
        const mcb_status st =
            partial ? mcb_interpreter_invoke_until(&s->interpreter, last_node, &err)
                    : mcb_interpreter_invoke(&s->interpreter, &err);
        const uint64_t ticks = s->counter() - start;
        if (st != MCB_OK) {
            return mcb_proto_fail_text(p, ev, MCB_E_INVOKE_FAILED, err.message);
        }
        total += ticks;
        min = ticks < min ? ticks : min;
        max = ticks > max ? ticks : max;
    }
#ifdef MCB_PROFILE
    s->profiled_count = count;
#endif
    uint8_t out[28];
    uint8_t *w = put_u32(out, count);
    w = put_u64(w, total);
    w = put_u64(w, min);
    (void)put_u64(w, max);
    return mcb_proto_reply(p, ev, NULL, 0, out, sizeof out);
}

static mcb_status on_reset(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev)
{
    if (ev->len != 0u) {
        return bad_length(p, ev, 0u);
    }
    if (s->log.active) {
        return refuse_logging(p, ev);
    }
    if (!s->loaded) {
        return mcb_proto_fail(p, ev, MCB_E_NO_MODEL, "no model loaded (MODEL_LOAD first)", 0, 0, 0);
    }
    mcb_interp_error err;
    if (mcb_interpreter_reset(&s->interpreter, &err) != MCB_OK) {
        return mcb_proto_fail_text(p, ev, MCB_E_INTERNAL, err.message);
    }
    return mcb_proto_reply(p, ev, NULL, 0, NULL, 0);
}

/* ---- PROFILE ----------------------------------------------------------- */

/* Node ticks per reply: what fits the smallest payload the frame layer allows. */
#define PROFILE_HEAD 16u
#define PROFILE_PER_REPLY ((MCB_MAX_PAYLOAD - PROFILE_HEAD) / 8u)

/* PROFILE: u32 first_node -> u32 nodes, u32 invocations, u32 first, u32 n, u64 ticks[n]. */
static mcb_status on_profile(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev)
{
    if (ev->len != 4u) {
        return bad_length(p, ev, 4u);
    }
    if (s->log.active) {
        return refuse_logging(p, ev);
    }
#ifndef MCB_PROFILE
    return mcb_proto_fail(p, ev, MCB_E_STATE,
                          "profiler not compiled in (mcubench build --profile)", 0, 0, 0);
#else
    if (!s->loaded) {
        return mcb_proto_fail(p, ev, MCB_E_NO_MODEL, "no model loaded (MODEL_LOAD first)", 0, 0, 0);
    }
    mcb_subgraph_info sg;
    (void)mcb_model_subgraph(&s->model, 0, &sg);
    const uint32_t nodes = sg.n_operators;
    if (!s->profiling) {
        return mcb_proto_fail(p, ev, MCB_E_STATE,
                              "the model has %u operators; the profiler holds %u", nodes,
                              MCB_PROFILE_MAX_NODES, 0);
    }
    const uint32_t first = mcb_le_get_u32(ev->payload);
    if (first > nodes) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "node %u: the model has %u", first,
                              nodes, 0);
    }
    const uint32_t left = nodes - first;
    const uint32_t n = left < PROFILE_PER_REPLY ? left : PROFILE_PER_REPLY;
    uint8_t head[PROFILE_HEAD];
    uint8_t *w = put_u32(head, nodes);
    w = put_u32(w, s->profiled_count);
    w = put_u32(w, first);
    (void)put_u32(w, n);
    uint8_t body[PROFILE_PER_REPLY * 8u];
    for (uint32_t i = 0; i < n; i++) {
        (void)put_u64(&body[8u * i], s->node_ticks[first + i]);
    }
    return mcb_proto_reply(p, ev, head, sizeof head, body, 8u * (size_t)n);
#endif
}

/* ---- logging ----------------------------------------------------------- */

#define LOG_RECORD_FIXED 24u /* u32 seq, u32 status, u64 start_ticks, u64 ticks */
#define LOG_PAGE_HEAD 24u    /* u32 session, oldest, next; u16 record_bytes, n; u64 now */
#define LOG_MIN_RECORDS 16u
#define LOG_MAX_RECORDS 65535u
#define LOG_ALIGN 8u /* of the page and ring in the arena (fields are written bytewise) */
#define LOG_FLAGS_KNOWN ((uint32_t)MCB_LOG_OPS | MCB_LOG_DIGEST | MCB_LOG_TOP1)

/*
 * Copies the writable inputs to the snapshot (save) or back; with snapshot
 * NULL, only counts. The interpreter may plan a later activation over an
 * input, so every logged inference starts from the snapshot. Returns the
 * bytes the inputs take.
 */
static uint64_t copy_inputs(const mcb_interpreter *it, uint8_t *snapshot, bool save)
{
    uint64_t at = 0;
    const uint32_t n = mcb_interpreter_input_count(it);
    for (uint32_t i = 0; i < n; i++) {
        const int32_t t = mcb_interpreter_input(it, i);
        mcb_tensor_view v;
        if (t < 0 || mcb_interpreter_tensor(it, (uint32_t)t, &v) != MCB_OK || v.data == NULL) {
            continue;
        }
        if (snapshot != NULL && save) {
            memcpy(&snapshot[at], v.data, v.bytes);
        } else if (snapshot != NULL) {
            memcpy(v.data, &snapshot[at], v.bytes);
        }
        at += v.bytes;
    }
    return at;
}

/* CRC-32 (zlib) of every output's bytes, in output order. */
static uint32_t outputs_crc(const mcb_interpreter *it)
{
    uint32_t crc = MCB_CRC32_INIT;
    const uint32_t n = mcb_interpreter_output_count(it);
    for (uint32_t i = 0; i < n; i++) {
        const int32_t t = mcb_interpreter_output(it, i);
        mcb_tensor_view v;
        if (t >= 0 && mcb_interpreter_tensor(it, (uint32_t)t, &v) == MCB_OK && v.cdata != NULL) {
            crc = mcb_crc32_update(crc, v.cdata, v.bytes);
        }
    }
    return crc;
}

/* Bytes per element of the types TOP1 ranks; 0 for the others. */
static uint32_t top1_size(mcb_tensor_type type)
{
    switch (type) {
    case MCB_TYPE_INT8:
    case MCB_TYPE_UINT8:
        return 1u;
    case MCB_TYPE_INT16:
        return 2u;
    case MCB_TYPE_INT32:
    case MCB_TYPE_FLOAT32:
        return 4u;
    default:
        return 0u;
    }
}

static int32_t int_at(const uint8_t *data, mcb_tensor_type type, uint32_t i)
{
    switch (type) {
    case MCB_TYPE_INT8:
        return (int8_t)data[i];
    case MCB_TYPE_UINT8:
        return data[i];
    case MCB_TYPE_INT16: {
        int16_t v;
        memcpy(&v, &data[2u * i], sizeof v);
        return v;
    }
    default: {
        int32_t v;
        memcpy(&v, &data[4u * i], sizeof v);
        return v;
    }
    }
}

/*
 * Index of output 0's largest element, the first on ties, as numpy's argmax
 * (a NaN counts as the largest); -1 for an empty output.
 */
static int32_t top1(const mcb_interpreter *it)
{
    const int32_t t = mcb_interpreter_output(it, 0);
    mcb_tensor_view v;
    if (t < 0 || mcb_interpreter_tensor(it, (uint32_t)t, &v) != MCB_OK || v.cdata == NULL) {
        return -1;
    }
    const uint32_t size = top1_size(v.type);
    const uint32_t n = size > 0u ? v.bytes / size : 0u;
    if (n == 0u) {
        return -1;
    }
    uint32_t best = 0;
    if (v.type == MCB_TYPE_FLOAT32) {
        float top;
        memcpy(&top, v.cdata, sizeof top);
        for (uint32_t i = 1; i < n && !isnan(top); i++) {
            float x;
            memcpy(&x, &v.cdata[4u * i], sizeof x);
            if (isnan(x) || x > top) {
                top = x;
                best = i;
            }
        }
    } else {
        int32_t top = int_at(v.cdata, v.type, 0);
        for (uint32_t i = 1; i < n; i++) {
            const int32_t x = int_at(v.cdata, v.type, i);
            if (x > top) {
                top = x;
                best = i;
            }
        }
    }
    return (int32_t)best;
}

/* Fills the next record of the ring for the inference that just ran. */
static void log_record(mcb_infer_service *s, uint32_t status, uint64_t start, uint64_t ticks)
{
    mcb_log_state *log = &s->log;
    const uint32_t seq = log->ring.next_seq;
    uint8_t *w = mcb_log_ring_push(&log->ring);
    w = put_u32(w, seq);
    w = put_u32(w, status);
    w = put_u64(w, start);
    w = put_u64(w, ticks);
    if ((log->flags & MCB_LOG_DIGEST) != 0u) {
        w = put_u32(w, status == 0u ? outputs_crc(&s->interpreter) : 0u);
    }
    if ((log->flags & MCB_LOG_TOP1) != 0u) {
        w = put_u32(w, (uint32_t)(status == 0u ? top1(&s->interpreter) : -1));
    }
#ifdef MCB_PROFILE
    for (uint32_t k = 0; k < log->ops; k++) {
        const uint64_t op = s->node_ticks[k];
        w = put_u32(w, op > UINT32_MAX ? UINT32_MAX : (uint32_t)op);
    }
#endif
    (void)w;
}

/*
 * Answers STATE, saying why, and returns true unless the flags suit the
 * loaded model and this firmware; *st is the answer's status.
 */
static bool refuse_log_flags(const mcb_infer_service *s, const mcb_proto *p,
                             const mcb_frame_event *ev, uint32_t flags, uint32_t nodes,
                             mcb_status *st)
{
    if ((flags & MCB_LOG_OPS) != 0u) {
#ifndef MCB_PROFILE
        (void)nodes;
        *st = mcb_proto_fail(p, ev, MCB_E_STATE,
                             "OPS: profiler not compiled in (mcubench build --profile)", 0, 0, 0);
        return true;
#else
        if (!s->profiling) {
            *st = mcb_proto_fail(p, ev, MCB_E_STATE,
                                 "OPS: the model has %u operators; the profiler holds %u", nodes,
                                 MCB_PROFILE_MAX_NODES, 0);
            return true;
        }
#endif
    }
    if ((flags & MCB_LOG_TOP1) != 0u) {
        const int32_t t = mcb_interpreter_output(&s->interpreter, 0);
        mcb_tensor_view v;
        if (t < 0 || mcb_interpreter_tensor(&s->interpreter, (uint32_t)t, &v) != MCB_OK) {
            *st = mcb_proto_fail(p, ev, MCB_E_STATE, "TOP1: the model has no output", 0, 0, 0);
            return true;
        }
        if (top1_size(v.type) == 0u) {
            *st = mcb_proto_fail(p, ev, MCB_E_STATE,
                                 "TOP1: output 0 has type %u, not int8, uint8, int16, int32 or "
                                 "float32",
                                 (uint32_t)v.type, 0, 0);
            return true;
        }
    }
    return false;
}

/* LOG_START: u32 period_ticks, u32 flags, u32 session -> u32 session, u32 ring_records,
 * u16 record_bytes, u16 ops. */
static mcb_status on_log_start(mcb_infer_service *s, const mcb_proto *p,
                               const mcb_frame_event *ev)
{
    if (ev->len != 12u) {
        return bad_length(p, ev, 12u);
    }
    const uint32_t period = mcb_le_get_u32(ev->payload);
    const uint32_t flags = mcb_le_get_u32(&ev->payload[4]);
    const uint32_t session = mcb_le_get_u32(&ev->payload[8]);
    if ((flags & ~LOG_FLAGS_KNOWN) != 0u) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE,
                              "log flags %u: known are OPS 1, DIGEST 2, TOP1 4", flags, 0, 0);
    }
    if (!s->loaded) {
        return mcb_proto_fail(p, ev, MCB_E_NO_MODEL, "no model loaded (MODEL_LOAD first)", 0, 0, 0);
    }
    if (s->log.active) {
        return refuse_logging(p, ev);
    }
    mcb_subgraph_info sg;
    (void)mcb_model_subgraph(&s->model, 0, &sg);
    mcb_status st = MCB_OK;
    if (refuse_log_flags(s, p, ev, flags, sg.n_operators, &st)) {
        return st;
    }
    const uint32_t ops = (flags & MCB_LOG_OPS) != 0u ? sg.n_operators : 0u;
    const uint32_t record_bytes = LOG_RECORD_FIXED + ((flags & MCB_LOG_DIGEST) != 0u ? 4u : 0u) +
                                  ((flags & MCB_LOG_TOP1) != 0u ? 4u : 0u) + 4u * ops;
    if (record_bytes > MCB_MAX_PAYLOAD - LOG_PAGE_HEAD) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE,
                              "a record of %u bytes does not fit a LOG_READ reply (%u)",
                              record_bytes, MCB_MAX_PAYLOAD - LOG_PAGE_HEAD, 0);
    }

    /*
     * The free middle of the arena, [head + peak, tail) from the arena's start:
     * the snapshot, then the page LOG_READ replies from, then the ring. Of R
     * records' room, the page takes what one reply carries, or all but the
     * ring's 16 when that is tight.
     */
    mcb_interpreter *it = &s->interpreter;
    mcb_arena_stats a;
    (void)mcb_interpreter_arena(it, &a);
    const uint64_t lo = (uint64_t)it->head + a.nonpersistent_bytes;
    const uint64_t hi = it->tail > lo ? it->tail : lo;
    const uint64_t page_at =
        (lo + copy_inputs(it, NULL, true) + LOG_ALIGN - 1u) / LOG_ALIGN * LOG_ALIGN;
    const uint64_t need = page_at - lo + LOG_PAGE_HEAD + (LOG_MIN_RECORDS + 1u) * record_bytes;
    if (need > hi - lo) {
        return mcb_proto_fail(p, ev, MCB_E_ARENA_TOO_SMALL, "log ring: need %u bytes, have %u",
                              (uint32_t)need, (uint32_t)(hi - lo), 0);
    }
    const uint64_t room = (hi - page_at - LOG_PAGE_HEAD) / record_bytes; /* >= 17 */
    const uint32_t per_reply = (MCB_MAX_PAYLOAD - LOG_PAGE_HEAD) / record_bytes;
    const uint32_t page_records =
        room - LOG_MIN_RECORDS < per_reply ? (uint32_t)(room - LOG_MIN_RECORDS) : per_reply;
    const uint64_t fit = room - page_records;
    const uint32_t capacity = fit < LOG_MAX_RECORDS ? (uint32_t)fit : LOG_MAX_RECORDS;

    mcb_log_state *log = &s->log;
    log->snapshot = it->arena + lo;
    (void)copy_inputs(it, log->snapshot, true);
    log->page = it->arena + page_at;
    log->page_records = page_records;
    (void)mcb_log_ring_init(&log->ring, log->page + LOG_PAGE_HEAD + page_records * record_bytes,
                            record_bytes, capacity);
    log->session = session;
    log->flags = flags;
    log->period = period;
    log->nodes = sg.n_operators;
    log->ops = ops;
    log->due = s->counter();
    log->active = true;
    log->readable = true;

    uint8_t out[12];
    uint8_t *w = put_u32(out, session);
    w = put_u32(w, capacity);
    w = put_u16(w, record_bytes);
    (void)put_u16(w, ops);
    return mcb_proto_reply(p, ev, NULL, 0, out, sizeof out);
}

/*
 * LOG_READ: u32 from_seq, u16 max_records, u16 0 -> u32 session, u32 oldest_seq,
 * u32 next_seq, u16 record_bytes, u16 n, u64 now_ticks, n records. Assembled in
 * the page: the records may wrap around the ring's end.
 */
static mcb_status on_log_read(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev)
{
    if (ev->len != 8u) {
        return bad_length(p, ev, 8u);
    }
    const mcb_log_state *log = &s->log;
    if (!log->readable) {
        return mcb_proto_fail(p, ev, MCB_E_STATE, "not logging (LOG_START first)", 0, 0, 0);
    }
    const uint32_t from = mcb_le_get_u32(ev->payload);
    const uint32_t max = mcb_le_get_u16(&ev->payload[4]);
    uint32_t first = 0;
    uint32_t n = 0;
    if (mcb_log_ring_copy(&log->ring, from, max < log->page_records ? max : log->page_records,
                          log->page + LOG_PAGE_HEAD, &first, &n) != MCB_OK) {
        return mcb_proto_fail(p, ev, MCB_E_OUT_OF_RANGE, "from_seq %u is past next_seq %u", from,
                              log->ring.next_seq, 0);
    }
    uint8_t *w = put_u32(log->page, log->session);
    w = put_u32(w, mcb_log_ring_oldest(&log->ring));
    w = put_u32(w, log->ring.next_seq);
    w = put_u16(w, log->ring.record_bytes);
    w = put_u16(w, n);
    (void)put_u64(w, s->counter());
    return mcb_proto_reply(p, ev, NULL, 0, log->page,
                           LOG_PAGE_HEAD + (size_t)n * log->ring.record_bytes);
}

/* LOG_STOP: empty -> u32 next_seq. */
static mcb_status on_log_stop(mcb_infer_service *s, const mcb_proto *p, const mcb_frame_event *ev)
{
    if (ev->len != 0u) {
        return bad_length(p, ev, 0u);
    }
    if (!s->log.readable) {
        return mcb_proto_fail(p, ev, MCB_E_STATE, "not logging (LOG_START first)", 0, 0, 0);
    }
    s->log.active = false;
    uint8_t out[4];
    (void)put_u32(out, s->log.ring.next_seq);
    return mcb_proto_reply(p, ev, NULL, 0, out, sizeof out);
}

/* ---- the service ------------------------------------------------------- */

static mcb_status handle(void *user, mcb_proto *p, const mcb_frame_event *ev)
{
    mcb_infer_service *s = user;
    switch (ev->opcode) {
    case MCB_REQ_MODEL_LOAD:
        return on_model_load(s, p, ev);
    case MCB_REQ_TENSOR_INFO:
        return on_tensor_info(s, p, ev);
    case MCB_REQ_INVOKE:
        return on_invoke(s, p, ev);
    case MCB_REQ_RESET:
        return on_reset(s, p, ev);
    case MCB_REQ_PROFILE:
        return on_profile(s, p, ev);
    case MCB_REQ_LOG_START:
        return on_log_start(s, p, ev);
    case MCB_REQ_LOG_READ:
        return on_log_read(s, p, ev);
    case MCB_REQ_LOG_STOP:
        return on_log_stop(s, p, ev);
    default:
        return mcb_proto_fail(p, ev, MCB_E_UNKNOWN_OPCODE, "unknown opcode %x", ev->opcode, 0, 0);
    }
}

/* Writes into the activations keep the model; anything else it lives on unloads it. */
static void will_write(void *user, uint32_t off, uint32_t len)
{
    mcb_infer_service *s = user;
    if (!s->loaded) {
        return;
    }
    mcb_arena_stats a;
    (void)mcb_interpreter_arena(&s->interpreter, &a);
    const uint32_t head = s->arena_offset + s->interpreter.head;
    const bool in_head = off >= head && len <= a.nonpersistent_bytes &&
                         off - head <= a.nonpersistent_bytes - len;
    const bool on_model = s->model_in_pool && overlaps(off, len, s->model_offset, s->model_bytes);
    const bool on_arena = overlaps(off, len, s->arena_offset, s->arena_bytes);
    if (on_model || (on_arena && !in_head)) {
        unload(s);
    }
}

mcb_status mcb_infer_service_init(mcb_infer_service *s, const mcb_kernel_registry *kernels,
                                  mcb_counter_fn counter, uint8_t *pool, uint32_t pool_bytes,
                                  const uint8_t *embedded, uint32_t embedded_bytes,
                                  mcb_proto_service *out)
{
    if (s == NULL || kernels == NULL || counter == NULL || out == NULL ||
        (pool == NULL && pool_bytes > 0)) {
        return MCB_ERR_ARG;
    }
    memset(s, 0, sizeof *s);
    s->kernels = kernels;
    s->counter = counter;
    s->pool = pool;
    s->pool_bytes = pool_bytes;
    s->embedded = embedded_bytes > 0 ? embedded : NULL;
    s->embedded_bytes = s->embedded != NULL ? embedded_bytes : 0u;
    memset(out, 0, sizeof *out);
    out->handle = handle;
    out->will_write = will_write;
    out->user = s;
    out->capabilities = MCB_CAP_INFERENCE | MCB_CAP_LOG;
#ifdef MCB_PROFILE
    s->profile.counter = counter;
    s->profile.node_ticks = s->node_ticks;
    s->profile.capacity = MCB_PROFILE_MAX_NODES;
    out->capabilities |= MCB_CAP_PROFILE;
#endif
    out->kernels = kernels->name;
    out->embedded_model_bytes = s->embedded_bytes;
    return MCB_OK;
}

mcb_status mcb_infer_service_poll(mcb_infer_service *s)
{
    if (s == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_log_state *log = &s->log;
    if (!log->active || (log->period != 0u && s->counter() < log->due)) {
        return MCB_OK;
    }
    (void)copy_inputs(&s->interpreter, log->snapshot, false);
#ifdef MCB_PROFILE
    /* Each record has its own inference's operators; PROFILE then shows the last one. */
    if (s->profiling) {
        memset(s->node_ticks, 0, (size_t)log->nodes * sizeof s->node_ticks[0]);
    }
#endif
    mcb_interp_error err;
    const uint64_t start = s->counter();
#ifdef MCB_PROFILE
    s->profile.start = start;
#endif
    const mcb_status st = mcb_interpreter_invoke(&s->interpreter, &err);
    const uint64_t ticks = s->counter() - start;
    /* Never closer than the period, even after a late start: the next is due a period on. */
    log->due = start + log->period;
#ifdef MCB_PROFILE
    s->profiled_count = 1u;
#endif
    uint32_t status = 0;
    if (st != MCB_OK) {
        status = err.code != MCB_INTERP_E_NONE ? (uint32_t)err.code : (uint32_t)MCB_INTERP_E_INVOKE;
    }
    log_record(s, status, start, ticks);
    return MCB_OK;
}

bool mcb_infer_service_busy(const mcb_infer_service *s)
{
    return s != NULL && s->log.active;
}
