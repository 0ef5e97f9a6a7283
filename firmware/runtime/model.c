/*
 * TFLite model reader (mcb/model.h): validation once in mcb_model_open, then
 * accessors that re-read the same fields with the same code (read_* below),
 * so an accessor can never see something validation did not check.
 */
#include "mcb/model.h"

#include <string.h>

#include "mcb/msg.h"

/*
 * vtable offsets: MCB_FB_SLOT(i) for the i-th field of each schema table
 * (tflite_micro's schema_py_generated.py; union fields take two slots).
 */
#define MODEL_VERSION MCB_FB_SLOT(0)
#define MODEL_OPERATOR_CODES MCB_FB_SLOT(1)
#define MODEL_SUBGRAPHS MCB_FB_SLOT(2)
#define MODEL_BUFFERS MCB_FB_SLOT(4)

#define OPCODE_DEPRECATED_BUILTIN MCB_FB_SLOT(0) /* int8 */
#define OPCODE_CUSTOM_CODE MCB_FB_SLOT(1)
#define OPCODE_VERSION MCB_FB_SLOT(2)
#define OPCODE_BUILTIN MCB_FB_SLOT(3) /* int32 */

#define SUBGRAPH_TENSORS MCB_FB_SLOT(0)
#define SUBGRAPH_INPUTS MCB_FB_SLOT(1)
#define SUBGRAPH_OUTPUTS MCB_FB_SLOT(2)
#define SUBGRAPH_OPERATORS MCB_FB_SLOT(3)
#define SUBGRAPH_NAME MCB_FB_SLOT(4)

#define TENSOR_SHAPE MCB_FB_SLOT(0)
#define TENSOR_TYPE MCB_FB_SLOT(1)
#define TENSOR_BUFFER MCB_FB_SLOT(2)
#define TENSOR_NAME MCB_FB_SLOT(3)
#define TENSOR_QUANTIZATION MCB_FB_SLOT(4)
#define TENSOR_IS_VARIABLE MCB_FB_SLOT(5)
#define TENSOR_SPARSITY MCB_FB_SLOT(6)
#define TENSOR_EXTERNAL_BUFFER MCB_FB_SLOT(10)

#define QUANT_SCALE MCB_FB_SLOT(2)
#define QUANT_ZERO_POINT MCB_FB_SLOT(3)
#define QUANT_DETAILS_TYPE MCB_FB_SLOT(4)
#define QUANT_QUANTIZED_DIMENSION MCB_FB_SLOT(6)

#define OP_OPCODE_INDEX MCB_FB_SLOT(0)
#define OP_INPUTS MCB_FB_SLOT(1)
#define OP_OUTPUTS MCB_FB_SLOT(2)
#define OP_OPTIONS_TYPE MCB_FB_SLOT(3)
#define OP_OPTIONS MCB_FB_SLOT(4)
#define OP_INTERMEDIATES MCB_FB_SLOT(8)
#define OP_LARGE_CUSTOM_OPTIONS_OFFSET MCB_FB_SLOT(9)
#define OP_OPTIONS2_TYPE MCB_FB_SLOT(11)
#define OP_OPTIONS2 MCB_FB_SLOT(12)

#define BUFFER_DATA MCB_FB_SLOT(0)
#define BUFFER_OFFSET MCB_FB_SLOT(1)

/* ---- spans: validated vectors, stored compactly in mcb_model ------------ */

static mcb_fb_vector span_vector(const mcb_model *m, mcb_model_span s, uint32_t elem_size)
{
    const mcb_fb_vector v = {
        .buf = m->buf, .len = m->len, .pos = s.pos, .count = s.count, .elem_size = elem_size};
    return v;
}

static mcb_model_span vector_span(const mcb_fb_vector *v)
{
    const mcb_model_span s = {.pos = v->pos, .count = v->count};
    return s;
}

/* An int32 vector in place: the buffer and the vector start are 4-aligned. */
static const int32_t *i32_array(const mcb_fb_vector *v)
{
    return (const int32_t *)(const void *)mcb_fb_vec_data(v);
}

/* ---- raw readers, shared by validation and accessors -------------------- */

/* Stops at the first failed read, naming the field in *field. */
#define READ(name, call)               \
    do {                               \
        const mcb_status st_ = (call); \
        if (st_ != MCB_OK) {           \
            *field = (name);           \
            return st_;                \
        }                              \
    } while (0)

