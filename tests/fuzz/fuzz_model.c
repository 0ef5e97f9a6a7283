/*
 * libFuzzer target: the TFLite model reader. Build and run with
 * scripts/fuzz RUNS model.
 *
 * The input is the model file. mcb_model_open must either reject it with a
 * well-formed error (known code, NUL-terminated message, consistent indices)
 * or accept it; then every accessor is walked over the whole model and every
 * promise of mcb/model.h is checked: pointers inside the input, indices in
 * range, shapes and data sizes consistent, quantisation counts as documented.
 * Builtin option tables are untrusted tables the reader only checked at the
 * top: each is read with every flatbuf reader on every slot, and one level
 * of sub-tables below, so the generic reader is fuzzed too. ASan sees every
 * byte touched: libFuzzer hands over a heap copy of exactly size bytes.
 *
 * An accepted model is then prepared by the interpreter with the reference
 * kernels in a bounded arena (every kernel's prepare sees the hostile model)
 * and, if that succeeds and the model is at most INVOKE_MAX_BYTES (bigger
 * ones are the seeds' CNNs, millions of MACs per invoke under the sanitizers,
 * which would slow the fuzzer twentyfold), invoked once on zeroed inputs,
 * reset and invoked again; errors must be well formed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcb/flatbuf.h"
#include "mcb/interpreter.h"
#include "mcb/model.h"

#define ARENA_BYTES (64u * 1024u) /* bounds what a hostile model makes the kernels compute */

#define CHECK(cond)           \
    do {                      \
        if (!(cond)) {        \
            __builtin_trap(); \
        }                     \
    } while (0)

#define OPTION_SLOTS 12u /* fields probed per options table */

/* Everything returned must lie inside the input. */
static const uint8_t *g_base;
static size_t g_size;

static void check_inside(const void *p, size_t n)
{
    if (n == 0) {
        return;
    }
    const uint8_t *b = p;
    CHECK(b != NULL && b >= g_base && n <= g_size && (size_t)(b - g_base) <= g_size - n);
}

/* Reads every byte, so ASan checks the range (not only check_inside). */
static uint32_t touch(const void *p, size_t n)
{
    const volatile uint8_t *b = p;
    uint32_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += b[i];
    }
    return sum;
}

static void check_string(const mcb_fb_string *s)
{
    CHECK(s->data != NULL || s->len == 0);
    if (s->data != NULL) {
        check_inside(s->data, s->len);
        (void)touch(s->data, s->len);
    }
}

static void check_status(mcb_status st)
{
    CHECK(st == MCB_OK || st == MCB_ERR_RANGE);
}

static void probe_vector(const mcb_fb_vector *v)
{
    if (v->count == 0) {
        return;
    }
    check_inside(mcb_fb_vec_data(v), (size_t)v->count * v->elem_size);
    uint8_t u8;
    uint32_t u32;
    int32_t i32;
    int64_t i64;
    float f;
    mcb_fb_table t;
    mcb_fb_string s;
    /* Element accessors refuse a wrong size or index with MCB_ERR_ARG. */
    CHECK(mcb_fb_vec_u8(v, v->count, &u8) == MCB_ERR_ARG);
    const uint32_t n = v->count < 64u ? v->count : 64u;
    for (uint32_t i = 0; i < n; i++) {
        switch (v->elem_size) {
        case 1:
            CHECK(mcb_fb_vec_u8(v, i, &u8) == MCB_OK);
            break;
        case 4:
            CHECK(mcb_fb_vec_u32(v, i, &u32) == MCB_OK);
            CHECK(mcb_fb_vec_i32(v, i, &i32) == MCB_OK);
            CHECK(mcb_fb_vec_f32(v, i, &f) == MCB_OK);
            check_status(mcb_fb_vec_table(v, i, &t));
            check_status(mcb_fb_vec_string(v, i, &s));
            check_string(&s);
            break;
        case 8:
            CHECK(mcb_fb_vec_i64(v, i, &i64) == MCB_OK);
            break;
        default:
            CHECK(0);
        }
    }
}

