/* Arena planner (mcb/planner.h): TFLM's allocation lifetimes and greedy placement. */
#include "mcb/planner.h"

#include <string.h>

#include "mcb/builtin_ops.h"
#include "mcb/model_extra.h"
#include "mcb/msg.h"

/* BuiltinOperator and BuiltinOptions values of the schema. */
#define OP_IF 118
#define OP_WHILE 119
#define OPTIONS_IF 92
#define OPTIONS_WHILE 93
#define OPTIONS_CALL_ONCE 103
#define OPTIONS_SVDF 6

#define UNPLACED UINT32_MAX
#define NO_BUFFER UINT32_MAX
#define UNREACHED (-2) /* mcb_plan_model: a scratch buffer whose operator was never reached */

static mcb_status plan_fail(mcb_plan_error *err, int32_t sg, int32_t op, int32_t tensor,
                            const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    if (err != NULL) {
        mcb_msg m;
        err->subgraph = sg;
        err->op = op;
        err->tensor = tensor;
        mcb_msg_init(&m, err->message, sizeof err->message);
        mcb_msg_fmt(&m, fmt, a, b, c);
    }
    return MCB_ERR_ARG;
}

mcb_status mcb_plan_tensor_bytes(mcb_tensor_type type, const int32_t *shape, uint32_t rank,
                                 uint32_t *bytes)
{
    uint32_t size;
    *bytes = 0;
    /* TFLM's TfLiteTypeSizeOf, as mcubench.model.tflite.DTYPE_SIZES mirrors it. */
    switch (type) {
    case MCB_TYPE_UINT8: case MCB_TYPE_INT8: case MCB_TYPE_BOOL: case MCB_TYPE_INT4:
        size = 1;
        break;
    case MCB_TYPE_INT16: case MCB_TYPE_FLOAT16:
        size = 2;
        break;
    case MCB_TYPE_FLOAT32: case MCB_TYPE_INT32: case MCB_TYPE_UINT32: case MCB_TYPE_RESOURCE:
        size = 4;
        break;
    case MCB_TYPE_INT64: case MCB_TYPE_UINT64: case MCB_TYPE_FLOAT64: case MCB_TYPE_COMPLEX64:
        size = 8;
        break;
    case MCB_TYPE_COMPLEX128:
        size = 16;
        break;
    default:
        return MCB_ERR_ARG;
    }
    uint64_t total = size;
    for (uint32_t i = 0; i < rank; i++) {
        total *= (uint64_t)(shape[i] < 0 ? 0 : shape[i]);
        if (total > 0x7FFFFFFFu) {
            return MCB_ERR_RANGE;
        }
    }
    *bytes = (uint32_t)total;
    return MCB_OK;
}

uint32_t mcb_plan_tensor_base(const mcb_model *m, uint32_t subgraph)
{
    uint32_t base = 0;
    mcb_subgraph_info info;
    for (uint32_t s = 0; s < subgraph && mcb_model_subgraph(m, s, &info) == MCB_OK; s++) {
        base += info.n_tensors;
    }
    return base;
}

uint32_t mcb_plan_tensor_total(const mcb_model *m)
{
    return mcb_plan_tensor_base(m, mcb_model_subgraph_count(m));
}

/* ---- lifetimes ------------------------------------------------------------ */

typedef struct {
    const mcb_model *m;
    mcb_plan_buffer *bufs;
    mcb_plan_op_fn on_op;
    void *user;
    mcb_plan_error *err;
    int32_t scope;
    uint32_t active; /* bit s: subgraph s is being marked (recursion guard) */
} marker;

static void create(marker *k, uint32_t base, int32_t t)
{
    if (t >= 0) {
        k->bufs[base + (uint32_t)t].first = k->scope;
        k->bufs[base + (uint32_t)t].last = k->scope;
    }
}

static void use(marker *k, uint32_t base, int32_t t)
{
    if (t >= 0) {
        k->bufs[base + (uint32_t)t].last = k->scope; /* first stays -1 if never created */
    }
}