static mcb_status read_opcode(const mcb_fb_table *t, mcb_opcode_info *out, const char **field)
{
    int8_t deprecated;
    int32_t builtin;
    READ("deprecated_builtin_code", mcb_fb_i8(t, OPCODE_DEPRECATED_BUILTIN, 0, &deprecated));
    READ("builtin_code", mcb_fb_i32(t, OPCODE_BUILTIN, 0, &builtin));
    READ("custom_code", mcb_fb_string_field(t, OPCODE_CUSTOM_CODE, &out->custom_name));
    READ("version", mcb_fb_i32(t, OPCODE_VERSION, 1, &out->version));
    /* Codes > 127 live in builtin_code only; older files set only the int8 field. */
    out->builtin_code = builtin > deprecated ? builtin : deprecated;
    return MCB_OK;
}

static mcb_status read_buffer(const mcb_fb_table *t, const uint8_t **data, uint32_t *bytes,
                              uint64_t *offset, const char **field)
{
    mcb_fb_vector v;
    READ("data", mcb_fb_vector_field(t, BUFFER_DATA, 1, &v));
    READ("offset", mcb_fb_u64(t, BUFFER_OFFSET, 0, offset));
    *data = mcb_fb_vec_data(&v);
    *bytes = v.count;
    return MCB_OK;
}

static mcb_status buffer_table(const mcb_model *m, uint32_t i, mcb_fb_table *out)
{
    const mcb_fb_vector v = span_vector(m, m->buffers, 4);
    return mcb_fb_vec_table(&v, i, out);
}

static mcb_status opcode_table(const mcb_model *m, uint32_t i, mcb_fb_table *out)
{
    const mcb_fb_vector v = span_vector(m, m->opcodes, 4);
    return mcb_fb_vec_table(&v, i, out);
}

typedef struct {
    mcb_fb_vector tensors;
    mcb_fb_vector operators;
    mcb_fb_vector inputs;
    mcb_fb_vector outputs;
    mcb_fb_string name;
} subgraph_raw;

static mcb_status read_subgraph(const mcb_fb_table *t, subgraph_raw *out, const char **field)
{
    READ("tensors", mcb_fb_vector_field(t, SUBGRAPH_TENSORS, 4, &out->tensors));
    READ("operators", mcb_fb_vector_field(t, SUBGRAPH_OPERATORS, 4, &out->operators));
    READ("inputs", mcb_fb_vector_field(t, SUBGRAPH_INPUTS, 4, &out->inputs));
    READ("outputs", mcb_fb_vector_field(t, SUBGRAPH_OUTPUTS, 4, &out->outputs));
    READ("name", mcb_fb_string_field(t, SUBGRAPH_NAME, &out->name));
    return MCB_OK;
}

/* Tensor fields that validation needs but mcb_tensor_info does not carry. */
typedef struct {
    int8_t type;
    bool sparse;
    uint32_t external_buffer;
    uint8_t quant_details;
} tensor_raw;

static mcb_status read_tensor(const mcb_model *m, const mcb_fb_table *t, mcb_tensor_info *out,
                              tensor_raw *raw, const char **field)
{
    mcb_fb_vector shape;
    mcb_fb_vector scale;
    mcb_fb_vector zero_point;
    mcb_fb_table quant;
    mcb_fb_table sparsity;
    memset(out, 0, sizeof *out);
    READ("shape", mcb_fb_vector_field(t, TENSOR_SHAPE, 4, &shape));
    READ("type", mcb_fb_i8(t, TENSOR_TYPE, 0, &raw->type));
    READ("buffer", mcb_fb_u32(t, TENSOR_BUFFER, 0, &out->buffer));
    READ("name", mcb_fb_string_field(t, TENSOR_NAME, &out->name));
    READ("is_variable", mcb_fb_bool(t, TENSOR_IS_VARIABLE, false, &out->is_variable));
    READ("sparsity", mcb_fb_table_field(t, TENSOR_SPARSITY, &sparsity));
    READ("external_buffer", mcb_fb_u32(t, TENSOR_EXTERNAL_BUFFER, 0, &raw->external_buffer));
    /* An absent quantization table reads as the empty table: every field default. */
    READ("quantization", mcb_fb_table_field(t, TENSOR_QUANTIZATION, &quant));
    READ("quantization scale", mcb_fb_vector_field(&quant, QUANT_SCALE, 4, &scale));
    READ("quantization zero_point", mcb_fb_vector_field(&quant, QUANT_ZERO_POINT, 8, &zero_point));
    READ("quantization details_type", mcb_fb_u8(&quant, QUANT_DETAILS_TYPE, 0, &raw->quant_details));
    READ("quantized_dimension", mcb_fb_i32(&quant, QUANT_QUANTIZED_DIMENSION, 0,
                                           &out->quant.quantized_dimension));
    raw->sparse = mcb_fb_table_present(&sparsity);
    out->shape = i32_array(&shape);
    out->rank = shape.count;
    out->type = (mcb_tensor_type)(uint8_t)raw->type; /* range checked by validation */
    out->quant.n_scales = scale.count;
    out->quant.scale = mcb_fb_vec_data(&scale);
    out->quant.n_zero_points = zero_point.count;
    out->quant.zero_point = mcb_fb_vec_data(&zero_point);
    if (out->buffer < m->buffers.count) { /* else validation reports the index */
        mcb_fb_table b;
        uint64_t offset;
        READ("buffer", buffer_table(m, out->buffer, &b));
        READ("buffer data", read_buffer(&b, &out->data, &out->data_bytes, &offset, field));
    }
    return MCB_OK;
}