/* Every reader on every probed slot; depth 0 also follows sub-tables once. */
static void probe_table(const mcb_fb_table *t, int depth)
{
    if (!mcb_fb_table_present(t)) {
        return;
    }
    check_inside(&t->buf[t->pos], t->size);
    check_inside(&t->buf[t->vt], t->vt_size);
    for (uint32_t slot = 0; slot < OPTION_SLOTS; slot++) {
        const uint16_t voff = MCB_FB_SLOT(slot);
        uint8_t u8;
        int8_t i8;
        bool b;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f;
        mcb_fb_vector v;
        mcb_fb_string s;
        mcb_fb_table sub;
        uint8_t type;
        check_status(mcb_fb_u8(t, voff, 7, &u8));
        check_status(mcb_fb_i8(t, voff, -7, &i8));
        check_status(mcb_fb_bool(t, voff, true, &b));
        check_status(mcb_fb_u16(t, voff, 7, &u16));
        check_status(mcb_fb_i16(t, voff, -7, &i16));
        check_status(mcb_fb_u32(t, voff, 7, &u32));
        check_status(mcb_fb_i32(t, voff, -7, &i32));
        check_status(mcb_fb_u64(t, voff, 7, &u64));
        check_status(mcb_fb_i64(t, voff, -7, &i64));
        check_status(mcb_fb_f32(t, voff, 1.5f, &f));
        static const uint32_t sizes[] = {1, 4, 8};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            const mcb_status st = mcb_fb_vector_field(t, voff, sizes[k], &v);
            check_status(st);
            if (st == MCB_OK) {
                probe_vector(&v);
            }
        }
        check_status(mcb_fb_string_field(t, voff, &s));
        check_string(&s);
        const mcb_status st = mcb_fb_table_field(t, voff, &sub);
        check_status(st);
        if (st == MCB_OK && depth == 0) {
            probe_table(&sub, 1); /* depth-bounded: one level */
        }
        check_status(mcb_fb_union_field(t, voff, MCB_FB_SLOT(slot + 1), &type, &sub));
    }
}

static void walk_tensor(const mcb_model *m, uint32_t sg, uint32_t i, uint32_t n_buffers)
{
    mcb_tensor_info t;
    CHECK(mcb_model_tensor(m, sg, i, &t) == MCB_OK);
    CHECK(t.rank <= MCB_MODEL_MAX_RANK && (t.rank == 0) == (t.shape == NULL));
    check_inside(t.shape, 4u * t.rank);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < t.rank; d++) {
        CHECK(t.shape[d] >= 0);
        elements *= (uint64_t)t.shape[d];
    }
    CHECK((uint32_t)t.type < MCB_TYPE_COUNT);
    CHECK(t.buffer < n_buffers);
    CHECK((t.data == NULL) == (t.data_bytes == 0));
    check_inside(t.data, t.data_bytes);
    (void)touch(t.data, t.data_bytes);
    const uint32_t bits = mcb_tensor_type_bits(t.type);
    if (t.data_bytes != 0 && bits != 0) {
        CHECK((uint64_t)t.data_bytes == (elements * bits + 7u) / 8u);
    }
    const uint8_t *data;
    uint32_t bytes;
    CHECK(mcb_model_buffer(m, t.buffer, &data, &bytes) == MCB_OK);
    CHECK(data == t.data && bytes == t.data_bytes);
    const mcb_quant_info *q = &t.quant;
    CHECK(q->n_zero_points == 0 || q->n_zero_points == q->n_scales);
    CHECK(q->quantized_dimension >= 0);
    if (t.rank > 0) {
        CHECK((uint32_t)q->quantized_dimension < t.rank);
    }
    if (q->n_scales > 1) {
        CHECK(t.rank > 0 && (int64_t)q->n_scales == t.shape[q->quantized_dimension]);
    }
    check_inside(q->scale, 4u * (size_t)q->n_scales);
    check_inside(q->zero_point, 8u * (size_t)q->n_zero_points);
    float sum = 0.0f;
    for (uint32_t k = 0; k < q->n_scales; k++) {
        sum += mcb_quant_scale(q, k);
        (void)mcb_quant_zero_point(q, k);
    }
    (void)sum;
    CHECK(mcb_quant_scale(q, q->n_scales) == 0.0f);
    CHECK(mcb_quant_zero_point(q, q->n_scales) == 0);
    check_string(&t.name);
}