/* The subgraphs a control-flow operator runs, in TFLM's order. */
static mcb_status called_subgraphs(marker *k, uint32_t s, uint32_t o,
                                   const mcb_operator_info *op, int32_t called[2], uint32_t *n)
{
    uint8_t want;
    const char *names[2] = {NULL, NULL};
    *n = 0;
    switch (op->builtin_code) {
    case MCB_OP_CALL_ONCE:
        want = OPTIONS_CALL_ONCE;
        names[0] = "init_subgraph_index";
        break;
    case OP_IF:
        want = OPTIONS_IF;
        names[0] = "then_subgraph_index";
        names[1] = "else_subgraph_index";
        break;
    case OP_WHILE:
        want = OPTIONS_WHILE;
        names[0] = "cond_subgraph_index";
        names[1] = "body_subgraph_index";
        break;
    default:
        return MCB_OK;
    }
    const uint32_t n_sg = mcb_model_subgraph_count(k->m);
    for (uint32_t i = 0; i < 2 && names[i] != NULL; i++) {
        int32_t index = -1;
        if (op->options_type == want &&
            mcb_fb_i32(&op->options, MCB_FB_SLOT(i), 0, &index) != MCB_OK) {
            index = -1;
        }
        if (index < 0 || (uint32_t)index >= n_sg) {
            if (k->err != NULL) {
                mcb_msg m;
                k->err->subgraph = (int32_t)s;
                k->err->op = (int32_t)o;
                k->err->tensor = -1;
                mcb_msg_init(&m, k->err->message, sizeof k->err->message);
                mcb_msg_fmt(&m, "subgraph %u operator %u: ", s, o, 0);
                mcb_msg_str(&m, names[i]);
                mcb_msg_fmt(&m, " %d is not a subgraph (0..%u)", (uint32_t)index, n_sg - 1u, 0);
            }
            return MCB_ERR_ARG;
        }
        called[(*n)++] = index;
    }
    return MCB_OK;
}

static mcb_status next_scope(marker *k)
{
    if (k->scope == INT32_MAX) {
        return plan_fail(k->err, -1, -1, -1, "model: too many allocation scopes", 0, 0, 0);
    }
    k->scope++;
    return MCB_OK;
}

/*
 * Marks subgraph s. Recursion is bounded: a subgraph already being marked is
 * an error, so the depth is at most MCB_MODEL_MAX_SUBGRAPHS; frames stay
 * small because operator info is re-read after the calls.
 */
static mcb_status mark(marker *k, uint32_t s)
{
    mcb_subgraph_info sg;
    mcb_operator_info op;
    mcb_status st = mcb_model_subgraph(k->m, s, &sg);
    if (st != MCB_OK) {
        return st;
    }
    if ((k->active & (1u << s)) != 0) {
        return plan_fail(k->err, (int32_t)s, -1, -1, "subgraph %u calls itself", s, 0, 0);
    }
    k->active |= 1u << s;
    const uint32_t base = mcb_plan_tensor_base(k->m, s);
    for (uint32_t i = 0; i < sg.n_inputs; i++) {
        create(k, base, sg.inputs[i]);
    }
    for (uint32_t i = 0; i < sg.n_outputs; i++) {
        create(k, base, sg.outputs[i]);
    }
    for (uint32_t o = 0; o < sg.n_operators; o++) {
        int32_t called[2];
        uint32_t n_called;
        if ((st = next_scope(k)) != MCB_OK || (st = mcb_model_operator(k->m, s, o, &op)) != MCB_OK) {
            return st;
        }
        for (uint32_t i = 0; i < op.n_outputs; i++) {
            create(k, base, op.outputs[i]);
        }
        const int32_t op_start = k->scope;
        if ((st = called_subgraphs(k, s, o, &op, called, &n_called)) != MCB_OK) {
            return st;
        }
        for (uint32_t c = 0; c < n_called; c++) {
            if ((st = next_scope(k)) != MCB_OK || (st = mark(k, (uint32_t)called[c])) != MCB_OK) {
                return st;
            }
        }
        if (n_called > 0 && (st = mcb_model_operator(k->m, s, o, &op)) != MCB_OK) {
            return st;
        }
        for (uint32_t i = 0; i < op.n_inputs; i++) {
            use(k, base, op.inputs[i]);
        }
        for (uint32_t i = 0; i < op.n_outputs; i++) {
            use(k, base, op.outputs[i]);
        }
        if (k->on_op != NULL) {
            k->on_op(k->user, s, o, op_start, k->scope);
        }
    }
    for (uint32_t i = 0; i < sg.n_outputs; i++) {
        use(k, base, sg.outputs[i]);
    }
    k->active &= ~(1u << s);
    return MCB_OK;
}