static mcb_status read_operator(const mcb_model *m, const mcb_fb_table *t, mcb_operator_info *out,
                                uint64_t *large_custom_offset, const char **field)
{
    mcb_fb_vector inputs;
    mcb_fb_vector outputs;
    mcb_fb_vector intermediates;
    memset(out, 0, sizeof *out);
    READ("opcode_index", mcb_fb_u32(t, OP_OPCODE_INDEX, 0, &out->opcode_index));
    READ("inputs", mcb_fb_vector_field(t, OP_INPUTS, 4, &inputs));
    READ("outputs", mcb_fb_vector_field(t, OP_OUTPUTS, 4, &outputs));
    READ("intermediates", mcb_fb_vector_field(t, OP_INTERMEDIATES, 4, &intermediates));
    READ("builtin_options", mcb_fb_union_field(t, OP_OPTIONS_TYPE, OP_OPTIONS, &out->options_type,
                                               &out->options));
    READ("builtin_options_2", mcb_fb_union_field(t, OP_OPTIONS2_TYPE, OP_OPTIONS2,
                                                 &out->options2_type, &out->options2));
    READ("large_custom_options_offset",
         mcb_fb_u64(t, OP_LARGE_CUSTOM_OPTIONS_OFFSET, 0, large_custom_offset));
    out->inputs = i32_array(&inputs);
    out->n_inputs = inputs.count;
    out->outputs = i32_array(&outputs);
    out->n_outputs = outputs.count;
    out->intermediates = i32_array(&intermediates);
    out->n_intermediates = intermediates.count;
    if (out->opcode_index < m->opcodes.count) { /* else validation reports the index */
        mcb_fb_table code;
        mcb_opcode_info info;
        READ("opcode", opcode_table(m, out->opcode_index, &code));
        READ("opcode", read_opcode(&code, &info, field));
        out->builtin_code = info.builtin_code;
        out->custom_name = info.custom_name;
    }
    return MCB_OK;
}

#undef READ

/* ---- validation --------------------------------------------------------- */

/*
 * Where validation is. err's subgraph/op/tensor are set while descending;
 * item names a model-level entry ("operator code", "buffer") outside them.
 */
typedef struct {
    mcb_model_error *err;
    const char *item;
    uint32_t item_index;
} checker;

/*
 * Records an error: "<where>[ <field>]<fmt>", fmt as mcb_msg_fmt. Returns the
 * status mcb_model_open gives for every invalid model.
 */
static mcb_status fail(const checker *c, mcb_model_errcode code, const char *field, const char *fmt,
                       uint32_t a, uint32_t b, uint32_t d)
{
    mcb_model_error *e = c->err;
    mcb_msg m;
    e->code = code;
    mcb_msg_init(&m, e->message, sizeof e->message);
    if (e->subgraph >= 0) {
        mcb_msg_fmt(&m, "subgraph %u", (uint32_t)e->subgraph, 0, 0);
        if (e->op >= 0) {
            mcb_msg_fmt(&m, " operator %u", (uint32_t)e->op, 0, 0);
        } else if (e->tensor >= 0) {
            mcb_msg_fmt(&m, " tensor %u", (uint32_t)e->tensor, 0, 0);
        }
    } else if (c->item != NULL) {
        mcb_msg_str(&m, c->item);
        mcb_msg_fmt(&m, " %u", c->item_index, 0, 0);
    } else {
        mcb_msg_str(&m, "model");
    }
    if (field != NULL) {
        mcb_msg_char(&m, ' ');
        mcb_msg_str(&m, field);
    }
    mcb_msg_fmt(&m, fmt, a, b, d);
    return code == MCB_MODEL_E_ARG ? MCB_ERR_ARG : MCB_ERR_FORMAT;
}

/* A read of field failed: it points outside the buffer, its table, or is misaligned. */
static mcb_status fail_read(const checker *c, const char *field)
{
    return fail(c, MCB_MODEL_E_OUT_OF_BOUNDS, field, ": outside the buffer or misaligned", 0, 0, 0);
}

