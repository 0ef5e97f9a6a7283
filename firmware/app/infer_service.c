/* Inference requests (mcb/infer_service.h); payload layouts in docs/protocol.md. */
#include "mcb/infer_service.h"

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
    const uint8_t source = ev->payload[0];
    uint32_t offset = mcb_le_get_u32(&ev->payload[4]);
    uint32_t length = mcb_le_get_u32(&ev->payload[8]);
    const uint8_t *model;
    s->loaded = false; /* whatever happens, the old model is gone */
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
#ifndef MCB_PROFILE
    (void)s;
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
        s->loaded = false;
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
    out->capabilities = MCB_CAP_INFERENCE;
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