static void check_indices(const int32_t *idx, uint32_t n, uint32_t n_tensors, bool optional)
{
    check_inside(idx, 4u * (size_t)n);
    CHECK((idx == NULL) == (n == 0));
    for (uint32_t i = 0; i < n; i++) {
        CHECK(idx[i] >= (optional ? -1 : 0) && (idx[i] < 0 || (uint32_t)idx[i] < n_tensors));
    }
}

static void walk_operator(const mcb_model *m, uint32_t sg, uint32_t i, uint32_t n_tensors)
{
    mcb_operator_info op;
    mcb_opcode_info oc;
    mcb_fb_string name;
    CHECK(mcb_model_operator(m, sg, i, &op) == MCB_OK);
    CHECK(op.opcode_index < mcb_model_opcode_count(m));
    CHECK(mcb_model_opcode(m, op.opcode_index, &oc) == MCB_OK);
    CHECK(oc.builtin_code == op.builtin_code && oc.custom_name.data == op.custom_name.data &&
          oc.custom_name.len == op.custom_name.len);
    CHECK(mcb_model_custom_name(m, sg, i, &name) == MCB_OK);
    CHECK(name.data == op.custom_name.data && name.len == op.custom_name.len);
    check_indices(op.inputs, op.n_inputs, n_tensors, true);
    check_indices(op.outputs, op.n_outputs, n_tensors, true);
    check_indices(op.intermediates, op.n_intermediates, n_tensors, true);
    CHECK(op.options_type <= MCB_BUILTIN_OPTIONS_MAX);
    CHECK(op.options2_type <= MCB_BUILTIN_OPTIONS2_MAX);
    CHECK(op.options_type != 0 || !mcb_fb_table_present(&op.options));
    CHECK(op.options2_type != 0 || !mcb_fb_table_present(&op.options2));
    probe_table(&op.options, 0);
    probe_table(&op.options2, 0);
}

static void walk(const mcb_model *m)
{
    mcb_subgraph_info si;
    mcb_tensor_info ti;
    mcb_operator_info oi;
    mcb_opcode_info oc;
    const uint8_t *data;
    uint32_t bytes;
    const uint32_t n_sg = mcb_model_subgraph_count(m);
    const uint32_t n_opcodes = mcb_model_opcode_count(m);
    const uint32_t n_buffers = mcb_model_buffer_count(m);
    CHECK(n_sg >= 1 && n_sg <= MCB_MODEL_MAX_SUBGRAPHS);
    for (uint32_t i = 0; i < n_opcodes; i++) {
        CHECK(mcb_model_opcode(m, i, &oc) == MCB_OK);
        CHECK(oc.builtin_code >= 0);
        CHECK(oc.builtin_code != MCB_BUILTIN_CUSTOM || oc.custom_name.data != NULL);
        check_string(&oc.custom_name);
    }
    for (uint32_t i = 0; i < n_buffers; i++) {
        CHECK(mcb_model_buffer(m, i, &data, &bytes) == MCB_OK);
        check_inside(data, bytes);
    }
    for (uint32_t sg = 0; sg < n_sg; sg++) {
        CHECK(mcb_model_subgraph(m, sg, &si) == MCB_OK);
        CHECK(si.n_tensors <= MCB_MODEL_MAX_TENSORS && si.n_operators <= MCB_MODEL_MAX_OPERATORS);
        check_indices(si.inputs, si.n_inputs, si.n_tensors, false);
        check_indices(si.outputs, si.n_outputs, si.n_tensors, false);
        check_string(&si.name);
        for (uint32_t i = 0; i < si.n_tensors; i++) {
            walk_tensor(m, sg, i, n_buffers);
        }
        for (uint32_t i = 0; i < si.n_operators; i++) {
            walk_operator(m, sg, i, si.n_tensors);
        }
        CHECK(mcb_model_tensor(m, sg, si.n_tensors, &ti) == MCB_ERR_ARG);
        CHECK(mcb_model_operator(m, sg, si.n_operators, &oi) == MCB_ERR_ARG);
    }
    /* Out of range or NULL: refused, never read. */
    CHECK(mcb_model_subgraph(m, n_sg, &si) == MCB_ERR_ARG);
    CHECK(mcb_model_tensor(m, n_sg, 0, &ti) == MCB_ERR_ARG);
    CHECK(mcb_model_opcode(m, n_opcodes, &oc) == MCB_ERR_ARG);
    CHECK(mcb_model_buffer(m, n_buffers, &data, &bytes) == MCB_ERR_ARG);
    CHECK(mcb_model_tensor(m, 0, 0, NULL) == MCB_ERR_ARG);
}