static mcb_status check_opcode(checker *c, const mcb_model *m, uint32_t i)
{
    mcb_fb_table t;
    mcb_opcode_info info;
    const char *field = NULL;
    c->item = "operator code";
    c->item_index = i;
    if (opcode_table(m, i, &t) != MCB_OK) {
        return fail_read(c, NULL);
    }
    if (read_opcode(&t, &info, &field) != MCB_OK) {
        return fail_read(c, field);
    }
    if (info.builtin_code < 0) {
        return fail(c, MCB_MODEL_E_BAD_TYPE, "builtin code", " %d is negative",
                    (uint32_t)info.builtin_code, 0, 0);
    }
    if (info.builtin_code == MCB_BUILTIN_CUSTOM && info.custom_name.data == NULL) {
        return fail(c, MCB_MODEL_E_MISSING, "custom_code", ": absent for a CUSTOM operator", 0, 0,
                    0);
    }
    return MCB_OK;
}

static mcb_status check_buffer(checker *c, const mcb_model *m, uint32_t i)
{
    mcb_fb_table t;
    const uint8_t *data;
    uint32_t bytes;
    uint64_t offset;
    const char *field = NULL;
    c->item = "buffer";
    c->item_index = i;
    if (buffer_table(m, i, &t) != MCB_OK) {
        return fail_read(c, NULL);
    }
    if (read_buffer(&t, &data, &bytes, &offset, &field) != MCB_OK) {
        return fail_read(c, field);
    }
    /* The schema: offset/size locate data after the flatbuffer, "only valid if > 1". */
    if (offset > 1) {
        return fail(c, MCB_MODEL_E_UNSUPPORTED, "offset/size",
                    ": data outside the flatbuffer (models over 2 GB) not supported", 0, 0, 0);
    }
    return MCB_OK;
}

/* Tensor indices of a subgraph or operator list; optional lists allow -1. */
static mcb_status check_indices(const checker *c, const char *field, const int32_t *idx,
                                uint32_t count, uint32_t n_tensors, bool optional)
{
    for (uint32_t i = 0; i < count; i++) {
        const int32_t t = idx[i];
        if (t < (optional ? -1 : 0)) {
            return fail(c, MCB_MODEL_E_BAD_INDEX, field, " %u: tensor index %d is negative", i,
                        (uint32_t)t, 0);
        }
        if (t >= 0 && (uint32_t)t >= n_tensors) {
            return fail(c, MCB_MODEL_E_BAD_INDEX, field, " %u: tensor index %d >= %u tensors", i,
                        (uint32_t)t, n_tensors);
        }
    }
    return MCB_OK;
}

static mcb_status check_quant(const checker *c, const mcb_tensor_info *t, const tensor_raw *raw)
{
    const mcb_quant_info *q = &t->quant;
    const int32_t qdim = q->quantized_dimension;
    if (raw->quant_details != 0) {
        return fail(c, MCB_MODEL_E_UNSUPPORTED, "quantization",
                    ": details type %u (custom/blockwise) not supported", raw->quant_details, 0, 0);
    }
    if (q->n_zero_points != 0 && q->n_zero_points != q->n_scales) {
        return fail(c, MCB_MODEL_E_BAD_QUANT, "quantization", ": %u zero points for %u scales",
                    q->n_zero_points, q->n_scales, 0);
    }
    if (qdim < 0) {
        return fail(c, MCB_MODEL_E_BAD_QUANT, "quantized_dimension", " %d is negative",
                    (uint32_t)qdim, 0, 0);
    }
    if (t->rank > 0 && (uint32_t)qdim >= t->rank) {
        return fail(c, MCB_MODEL_E_BAD_QUANT, "quantized_dimension", " %u >= rank %u",
                    (uint32_t)qdim, t->rank, 0);
    }
    if (q->n_scales > 1) {
        if (t->rank == 0) {
            return fail(c, MCB_MODEL_E_BAD_QUANT, "quantization", ": %u scales for a scalar",
                        q->n_scales, 0, 0);
        }
        if ((int64_t)q->n_scales != t->shape[qdim]) {
            return fail(c, MCB_MODEL_E_BAD_QUANT, "quantization",
                        ": %u scales for dimension %u of size %d", q->n_scales, (uint32_t)qdim,
                        (uint32_t)t->shape[qdim]);
        }
    }
    return MCB_OK;
}