/* Sizes: 0 for what TFLM does not plan. */
static mcb_status plan_sizes(const mcb_model *m, mcb_plan_buffer *bufs, mcb_plan_error *err)
{
    const uint32_t n_sg = mcb_model_subgraph_count(m);
    uint32_t g = 0;
    for (uint32_t s = 0; s < n_sg; s++) {
        mcb_subgraph_info sg;
        mcb_status st = mcb_model_subgraph(m, s, &sg);
        if (st != MCB_OK) {
            return st;
        }
        for (uint32_t t = 0; t < sg.n_tensors; t++, g++) {
            mcb_tensor_info ti;
            uint32_t bytes;
            if ((st = mcb_model_tensor(m, s, t, &ti)) != MCB_OK) {
                return st;
            }
            bufs[g].size = 0;
            if (ti.data != NULL || ti.is_variable) {
                continue; /* constants stay in the model, variables are persistent */
            }
            st = mcb_plan_tensor_bytes(ti.type, ti.shape, ti.rank, &bytes);
            if (st == MCB_ERR_ARG) {
                if (err != NULL) {
                    mcb_msg msg;
                    err->subgraph = (int32_t)s;
                    err->op = -1;
                    err->tensor = (int32_t)t;
                    mcb_msg_init(&msg, err->message, sizeof err->message);
                    mcb_msg_fmt(&msg, "subgraph %u tensor %u: TFLM cannot allocate a ", s, t, 0);
                    mcb_msg_str(&msg, mcb_tensor_type_name((int32_t)ti.type));
                    mcb_msg_str(&msg, " tensor");
                }
                return MCB_ERR_ARG;
            }
            if (st != MCB_OK || bytes > 0x7FFFFFFFu - MCB_PLAN_ALIGNMENT) {
                return plan_fail(err, (int32_t)s, -1, (int32_t)t,
                                 "subgraph %u tensor %u: over 2 GB", s, t, 0);
            }
            bufs[g].size = (bytes + MCB_PLAN_ALIGNMENT - 1u) & ~(MCB_PLAN_ALIGNMENT - 1u);
        }
        /* VAR_HANDLE's Prepare points its output at the resource id it keeps. */
        for (uint32_t o = 0; o < sg.n_operators; o++) {
            mcb_operator_info op;
            if ((st = mcb_model_operator(m, s, o, &op)) != MCB_OK) {
                return st;
            }
            if (op.builtin_code == MCB_OP_VAR_HANDLE) {
                for (uint32_t i = 0; i < op.n_outputs; i++) {
                    if (op.outputs[i] >= 0) {
                        bufs[g - sg.n_tensors + (uint32_t)op.outputs[i]].size = 0;
                    }
                }
            }
        }
    }
    return MCB_OK;
}

mcb_status mcb_plan_tensors(const mcb_model *m, mcb_plan_buffer *bufs, mcb_plan_op_fn on_op,
                            void *user, mcb_plan_error *err)
{
    if (m == NULL || bufs == NULL || mcb_model_subgraph_count(m) == 0) {
        return MCB_ERR_ARG;
    }
    const uint32_t total = mcb_plan_tensor_total(m);
    for (uint32_t i = 0; i < total; i++) {
        memset(&bufs[i], 0, sizeof bufs[i]);
        bufs[i].first = -1;
        bufs[i].last = -1;
        bufs[i].offset = UNPLACED;
    }
    marker k = {m, bufs, on_op, user, err, 0, 0};
    mcb_status st = mark(&k, 0);
    return st == MCB_OK ? plan_sizes(m, bufs, err) : st;
}

/* ---- placement -------------------------------------------------------------- */

static int overlaps(const mcb_plan_buffer *a, const mcb_plan_buffer *b)
{
    return !(a->first > b->last || b->first > a->last);
}