static void check_error(const mcb_model *m, mcb_status st, const mcb_model_error *e)
{
    mcb_subgraph_info si;
    CHECK(st == MCB_ERR_FORMAT || (st == MCB_ERR_ARG && e->code == MCB_MODEL_E_ARG));
    CHECK(e->code > MCB_MODEL_E_NONE && e->code <= MCB_MODEL_E_UNSUPPORTED);
    CHECK(strcmp(mcb_model_error_name(e->code), "?") != 0);
    CHECK(memchr(e->message, '\0', sizeof e->message) != NULL && e->message[0] != '\0');
    CHECK(e->subgraph >= -1 && e->op >= -1 && e->tensor >= -1);
    CHECK(e->op < 0 || e->tensor < 0);
    CHECK(e->subgraph >= 0 || (e->op < 0 && e->tensor < 0));
    CHECK(e->subgraph < (int32_t)MCB_MODEL_MAX_SUBGRAPHS);
    /* A rejected model is unusable. */
    CHECK(mcb_model_subgraph_count(m) == 0 && mcb_model_opcode_count(m) == 0);
    CHECK(mcb_model_subgraph(m, 0, &si) == MCB_ERR_STATE);
}

static void check_interp_error(const mcb_interp_error *e)
{
    CHECK(e->code > MCB_INTERP_E_NONE && e->code <= MCB_INTERP_E_INVOKE);
    CHECK(strcmp(mcb_interp_error_name(e->code), "?") != 0);
    CHECK(memchr(e->message, '\0', sizeof e->message) != NULL && e->message[0] != '\0');
    CHECK(e->node >= -1 && e->subgraph >= 0 && e->subgraph < (int32_t)MCB_MODEL_MAX_SUBGRAPHS);
    CHECK(e->code != MCB_INTERP_E_ARENA || e->arena_need > ARENA_BYTES);
}

#define INVOKE_MAX_BYTES (40u * 1024u)

/* Prepare with the reference kernels; if it succeeds, invoke on zeroed inputs. */
static void run(const mcb_model *m, size_t size)
{
    static uint64_t arena[ARENA_BYTES / 8u]; /* static, as on the device */
    static mcb_interpreter it;
    mcb_interp_error err;
    if (mcb_interpreter_init(&it, m, arena, sizeof arena, mcb_kernels_reference(), &err) !=
        MCB_OK) {
        check_interp_error(&err);
        return;
    }
    mcb_arena_stats stats;
    CHECK(mcb_interpreter_arena(&it, &stats) == MCB_OK && stats.required_bytes <= sizeof arena);
    for (uint32_t i = 0; i < mcb_interpreter_input_count(&it); i++) {
        mcb_tensor_view v;
        CHECK(mcb_interpreter_tensor(&it, (uint32_t)mcb_interpreter_input(&it, i), &v) == MCB_OK);
        if (v.data != NULL) {
            memset(v.data, 0, v.bytes);
        }
    }
    for (int round = 0; round < 2 && size <= INVOKE_MAX_BYTES; round++) {
        if (mcb_interpreter_invoke(&it, &err) != MCB_OK) {
            check_interp_error(&err);
            return;
        }
        CHECK(mcb_interpreter_reset(&it, &err) == MCB_OK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mcb_model model; /* ~700 bytes: static, as on the device */
    mcb_model_error err;
    g_base = data;
    g_size = size;
    const mcb_status st = mcb_model_open(&model, data, size, &err);
    if (st != MCB_OK) {
        check_error(&model, st, &err);
        return 0;
    }
    CHECK(err.code == MCB_MODEL_E_NONE && err.subgraph == -1 && err.op == -1 && err.tensor == -1);
    walk(&model);
    run(&model, size);
    return 0;
}