static mcb_status check_tensor(const checker *c, const mcb_model *m, const mcb_fb_table *table)
{
    mcb_tensor_info t;
    tensor_raw raw;
    const char *field = NULL;
    if (read_tensor(m, table, &t, &raw, &field) != MCB_OK) {
        return fail_read(c, field);
    }
    if (raw.type < 0 || raw.type >= (int8_t)MCB_TYPE_COUNT) {
        return fail(c, MCB_MODEL_E_BAD_TYPE, "type", " %d is not a TensorType (0..%u)",
                    (uint32_t)(int32_t)raw.type, MCB_TYPE_COUNT - 1u, 0);
    }
    if (t.buffer >= m->buffers.count) {
        return fail(c, MCB_MODEL_E_BAD_INDEX, "buffer", " index %u >= %u buffers", t.buffer,
                    m->buffers.count, 0);
    }
    if (raw.sparse) {
        return fail(c, MCB_MODEL_E_UNSUPPORTED, NULL, ": sparse tensors not supported", 0, 0, 0);
    }
    if (raw.external_buffer != 0) {
        return fail(c, MCB_MODEL_E_UNSUPPORTED, "external_buffer", " %u: not supported",
                    raw.external_buffer, 0, 0);
    }
    if (t.rank > MCB_MODEL_MAX_RANK) {
        return fail(c, MCB_MODEL_E_LIMIT, "shape", ": rank %u > %u", t.rank, MCB_MODEL_MAX_RANK,
                    0);
    }
    /* Elements <= 2^31 after every step, so the product stays far below 2^64. */
    uint64_t elements = 1;
    for (uint32_t i = 0; i < t.rank; i++) {
        if (t.shape[i] < 0) {
            return fail(c, MCB_MODEL_E_BAD_SHAPE, "shape", "[%u] = %d is negative", i,
                        (uint32_t)t.shape[i], 0);
        }
        elements *= (uint64_t)t.shape[i];
        if (elements > MCB_FB_MAX_SIZE) {
            return fail(c, MCB_MODEL_E_LIMIT, "shape", ": over %u elements", MCB_FB_MAX_SIZE, 0,
                        0);
        }
    }
    const uint32_t bits = mcb_tensor_type_bits(t.type);
    const uint64_t bytes = (elements * bits + 7u) / 8u; /* int4/int2 are packed */
    if (bytes > MCB_FB_MAX_SIZE) {
        return fail(c, MCB_MODEL_E_LIMIT, "shape", ": over %u bytes", MCB_FB_MAX_SIZE, 0, 0);
    }
    /* Constant data must be exactly what the kernels will read, as TFLite requires. */
    if (t.data_bytes != 0 && bits != 0 && t.data_bytes != bytes) {
        return fail(c, MCB_MODEL_E_BAD_BUFFER, "buffer", " %u: %u bytes, shape and type need %u",
                    t.buffer, t.data_bytes, (uint32_t)bytes);
    }
    return check_quant(c, &t, &raw);
}

static mcb_status check_operator(const checker *c, const mcb_model *m, const mcb_fb_table *table,
                                 uint32_t n_tensors)
{
    mcb_operator_info op;
    uint64_t large_custom_offset;
    const char *field = NULL;
    mcb_status st;
    if (read_operator(m, table, &op, &large_custom_offset, &field) != MCB_OK) {
        return fail_read(c, field);
    }
    if (op.opcode_index >= m->opcodes.count) {
        return fail(c, MCB_MODEL_E_BAD_INDEX, "opcode_index", " %u >= %u operator codes",
                    op.opcode_index, m->opcodes.count, 0);
    }
    if ((st = check_indices(c, "input", op.inputs, op.n_inputs, n_tensors, true)) != MCB_OK ||
        (st = check_indices(c, "output", op.outputs, op.n_outputs, n_tensors, true)) != MCB_OK ||
        (st = check_indices(c, "intermediate", op.intermediates, op.n_intermediates, n_tensors,
                            true)) != MCB_OK) {
        return st;
    }
    if (op.options_type > MCB_BUILTIN_OPTIONS_MAX) {
        return fail(c, MCB_MODEL_E_BAD_TYPE, "builtin_options_type", " %u > %u", op.options_type,
                    MCB_BUILTIN_OPTIONS_MAX, 0);
    }
    if (op.options2_type > MCB_BUILTIN_OPTIONS2_MAX) {
        return fail(c, MCB_MODEL_E_BAD_TYPE, "builtin_options_2_type", " %u > %u",
                    op.options2_type, MCB_BUILTIN_OPTIONS2_MAX, 0);
    }
    if (large_custom_offset > 1) {
        return fail(c, MCB_MODEL_E_UNSUPPORTED, "large_custom_options",
                    ": outside the flatbuffer, not supported", 0, 0, 0);
    }
    return MCB_OK;
}