mcb_status mcb_plan_place(mcb_plan_buffer *bufs, uint32_t n, uint32_t *peak)
{
    uint32_t head = NO_BUFFER; /* placed buffers by offset; equal offsets in placing order */
    uint64_t top = 0;
    if (bufs == NULL || peak == NULL) {
        return MCB_ERR_ARG;
    }
    *peak = 0;
    for (uint32_t i = 0; i < n; i++) {
        bufs[i].offset = UNPLACED;
        bufs[i].next = NO_BUFFER;
    }
    for (;;) {
        /* Next: the biggest unplaced buffer; the last one among equals. */
        uint32_t pick = NO_BUFFER;
        uint32_t best = 0;
        for (uint32_t i = n; i-- > 0;) {
            if (bufs[i].offset == UNPLACED && bufs[i].size > best) {
                best = bufs[i].size;
                pick = i;
            }
        }
        if (pick == NO_BUFFER) {
            break;
        }
        mcb_plan_buffer *b = &bufs[pick];
        uint64_t candidate = 0;
        for (uint32_t j = head; j != NO_BUFFER; j = bufs[j].next) {
            const mcb_plan_buffer *o = &bufs[j];
            if (!overlaps(b, o)) {
                continue; /* not alive at the same time: its space is free for b */
            }
            if (o->offset >= candidate && o->offset - candidate >= b->size) {
                break; /* b fits in the gap before o */
            }
            if (o->offset + (uint64_t)o->size > candidate) {
                candidate = o->offset + (uint64_t)o->size;
            }
        }
        if (candidate + b->size >= UNPLACED) {
            return MCB_ERR_RANGE;
        }
        b->offset = (uint32_t)candidate;
        if (candidate + b->size > top) {
            top = candidate + b->size;
        }
        /* After every buffer at an offset <= b's, as TFLM inserts into its list. */
        uint32_t prev = NO_BUFFER;
        uint32_t at = head;
        while (at != NO_BUFFER && bufs[at].offset <= b->offset) {
            prev = at;
            at = bufs[at].next;
        }
        b->next = at;
        if (prev == NO_BUFFER) {
            head = pick;
        } else {
            bufs[prev].next = pick;
        }
    }
    *peak = (uint32_t)top;
    return MCB_OK;
}

/* ---- whole model --------------------------------------------------------- */

/* Scratch bytes TFLM's reference SVDF requests; n = 0 for other operators. */
static void svdf_scratch(const mcb_model *m, uint32_t s, const mcb_operator_info *op,
                         uint32_t bytes[2], uint32_t *n)
{
    mcb_tensor_info input;
    mcb_tensor_info feature;
    *n = 0;
    if (op->builtin_code != MCB_OP_SVDF || op->n_inputs < 2 || op->inputs[0] < 0 ||
        op->inputs[1] < 0 || mcb_model_tensor(m, s, (uint32_t)op->inputs[0], &input) != MCB_OK ||
        mcb_model_tensor(m, s, (uint32_t)op->inputs[1], &feature) != MCB_OK) {
        return;
    }
    const uint64_t batch = input.rank > 0 ? (uint64_t)input.shape[0] : 1u;
    const uint64_t filters = feature.rank > 0 ? (uint64_t)feature.shape[0] : 1u;
    int32_t rank = 0;
    if (op->options_type != OPTIONS_SVDF ||
        mcb_fb_i32(&op->options, MCB_FB_SLOT(0), 0, &rank) != MCB_OK) {
        rank = 0;
    }
    const uint64_t units = rank > 0 ? filters / (uint64_t)rank : filters;
    const uint64_t limit = 0x7FFFFFFFu - MCB_PLAN_ALIGNMENT;
    const uint64_t b0 = batch * filters * 4u;
    const uint64_t b1 = batch * units * 4u;
    bytes[0] = b0 > limit ? (uint32_t)limit : (uint32_t)b0;
    bytes[1] = b1 > limit ? (uint32_t)limit : (uint32_t)b1;
    *n = input.type == MCB_TYPE_FLOAT32 ? 1u : 2u;
}