static mcb_status check_subgraph(checker *c, mcb_model *m, uint32_t index, const mcb_fb_table *t)
{
    mcb_model_error *e = c->err;
    subgraph_raw sg;
    const char *field = NULL;
    mcb_status st;
    e->subgraph = (int32_t)index;
    if (read_subgraph(t, &sg, &field) != MCB_OK) {
        return fail_read(c, field);
    }
    const uint32_t n_tensors = sg.tensors.count;
    if (n_tensors > MCB_MODEL_MAX_TENSORS) {
        return fail(c, MCB_MODEL_E_LIMIT, NULL, ": %u tensors > %u", n_tensors,
                    MCB_MODEL_MAX_TENSORS, 0);
    }
    if (sg.operators.count > MCB_MODEL_MAX_OPERATORS) {
        return fail(c, MCB_MODEL_E_LIMIT, NULL, ": %u operators > %u", sg.operators.count,
                    MCB_MODEL_MAX_OPERATORS, 0);
    }
    if ((st = check_indices(c, "input", i32_array(&sg.inputs), sg.inputs.count, n_tensors,
                            false)) != MCB_OK ||
        (st = check_indices(c, "output", i32_array(&sg.outputs), sg.outputs.count, n_tensors,
                            false)) != MCB_OK) {
        return st;
    }
    for (uint32_t i = 0; i < n_tensors; i++) {
        mcb_fb_table tensor;
        e->tensor = (int32_t)i;
        if (mcb_fb_vec_table(&sg.tensors, i, &tensor) != MCB_OK) {
            return fail_read(c, NULL);
        }
        if ((st = check_tensor(c, m, &tensor)) != MCB_OK) {
            return st;
        }
    }
    e->tensor = -1;
    for (uint32_t i = 0; i < sg.operators.count; i++) {
        mcb_fb_table op;
        e->op = (int32_t)i;
        if (mcb_fb_vec_table(&sg.operators, i, &op) != MCB_OK) {
            return fail_read(c, NULL);
        }
        if ((st = check_operator(c, m, &op, n_tensors)) != MCB_OK) {
            return st;
        }
    }
    e->op = -1;
    e->subgraph = -1;
    mcb_model_sg *out = &m->subgraphs[index];
    out->tensors = vector_span(&sg.tensors);
    out->operators = vector_span(&sg.operators);
    out->inputs = vector_span(&sg.inputs);
    out->outputs = vector_span(&sg.outputs);
    out->name.pos = sg.name.data != NULL ? (uint32_t)((const uint8_t *)sg.name.data - m->buf) : 0u;
    out->name.count = sg.name.len;
    return MCB_OK;
}

/* Everything below the root table; m->buf and m->len are set. */
static mcb_status check_model(checker *c, mcb_model *m, const mcb_fb_table *root)
{
    uint32_t version;
    mcb_fb_vector opcodes;
    mcb_fb_vector buffers;
    mcb_fb_vector subgraphs;
    mcb_status st;
    if (mcb_fb_u32(root, MODEL_VERSION, 0, &version) != MCB_OK) {
        return fail_read(c, "version");
    }
    if (version != MCB_MODEL_SCHEMA_VERSION) {
        return fail(c, MCB_MODEL_E_BAD_VERSION, NULL, ": schema version %u, expected %u", version,
                    MCB_MODEL_SCHEMA_VERSION, 0);
    }
    if (mcb_fb_vector_field(root, MODEL_OPERATOR_CODES, 4, &opcodes) != MCB_OK) {
        return fail_read(c, "operator_codes");
    }
    if (mcb_fb_vector_field(root, MODEL_BUFFERS, 4, &buffers) != MCB_OK) {
        return fail_read(c, "buffers");
    }
    if (mcb_fb_vector_field(root, MODEL_SUBGRAPHS, 4, &subgraphs) != MCB_OK) {
        return fail_read(c, "subgraphs");
    }
    m->opcodes = vector_span(&opcodes);
    m->buffers = vector_span(&buffers);
    for (uint32_t i = 0; i < opcodes.count; i++) {
        if ((st = check_opcode(c, m, i)) != MCB_OK) {
            return st;
        }
    }
    for (uint32_t i = 0; i < buffers.count; i++) {
        if ((st = check_buffer(c, m, i)) != MCB_OK) {
            return st;
        }
    }
    c->item = NULL;
    if (subgraphs.count == 0) {
        return fail(c, MCB_MODEL_E_MISSING, "subgraphs", ": none", 0, 0, 0);
    }
    if (subgraphs.count > MCB_MODEL_MAX_SUBGRAPHS) {
        return fail(c, MCB_MODEL_E_LIMIT, "subgraphs", ": %u > %u", subgraphs.count,
                    MCB_MODEL_MAX_SUBGRAPHS, 0);
    }
    for (uint32_t i = 0; i < subgraphs.count; i++) {
        mcb_fb_table sg;
        c->err->subgraph = (int32_t)i;
        if (mcb_fb_vec_table(&subgraphs, i, &sg) != MCB_OK) {
            return fail_read(c, NULL);
        }
        if ((st = check_subgraph(c, m, i, &sg)) != MCB_OK) {
            return st;
        }
    }
    m->n_subgraphs = subgraphs.count;
    return MCB_OK;
}

mcb_status mcb_model_open(mcb_model *m, const uint8_t *buf, size_t len, mcb_model_error *err)
{
    mcb_model_error scratch;
    mcb_model_error *e = err != NULL ? err : &scratch;
    checker c = {.err = e, .item = NULL, .item_index = 0};
    memset(e, 0, sizeof *e);
    e->subgraph = -1;
    e->op = -1;
    e->tensor = -1;
    if (m != NULL) {
        memset(m, 0, sizeof *m); /* closed until the checks pass, whatever it held */
    }
    if (m == NULL || buf == NULL) {
        return fail(&c, MCB_MODEL_E_ARG, NULL, ": NULL pointer", 0, 0, 0);
    }
    /* int32 arrays are handed out in place (see mcb/model.h). */
    if (((uintptr_t)buf & 3u) != 0) {
        return fail(&c, MCB_MODEL_E_ARG, NULL, ": buffer not 4-byte aligned", 0, 0, 0);
    }
    if (len > MCB_FB_MAX_SIZE) {
        return fail(&c, MCB_MODEL_E_UNSUPPORTED, NULL, ": over 2 GiB", 0, 0, 0);
    }
    if (len < 8) {
        return fail(&c, MCB_MODEL_E_NOT_FLATBUFFER, NULL, ": %u bytes, too short for a flatbuffer",
                    (uint32_t)len, 0, 0);
    }
    if (!mcb_fb_has_identifier(buf, len, MCB_MODEL_IDENTIFIER)) {
        mcb_msg msg;
        e->code = MCB_MODEL_E_BAD_IDENTIFIER;
        mcb_msg_init(&msg, e->message, sizeof e->message);
        mcb_msg_fmt(&msg, "model: file identifier %x %x %x", buf[4], buf[5], buf[6]);
        mcb_msg_fmt(&msg, " %x, expected \"" MCB_MODEL_IDENTIFIER "\"", buf[7], 0, 0);
        return MCB_ERR_FORMAT;
    }
    mcb_fb_table root;
    if (mcb_fb_root(buf, len, &root) != MCB_OK) {
        return fail(&c, MCB_MODEL_E_NOT_FLATBUFFER, NULL,
                    ": root table offset %u invalid for %u bytes", mcb_fb_load_u32(buf),
                    (uint32_t)len, 0);
    }
    m->buf = buf;
    m->len = (uint32_t)len;
    const mcb_status st = check_model(&c, m, &root);
    if (st != MCB_OK) {
        memset(m, 0, sizeof *m);
        return st;
    }
    e->subgraph = -1;
    e->op = -1;
    e->tensor = -1;
    return MCB_OK;
}

/* ---- accessors ----------------------------------------------------------- */

const char *mcb_model_error_name(mcb_model_errcode code)
{
    switch (code) {
#define MCB_ERR_NAME(name, value) \
    case value:                   \
        return #name;
        MCB_MODEL_ERRORS(MCB_ERR_NAME)
#undef MCB_ERR_NAME
    default:
        return "?";
    }
}

uint32_t mcb_tensor_type_bits(mcb_tensor_type type)
{
    switch (type) {
#define MCB_TYPE_BITS(name, value, bits) \
    case value:                          \
        return bits;
        MCB_TENSOR_TYPES(MCB_TYPE_BITS)
#undef MCB_TYPE_BITS
    default:
        return 0;
    }
}

static bool is_open(const mcb_model *m)
{
    return m != NULL && m->buf != NULL;
}

uint32_t mcb_model_subgraph_count(const mcb_model *m)
{
    return is_open(m) ? m->n_subgraphs : 0u;
}

uint32_t mcb_model_opcode_count(const mcb_model *m)
{
    return is_open(m) ? m->opcodes.count : 0u;
}

uint32_t mcb_model_buffer_count(const mcb_model *m)
{
    return is_open(m) ? m->buffers.count : 0u;
}

/* Common argument checks: MCB_OK when sg names a subgraph of an open model. */
static mcb_status subgraph_arg(const mcb_model *m, uint32_t sg, const void *out)
{
    if (m == NULL || out == NULL) {
        return MCB_ERR_ARG;
    }
    if (!is_open(m)) {
        return MCB_ERR_STATE;
    }
    return sg < m->n_subgraphs ? MCB_OK : MCB_ERR_ARG;
}