static uint32_t count_scratch(const mcb_model *m)
{
    uint32_t count = 0;
    const uint32_t n_sg = mcb_model_subgraph_count(m);
    for (uint32_t s = 0; s < n_sg; s++) {
        mcb_subgraph_info sg;
        if (mcb_model_subgraph(m, s, &sg) != MCB_OK) {
            return 0;
        }
        for (uint32_t o = 0; o < sg.n_operators; o++) {
            mcb_operator_info op;
            uint32_t bytes[2];
            uint32_t n = 0;
            if (mcb_model_operator(m, s, o, &op) == MCB_OK) {
                svdf_scratch(m, s, &op, bytes, &n);
            }
            count += n;
        }
    }
    return count;
}

size_t mcb_plan_model_work_bytes(const mcb_model *m)
{
    if (mcb_model_subgraph_count(m) == 0) {
        return 0;
    }
    const uint64_t n = (uint64_t)mcb_plan_tensor_total(m) + count_scratch(m);
    const uint64_t bytes = n * sizeof(mcb_plan_buffer);
    return bytes > 0x7FFFFFFFu ? 0u : (size_t)bytes;
}

typedef struct {
    mcb_plan_buffer *scratch;
    uint32_t n_scratch;
} scratch_lifetimes;

static void on_op_scratch(void *user, uint32_t s, uint32_t o, int32_t first, int32_t last)
{
    scratch_lifetimes *sl = user;
    for (uint32_t i = 0; i < sl->n_scratch; i++) {
        if (sl->scratch[i].subgraph == s && sl->scratch[i].op == o) {
            sl->scratch[i].first = first;
            sl->scratch[i].last = last;
        }
    }
}

mcb_status mcb_plan_model(const mcb_model *m, void *work, size_t work_bytes,
                          mcb_plan_result *out, mcb_plan_error *err)
{
    const size_t need = mcb_plan_model_work_bytes(m);
    if (out == NULL || work == NULL || need == 0) {
        return MCB_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    if (work_bytes < need) {
        return plan_fail(err, -1, -1, -1, "planner: work memory %u bytes, need %u",
                         (uint32_t)work_bytes, (uint32_t)need, 0);
    }
    mcb_plan_buffer *bufs = work;
    const uint32_t n_tensors = mcb_plan_tensor_total(m);
    const uint32_t n = (uint32_t)(need / sizeof *bufs);
    scratch_lifetimes sl = {&bufs[n_tensors], n - n_tensors};
    /* Scratch slots in subgraph and operator order, sized, not yet reached. */
    uint32_t k = 0;
    const uint32_t n_sg = mcb_model_subgraph_count(m);
    for (uint32_t s = 0; s < n_sg; s++) {
        mcb_subgraph_info sg;
        mcb_status st = mcb_model_subgraph(m, s, &sg);
        if (st != MCB_OK) {
            return st;
        }
        for (uint32_t o = 0; o < sg.n_operators && k < sl.n_scratch; o++) {
            mcb_operator_info op;
            uint32_t bytes[2];
            uint32_t count = 0;
            if ((st = mcb_model_operator(m, s, o, &op)) != MCB_OK) {
                return st;
            }
            svdf_scratch(m, s, &op, bytes, &count);
            for (uint32_t i = 0; i < count && k < sl.n_scratch; i++, k++) {
                mcb_plan_buffer *b = &sl.scratch[k];
                memset(b, 0, sizeof *b);
                b->size = (bytes[i] + MCB_PLAN_ALIGNMENT - 1u) & ~(MCB_PLAN_ALIGNMENT - 1u);
                b->first = UNREACHED;
                b->last = UNREACHED;
                b->subgraph = (uint16_t)s;
                b->op = (uint16_t)o;
            }
        }
    }
    mcb_status st = mcb_plan_tensors(m, bufs, on_op_scratch, &sl, err);
    if (st != MCB_OK) {
        return st;
    }
    for (uint32_t i = 0; i < sl.n_scratch; i++) {
        if (sl.scratch[i].first == UNREACHED) {
            sl.scratch[i].size = 0; /* TFLM never prepares what it never reaches */
        }
    }
    if ((st = mcb_plan_place(bufs, n, &out->peak)) != MCB_OK) {
        return plan_fail(err, -1, -1, -1, "planner: the plan passes 4 GB", 0, 0, 0);
    }
    out->buffers = bufs;
    out->n_buffers = n;
    out->n_tensors = n_tensors;
    return MCB_OK;
}