mcb_status mcb_model_subgraph(const mcb_model *m, uint32_t sg, mcb_subgraph_info *out)
{
    const mcb_status st = subgraph_arg(m, sg, out);
    if (st != MCB_OK) {
        return st;
    }
    const mcb_model_sg *s = &m->subgraphs[sg];
    const mcb_fb_vector inputs = span_vector(m, s->inputs, 4);
    const mcb_fb_vector outputs = span_vector(m, s->outputs, 4);
    memset(out, 0, sizeof *out);
    out->n_tensors = s->tensors.count;
    out->n_operators = s->operators.count;
    out->inputs = i32_array(&inputs);
    out->n_inputs = inputs.count;
    out->outputs = i32_array(&outputs);
    out->n_outputs = outputs.count;
    out->name.data = s->name.count > 0 ? (const char *)&m->buf[s->name.pos] : NULL;
    out->name.len = s->name.count;
    return MCB_OK;
}

mcb_status mcb_model_tensor(const mcb_model *m, uint32_t sg, uint32_t t, mcb_tensor_info *out)
{
    mcb_status st = subgraph_arg(m, sg, out);
    if (st != MCB_OK) {
        return st;
    }
    const mcb_fb_vector tensors = span_vector(m, m->subgraphs[sg].tensors, 4);
    mcb_fb_table table;
    tensor_raw raw;
    const char *field;
    if (t >= tensors.count) {
        return MCB_ERR_ARG;
    }
    st = mcb_fb_vec_table(&tensors, t, &table);
    return st == MCB_OK ? read_tensor(m, &table, out, &raw, &field) : st;
}

mcb_status mcb_model_operator(const mcb_model *m, uint32_t sg, uint32_t op,
                              mcb_operator_info *out)
{
    mcb_status st = subgraph_arg(m, sg, out);
    if (st != MCB_OK) {
        return st;
    }
    const mcb_fb_vector ops = span_vector(m, m->subgraphs[sg].operators, 4);
    mcb_fb_table table;
    uint64_t large_custom_offset;
    const char *field;
    if (op >= ops.count) {
        return MCB_ERR_ARG;
    }
    st = mcb_fb_vec_table(&ops, op, &table);
    return st == MCB_OK ? read_operator(m, &table, out, &large_custom_offset, &field) : st;
}

mcb_status mcb_model_opcode(const mcb_model *m, uint32_t i, mcb_opcode_info *out)
{
    if (m == NULL || out == NULL) {
        return MCB_ERR_ARG;
    }
    if (!is_open(m)) {
        return MCB_ERR_STATE;
    }
    if (i >= m->opcodes.count) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table t;
    const char *field;
    const mcb_status st = opcode_table(m, i, &t);
    return st == MCB_OK ? read_opcode(&t, out, &field) : st;
}

mcb_status mcb_model_buffer(const mcb_model *m, uint32_t i, const uint8_t **data, uint32_t *bytes)
{
    if (m == NULL || data == NULL || bytes == NULL) {
        return MCB_ERR_ARG;
    }
    *data = NULL;
    *bytes = 0;
    if (!is_open(m)) {
        return MCB_ERR_STATE;
    }
    if (i >= m->buffers.count) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table t;
    uint64_t offset;
    const char *field;
    const mcb_status st = buffer_table(m, i, &t);
    return st == MCB_OK ? read_buffer(&t, data, bytes, &offset, &field) : st;
}

mcb_status mcb_model_custom_name(const mcb_model *m, uint32_t sg, uint32_t op,
                                 mcb_fb_string *name)
{
    mcb_operator_info info;
    if (name == NULL) {
        return MCB_ERR_ARG;
    }
    name->data = NULL;
    name->len = 0;
    const mcb_status st = mcb_model_operator(m, sg, op, &info);
    if (st == MCB_OK) {
        *name = info.custom_name;
    }
    return st;
}

float mcb_quant_scale(const mcb_quant_info *q, uint32_t i)
{
    float f = 0.0f;
    if (q != NULL && q->scale != NULL && i < q->n_scales) {
        const uint32_t bits = mcb_fb_load_u32(&q->scale[4u * i]);
        memcpy(&f, &bits, sizeof f);
    }
    return f;
}

int64_t mcb_quant_zero_point(const mcb_quant_info *q, uint32_t i)
{
    int64_t v = 0;
    if (q != NULL && q->zero_point != NULL && i < q->n_zero_points) {
        const uint64_t bits = mcb_fb_load_u64(&q->zero_point[8u * i]);
        memcpy(&v, &bits, sizeof v);
    }
    return v;
}
