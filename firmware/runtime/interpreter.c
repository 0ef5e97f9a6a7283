/* Interpreter (mcb/interpreter.h) and the kernels' view of it (mcb/kernel.h). */
#include "mcb/interpreter.h"

#include <string.h>

#include "mcb/builtin_ops.h"
#include "mcb/model_extra.h"
#include "mcb/msg.h"
#include "mcb/planner.h"

#define HEAD_ALIGN MCB_PLAN_ALIGNMENT
#define TAIL_ALIGN 8u /* enough for every type a kernel keeps (int64, double, pointers) */
#define UNPLACED UINT32_MAX /* scratch_offset of a node the planner never reached */
#define UNREACHED (-2)      /* a scratch buffer's lifetime until the planner reaches its node */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

static const char *op_name(const mcb_interpreter *it, uint32_t sg, uint32_t index)
{
    mcb_operator_info op;
    if (it->nodes != NULL && sg < it->n_subgraphs &&
        index < it->node_base[sg + 1u] - it->node_base[sg] &&
        it->nodes[it->node_base[sg] + index].kernel != NULL) {
        return it->nodes[it->node_base[sg] + index].kernel->name;
    }
    return mcb_model_operator(it->model, sg, index, &op) == MCB_OK
               ? mcb_builtin_name(op.builtin_code)
               : "?";
}

/* Starts err's message: "[subgraph S ]node N (NAME): " when node >= 0. */
static void begin_error(const mcb_interpreter *it, mcb_interp_error *err, mcb_interp_errcode code,
                        uint32_t sg, int32_t node, mcb_msg *m)
{
    err->code = code;
    err->node = node;
    err->subgraph = node >= 0 ? (int32_t)sg : 0;
    err->arena_need = 0;
    err->arena_need_exact = false;
    mcb_msg_init(m, err->message, sizeof err->message);
    if (node >= 0) {
        if (sg != 0) {
            mcb_msg_fmt(m, "subgraph %u ", sg, 0, 0);
        }
        mcb_msg_fmt(m, "node %u (", (uint32_t)node, 0, 0);
        mcb_msg_str(m, op_name(it, sg, (uint32_t)node));
        mcb_msg_str(m, "): ");
    }
}

static mcb_status fail_in(const mcb_interpreter *it, mcb_interp_error *err,
                          mcb_interp_errcode code, uint32_t sg, int32_t node, const char *fmt,
                          uint32_t a, uint32_t b, uint32_t c)
{
    mcb_msg m;
    begin_error(it, err, code, sg, node, &m);
    mcb_msg_fmt(&m, fmt, a, b, c);
    return code == MCB_INTERP_E_ARENA ? MCB_ERR_RANGE : MCB_ERR_ARG;
}

/* An error about node of subgraph 0, or about no node (-1). */
static mcb_status fail(const mcb_interpreter *it, mcb_interp_error *err, mcb_interp_errcode code,
                       int32_t node, const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    return fail_in(it, err, code, 0, node, fmt, a, b, c);
}

static mcb_status fail_node(const mcb_interpreter *it, mcb_interp_errcode code,
                            const mcb_node *node, const char *fmt, uint32_t a, uint32_t b,
                            uint32_t c)
{
    return fail_in(it, it->err, code, node->subgraph, (int32_t)node->index, fmt, a, b, c);
}

static mcb_status fail_arena(const mcb_interpreter *it, mcb_interp_error *err, uint64_t need,
                             bool exact)
{
    if (need <= it->arena_bytes) {
        need = (uint64_t)it->arena_bytes + 1u; /* a bound: this arena was too small */
    }
    const uint32_t n = need > UINT32_MAX ? UINT32_MAX : (uint32_t)need;
    fail(it, err, MCB_INTERP_E_ARENA, -1,
         exact ? "arena too small: need %u bytes, have %u"
               : "arena too small: need at least %u bytes, have %u",
         n, it->arena_bytes, 0);
    err->arena_need = n;
    err->arena_need_exact = exact;
    return MCB_ERR_RANGE;
}

const char *mcb_interp_error_name(mcb_interp_errcode code)
{
#define NAME_CASE(name, value) \
    case MCB_INTERP_E_##name:  \
        return #name;
    switch (code) { MCB_INTERP_ERRORS(NAME_CASE) }
#undef NAME_CASE
    return "?";
}

/* ---- the arena's tail ------------------------------------------------------- */

void *mcb_kernel_alloc_persistent(mcb_interpreter *ctx, size_t bytes)
{
    const uint64_t size = round_up(bytes, TAIL_ALIGN);
    if (size > ctx->tail - ctx->head) {
        ctx->missing += size; /* counted, so the error can say what the arena lacks */
        ctx->out_of_arena = true;
        return NULL;
    }
    ctx->tail -= (uint32_t)size;
    return ctx->arena + ctx->tail;
}

/* ---- kernel lookup ------------------------------------------------------------ */

const mcb_kernel *mcb_kernel_find(const mcb_kernel_registry *r, int32_t builtin_code,
                                  int32_t input_type)
{
    for (uint32_t i = 0; r != NULL && i < r->count; i++) {
        const mcb_kernel *k = &r->kernels[i];
        if (k->builtin_code == builtin_code &&
            (k->input_type == MCB_KERNEL_ANY_TYPE || k->input_type == input_type)) {
            return k;
        }
    }
    return NULL;
}

static bool has_code(const mcb_kernel_registry *r, int32_t builtin_code)
{
    for (uint32_t i = 0; i < r->count; i++) {
        if (r->kernels[i].builtin_code == builtin_code) {
            return true;
        }
    }
    return false;
}

/* The node of subgraph sg, operator o. */
static mcb_node *node_at(const mcb_interpreter *it, uint32_t sg, uint32_t o)
{
    return &it->nodes[it->node_base[sg] + o];
}

/* Every node of every subgraph gets its kernel before any prepare runs. */
static mcb_status find_kernels(mcb_interpreter *it)
{
    for (uint32_t s = 0; s < it->n_subgraphs; s++) {
        const uint32_t n_ops = it->node_base[s + 1u] - it->node_base[s];
        for (uint32_t o = 0; o < n_ops; o++) {
            mcb_operator_info op;
            mcb_tensor_info input;
            mcb_node *node = node_at(it, s, o);
            memset(node, 0, sizeof *node);
            mcb_status st = mcb_model_operator(it->model, s, o, &op);
            if (st != MCB_OK) {
                return fail_in(it, it->err, MCB_INTERP_E_ARG, s, -1,
                               "subgraph %u operator %u: unreadable", s, o, 0);
            }
            node->inputs = op.inputs;
            node->outputs = op.outputs;
            node->n_inputs = op.n_inputs;
            node->n_outputs = op.n_outputs;
            node->index = o;
            node->subgraph = s;
            int32_t type = MCB_KERNEL_ANY_TYPE;
            if (op.n_inputs > 0 && op.inputs[0] >= 0 &&
                mcb_model_tensor(it->model, s, (uint32_t)op.inputs[0], &input) == MCB_OK) {
                type = (int32_t)input.type;
            }
            node->kernel = mcb_kernel_find(it->registry, op.builtin_code, type);
            if (node->kernel != NULL) {
                continue;
            }
            mcb_msg m;
            begin_error(it, it->err, MCB_INTERP_E_UNSUPPORTED_OP, s, (int32_t)o, &m);
            if (op.builtin_code == MCB_BUILTIN_CUSTOM) {
                /* op_name gave "CUSTOM"; say which. */
                mcb_msg_init(&m, it->err->message, sizeof it->err->message);
                if (s != 0) {
                    mcb_msg_fmt(&m, "subgraph %u ", s, 0, 0);
                }
                mcb_msg_fmt(&m, "node %u: custom operator '", o, 0, 0);
                for (uint32_t i = 0; op.custom_name.data != NULL && i < op.custom_name.len; i++) {
                    mcb_msg_char(&m, op.custom_name.data[i]);
                }
                mcb_msg_str(&m, "' not supported");
            } else if (has_code(it->registry, op.builtin_code)) {
                mcb_msg_str(&m, mcb_tensor_type_name(type));
                mcb_msg_str(&m, " input not supported by the ");
                mcb_msg_str(&m, it->registry->name);
                mcb_msg_str(&m, " kernels");
            } else {
                mcb_msg_str(&m, "operator not supported by the ");
                mcb_msg_str(&m, it->registry->name);
                mcb_msg_str(&m, " kernels");
            }
            return MCB_ERR_ARG;
        }
    }
    return MCB_OK;
}

/* Outputs are written: they must be activations, never the model's constants. */
static mcb_status check_outputs(mcb_interpreter *it, const mcb_node *node)
{
    for (uint32_t i = 0; i < node->n_outputs; i++) {
        mcb_tensor_info t;
        if (node->outputs[i] >= 0 &&
            mcb_model_tensor(it->model, node->subgraph, (uint32_t)node->outputs[i], &t) ==
                MCB_OK &&
            (t.data != NULL || t.is_variable)) {
            return fail_node(it, MCB_INTERP_E_PREPARE, node,
                             "output %u (tensor %u) is a constant or variable", i,
                             (uint32_t)node->outputs[i], 0);
        }
    }
    return MCB_OK;
}

/*
 * Every subgraph's nodes, subgraph 0 first, in order (TFLM's
 * PrepareSubgraphs). lenient: the interpreter's own tables did not fit, so
 * the arena is too small whatever the kernels say; their failures only make
 * the count inexact (*inexact).
 */
static mcb_status prepare_nodes(mcb_interpreter *it, bool lenient, bool *inexact)
{
    for (uint32_t k = 0; k < it->n_nodes; k++) {
        mcb_node *node = &it->nodes[k];
        mcb_status st = check_outputs(it, node);
        if (st != MCB_OK) {
            return st;
        }
        it->out_of_arena = false;
        st = node->kernel->prepare(it, node);
        if (st == MCB_OK || it->out_of_arena) {
            continue; /* out of arena: keep counting what the other nodes need */
        }
        if (lenient) {
            *inexact = true;
            continue;
        }
        if (it->err->code == MCB_INTERP_E_NONE) {
            fail_node(it, MCB_INTERP_E_PREPARE, node, "prepare failed (status %d)", (uint32_t)st,
                      0, 0);
        }
        return MCB_ERR_ARG;
    }
    return MCB_OK;
}

/* ---- the tensor table, variable tensors, resource variables ---------------------- */

/* TFLM's ResetTensorData: an int8 variable is filled with its zero point, others with 0. */
static uint8_t variable_fill(const mcb_tensor_info *t)
{
    if (t->type != MCB_TYPE_INT8) {
        return 0;
    }
    return (uint8_t)((uint64_t)mcb_quant_zero_point(&t->quant, 0) & 0xFFu);
}

/*
 * Before any prepare, as TFLM's StartModelAllocation: constants point into
 * the model, variable tensors get their persistent buffers, the rest waits
 * for the plan (NULL). Without a table (arena too small), only counts.
 */
static mcb_status init_tensors(mcb_interpreter *it)
{
    for (uint32_t s = 0; s < it->n_subgraphs; s++) {
        const uint32_t n = it->tensor_base[s + 1u] - it->tensor_base[s];
        for (uint32_t t = 0; t < n; t++) {
            mcb_tensor_info ti;
            uint32_t bytes = 0;
            const uint8_t *unused = NULL;
            const uint8_t **slot =
                it->tensors != NULL ? &it->tensors[it->tensor_base[s] + t] : &unused;
            *slot = NULL;
            if (mcb_model_tensor(it->model, s, t, &ti) != MCB_OK) {
                return fail_in(it, it->err, MCB_INTERP_E_ARG, 0, -1,
                               "subgraph %u tensor %u: unreadable", s, t, 0);
            }
            if (!ti.is_variable) {
                *slot = ti.data;
                continue;
            }
            if (mcb_plan_tensor_bytes(ti.type, ti.shape, ti.rank, &bytes) != MCB_OK) {
                mcb_msg m;
                begin_error(it, it->err, MCB_INTERP_E_PLAN, 0, -1, &m);
                mcb_msg_fmt(&m, "subgraph %u tensor %u: TFLM cannot allocate a ", s, t, 0);
                mcb_msg_str(&m, mcb_tensor_type_name((int32_t)ti.type));
                mcb_msg_str(&m, " variable");
                return MCB_ERR_ARG;
            }
            *slot = mcb_kernel_alloc_persistent(it, bytes); /* NULL: counted as missing */
        }
    }
    return MCB_OK;
}

/* TFLM's ResetVariableTensors: variable tensors, then resource variables. */
static void reset_state(mcb_interpreter *it)
{
    for (uint32_t s = 0; s < it->n_subgraphs; s++) {
        const uint32_t n = it->tensor_base[s + 1u] - it->tensor_base[s];
        for (uint32_t t = 0; t < n; t++) {
            mcb_tensor_info ti;
            uint32_t bytes = 0;
            uint8_t *data = (uint8_t *)(uintptr_t)it->tensors[it->tensor_base[s] + t];
            if (data != NULL && mcb_model_tensor(it->model, s, t, &ti) == MCB_OK &&
                ti.is_variable &&
                mcb_plan_tensor_bytes(ti.type, ti.shape, ti.rank, &bytes) == MCB_OK) {
                memset(data, variable_fill(&ti), bytes);
            }
        }
    }
    for (uint32_t r = 0; r < it->n_resources; r++) {
        if (it->resources[r].data != NULL) {
            memset(it->resources[r].data, it->resources[r].fill, it->resources[r].bytes);
        }
    }
}

static uint32_t count_var_handles(const mcb_model *m)
{
    uint32_t count = 0;
    const uint32_t n_sg = mcb_model_subgraph_count(m);
    for (uint32_t s = 0; s < n_sg; s++) {
        mcb_subgraph_info sg;
        mcb_operator_info op;
        if (mcb_model_subgraph(m, s, &sg) != MCB_OK) {
            continue;
        }
        for (uint32_t o = 0; o < sg.n_operators; o++) {
            if (mcb_model_operator(m, s, o, &op) == MCB_OK &&
                op.builtin_code == MCB_OP_VAR_HANDLE) {
                count++;
            }
        }
    }
    return count;
}

/* ---- planning ------------------------------------------------------------------ */

typedef struct {
    mcb_interpreter *it;
    mcb_plan_buffer *bufs;
} plan_ctx;

/* Until placement, a node's scratch_offset[k] holds its buffer's index in the plan. */
static void on_op(void *user, uint32_t subgraph, uint32_t op, int32_t first, int32_t last)
{
    const plan_ctx *pc = user;
    const mcb_interpreter *it = pc->it;
    if (subgraph >= it->n_subgraphs ||
        op >= it->node_base[subgraph + 1u] - it->node_base[subgraph]) {
        return;
    }
    const mcb_node *node = node_at(it, subgraph, op);
    for (uint32_t k = 0; k < node->n_scratch; k++) {
        pc->bufs[node->scratch_offset[k]].first = first;
        pc->bufs[node->scratch_offset[k]].last = last;
    }
}

static mcb_status plan(mcb_interpreter *it, mcb_plan_buffer *bufs, uint32_t n_tensors,
                       uint32_t n_bufs, uint32_t *peak, uint64_t *scratch_bytes)
{
    mcb_plan_error perr;
    plan_ctx pc = {it, bufs};
    uint32_t k = n_tensors;
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        for (uint32_t s = 0; s < node->n_scratch; s++, k++) {
            memset(&bufs[k], 0, sizeof bufs[k]);
            bufs[k].size = (uint32_t)round_up(node->scratch_bytes[s], HEAD_ALIGN);
            bufs[k].first = UNREACHED;
            bufs[k].last = UNREACHED;
            bufs[k].subgraph = (uint16_t)node->subgraph;
            bufs[k].op = (uint16_t)node->index;
            node->scratch_offset[s] = k;
        }
    }
    memset(&perr, 0, sizeof perr);
    if (mcb_plan_tensors(it->model, bufs, on_op, &pc, &perr) != MCB_OK) {
        mcb_msg m;
        begin_error(it, it->err, MCB_INTERP_E_PLAN, 0, -1, &m); /* perr's message says where */
        mcb_msg_str(&m, perr.message[0] != '\0' ? perr.message : "the model cannot be planned");
        it->err->node = perr.subgraph >= 0 ? perr.op : -1;
        it->err->subgraph = perr.subgraph >= 0 && perr.op >= 0 ? perr.subgraph : 0;
        return MCB_ERR_ARG;
    }
    *scratch_bytes = 0;
    for (k = n_tensors; k < n_bufs; k++) {
        if (bufs[k].first == UNREACHED) {
            bufs[k].size = 0; /* TFLM never plans what it never reaches (as mcb_plan_model) */
        }
        *scratch_bytes += bufs[k].size;
    }
    if (mcb_plan_place(bufs, n_bufs, peak) != MCB_OK) {
        return fail(it, it->err, MCB_INTERP_E_PLAN, -1, "the plan passes 4 GB", 0, 0, 0);
    }
    return MCB_OK;
}

/* Planned tensors' data and scratch offsets, before the head is reused. */
static void place_data(mcb_interpreter *it, const mcb_plan_buffer *bufs)
{
    const uint32_t total = it->tensor_base[it->n_subgraphs];
    for (uint32_t t = 0; t < total; t++) {
        if (bufs[t].size > 0) {
            it->tensors[t] = it->arena + it->head + bufs[t].offset;
        }
    }
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        for (uint32_t s = 0; s < node->n_scratch; s++) {
            const mcb_plan_buffer *b = &bufs[node->scratch_offset[s]];
            node->scratch_offset[s] = b->size > 0 ? b->offset : UNPLACED;
        }
    }
}

/* ---- init / invoke ------------------------------------------------------------- */

/* Node, tensor and subgraph counts; false if the model is not open. */
static bool count_model(mcb_interpreter *it)
{
    it->n_subgraphs = mcb_model_subgraph_count(it->model);
    if (it->n_subgraphs == 0 || it->n_subgraphs > MCB_MODEL_MAX_SUBGRAPHS) {
        return false;
    }
    for (uint32_t s = 0; s < it->n_subgraphs; s++) {
        mcb_subgraph_info sg;
        if (mcb_model_subgraph(it->model, s, &sg) != MCB_OK) {
            return false;
        }
        it->node_base[s + 1u] = it->node_base[s] + sg.n_operators;
        it->tensor_base[s + 1u] = it->tensor_base[s] + sg.n_tensors;
        if (s == 0) {
            it->n_tensors = sg.n_tensors;
        }
    }
    it->n_nodes = it->node_base[it->n_subgraphs];
    return true;
}

mcb_status mcb_interpreter_init(mcb_interpreter *it, const mcb_model *model, void *arena,
                                size_t arena_bytes, const mcb_kernel_registry *registry,
                                mcb_interp_error *err)
{
    mcb_interp_error local;
    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof *err);
    err->node = -1;
    if (it == NULL || model == NULL || registry == NULL || arena == NULL ||
        arena_bytes > 0x7FFFFFFFu) {
        mcb_msg m;
        err->code = MCB_INTERP_E_ARG;
        mcb_msg_init(&m, err->message, sizeof err->message);
        mcb_msg_str(&m, "interpreter: NULL argument or arena over 2 GB");
        return MCB_ERR_ARG;
    }
    memset(it, 0, sizeof *it);
    it->model = model;
    it->registry = registry;
    it->arena = arena;
    it->arena_bytes = (uint32_t)arena_bytes;
    it->err = err;
    if (!count_model(it)) {
        it->err = NULL;
        return fail(it, err, MCB_INTERP_E_ARG, -1, "model not open", 0, 0, 0);
    }

    /* Layout: the head 16-byte aligned, the tail's end 8-byte aligned. */
    const uintptr_t base = (uintptr_t)it->arena;
    const uint32_t pad = (uint32_t)(round_up(base, HEAD_ALIGN) - base);
    const uint32_t cut = (uint32_t)((base + arena_bytes) % TAIL_ALIGN);
    it->head = pad < it->arena_bytes ? pad : it->arena_bytes;
    it->end = it->arena_bytes >= cut ? it->arena_bytes - cut : 0u;
    it->end = it->end > it->head ? it->end : it->head;
    it->tail = it->end;

    mcb_status st = MCB_OK;
    const uint32_t n_plan_tensors = mcb_plan_tensor_total(model);
    const uint64_t node_bytes = round_up((uint64_t)it->n_nodes * sizeof(mcb_node), TAIL_ALIGN);
    const uint64_t tensor_bytes =
        round_up((uint64_t)n_plan_tensors * sizeof(const uint8_t *), TAIL_ALIGN);
    it->nodes = mcb_kernel_alloc_persistent(it, (size_t)node_bytes);
    if (it->nodes == NULL) {
        /* Nothing to count with: what is known for sure. */
        const uint64_t planner = (uint64_t)n_plan_tensors * sizeof(mcb_plan_buffer);
        st = fail_arena(it, err, pad + node_bytes + tensor_bytes + planner, false);
        it->err = NULL;
        return st;
    }
    if ((st = find_kernels(it)) != MCB_OK) {
        it->err = NULL;
        return st;
    }
    /* The tensor table, resource table and variables: before prepare, as in TFLM. */
    it->tensors = mcb_kernel_alloc_persistent(it, (size_t)tensor_bytes);
    it->max_resources = count_var_handles(model);
    if (it->max_resources > 0) {
        it->resources = mcb_kernel_alloc_persistent(
            it, (size_t)it->max_resources * sizeof(mcb_resource_var));
        if (it->resources == NULL) {
            it->max_resources = 0;
        }
    }
    if ((st = init_tensors(it)) != MCB_OK) {
        it->err = NULL;
        return st;
    }
    bool inexact = false;
    if ((st = prepare_nodes(it, it->missing > 0, &inexact)) != MCB_OK) {
        it->err = NULL;
        return st;
    }

    uint64_t n_bufs = n_plan_tensors;
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        n_bufs += it->nodes[o].n_scratch;
    }
    const uint64_t planner = n_bufs * sizeof(mcb_plan_buffer);
    const uint64_t persistent = (uint64_t)(it->end - it->tail) + it->missing;
    /*
     * The planner's array lives in the head. If the persistent part did not
     * fit, or leaves the array no room, the arena is too small anyway: give
     * the kernels' memory back (it is never used) and plan only to measure.
     */
    const bool measuring = it->missing > 0 || planner > (uint64_t)(it->tail - it->head);
    if (measuring) {
        it->tail = (uint32_t)((uint8_t *)it->nodes - it->arena);
        if (planner > (uint64_t)(it->tail - it->head)) {
            st = fail_arena(it, err, pad + persistent + planner, false);
            it->err = NULL;
            return st;
        }
    }
    mcb_plan_buffer *bufs = (mcb_plan_buffer *)(void *)(it->arena + it->head);
    uint32_t peak = 0;
    uint64_t scratch_bytes = 0;
    if ((st = plan(it, bufs, n_plan_tensors, (uint32_t)n_bufs, &peak, &scratch_bytes)) != MCB_OK) {
        it->err = NULL;
        return st;
    }
    const uint64_t head_need = peak > planner ? peak : planner;
    const uint64_t required = pad + persistent + head_need;
    if (measuring || head_need > (uint64_t)(it->tail - it->head)) {
        st = fail_arena(it, err, required, !inexact);
        it->err = NULL;
        return st;
    }
    place_data(it, bufs);
    it->stats.arena_bytes = it->arena_bytes;
    it->stats.nonpersistent_bytes = peak;
    it->stats.scratch_bytes = (uint32_t)scratch_bytes;
    it->stats.persistent_bytes = (uint32_t)persistent;
    it->stats.planner_bytes = (uint32_t)planner;
    it->stats.required_bytes = (uint32_t)required;
    it->err = NULL;
    it->ready = true;
    reset_state(it); /* TFLM's AllocateTensors ends with Reset() */
    return MCB_OK;
}

/* Runs subgraph s; a failing node is named in it->err. */
/* Nodes [0, count) of subgraph s (count past the end: all of them). */
static mcb_status run_nodes(mcb_interpreter *it, uint32_t s, uint32_t count)
{
    it->running |= 1u << s;
    mcb_status st = MCB_OK;
    const uint32_t n = it->node_base[s + 1u] - it->node_base[s];
    const uint32_t end = it->node_base[s] + (count < n ? count : n);
#ifdef MCB_PROFILE
    const mcb_profile *const profile = s == 0u ? it->profile : NULL;
    uint64_t mark = profile != NULL ? profile->start : 0u;
#endif
    for (uint32_t k = it->node_base[s]; k < end; k++) {
        mcb_node *node = &it->nodes[k];
        st = node->kernel->invoke(it, node);
#ifdef MCB_PROFILE
        if (profile != NULL) {
            /* One read per node: the boundaries telescope, so nothing is lost between nodes. */
            const uint64_t now = profile->counter();
            profile->node_ticks[k] += now - mark;
            mark = now;
        }
#endif
        if (st != MCB_OK) {
            if (it->err->code == MCB_INTERP_E_NONE) {
                fail_node(it, MCB_INTERP_E_INVOKE, node, "invoke failed (status %d)",
                          (uint32_t)st, 0, 0);
            }
            break;
        }
    }
    it->running &= ~(1u << s);
    return st;
}

static mcb_status run_subgraph(mcb_interpreter *it, uint32_t s)
{
    return run_nodes(it, s, UINT32_MAX);
}

/* Subgraph 0's first count nodes, with err set up and the state checked. */
static mcb_status invoke_first(mcb_interpreter *it, uint32_t count, mcb_interp_error *err)
{
    mcb_interp_error local;
    if (err == NULL) {
        err = &local;
    }
    /* Field by field, not memset: this runs on every invoke, inside the timed span. */
    err->code = MCB_INTERP_E_NONE;
    err->node = -1;
    err->subgraph = 0;
    err->arena_need = 0;
    err->arena_need_exact = false;
    err->message[0] = '\0';
    if (it == NULL || !it->ready) {
        mcb_msg m;
        err->code = MCB_INTERP_E_STATE;
        mcb_msg_init(&m, err->message, sizeof err->message);
        mcb_msg_str(&m, "interpreter: invoke before a successful init");
        return MCB_ERR_STATE;
    }
    it->err = err;
    const mcb_status st = run_nodes(it, 0, count);
    it->err = NULL;
    return st;
}

mcb_status mcb_interpreter_invoke(mcb_interpreter *it, mcb_interp_error *err)
{
    return invoke_first(it, UINT32_MAX, err);
}

mcb_status mcb_interpreter_invoke_until(mcb_interpreter *it, uint32_t last_node,
                                        mcb_interp_error *err)
{
    if (it != NULL && it->ready && last_node >= it->node_base[1]) {
        if (err != NULL) {
            mcb_msg m;
            memset(err, 0, sizeof *err);
            err->code = MCB_INTERP_E_ARG;
            err->node = -1;
            mcb_msg_init(&m, err->message, sizeof err->message);
            mcb_msg_fmt(&m, "interpreter: node %u past the last of %u", last_node,
                        it->node_base[1], 0);
        }
        return MCB_ERR_ARG;
    }
    return invoke_first(it, last_node + 1u, err);
}

#ifdef MCB_PROFILE
mcb_status mcb_interpreter_set_profile(mcb_interpreter *it, const mcb_profile *profile)
{
    if (it == NULL || (profile != NULL && (profile->counter == NULL ||
                                           profile->node_ticks == NULL))) {
        return MCB_ERR_ARG;
    }
    it->profile = NULL;
    if (!it->ready) {
        return MCB_ERR_STATE;
    }
    if (profile != NULL && it->node_base[1] > profile->capacity) {
        return MCB_ERR_RANGE;
    }
    it->profile = profile;
    return MCB_OK;
}
#endif

mcb_status mcb_interpreter_reset(mcb_interpreter *it, mcb_interp_error *err)
{
    if (err != NULL) {
        memset(err, 0, sizeof *err);
        err->node = -1;
    }
    if (it == NULL || !it->ready) {
        if (err != NULL) {
            mcb_msg m;
            err->code = MCB_INTERP_E_STATE;
            mcb_msg_init(&m, err->message, sizeof err->message);
            mcb_msg_str(&m, "interpreter: reset before a successful init");
        }
        return MCB_ERR_STATE;
    }
    reset_state(it);
    return MCB_OK;
}

/* ---- tensors ------------------------------------------------------------------ */

/* Writable if it lies in our arena (planned, variable, or a resource handle). */
static uint8_t *in_arena(const mcb_interpreter *it, const uint8_t *p)
{
    if (p == NULL || (uintptr_t)p < (uintptr_t)it->arena ||
        (uintptr_t)p >= (uintptr_t)it->arena + it->arena_bytes) {
        return NULL;
    }
    return it->arena + ((uintptr_t)p - (uintptr_t)it->arena);
}

mcb_status mcb_interpreter_tensor(const mcb_interpreter *it, uint32_t t, mcb_tensor_view *out)
{
    mcb_tensor_info ti;
    if (it == NULL || out == NULL) {
        return MCB_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    if (!it->ready) {
        return MCB_ERR_STATE;
    }
    if (t >= it->n_tensors || mcb_model_tensor(it->model, 0, t, &ti) != MCB_OK) {
        return MCB_ERR_ARG;
    }
    out->cdata = it->tensors[t];
    out->data = in_arena(it, out->cdata);
    if (mcb_plan_tensor_bytes(ti.type, ti.shape, ti.rank, &out->bytes) != MCB_OK) {
        out->bytes = ti.data_bytes;
    }
    if (ti.data != NULL && !ti.is_variable) {
        out->bytes = ti.data_bytes;
    }
    out->type = ti.type;
    out->shape = ti.shape;
    out->rank = ti.rank;
    return MCB_OK;
}

static int32_t io_tensor(const mcb_interpreter *it, bool output, uint32_t i, uint32_t *count)
{
    mcb_subgraph_info sg;
    *count = 0;
    if (it == NULL || it->model == NULL || mcb_model_subgraph(it->model, 0, &sg) != MCB_OK) {
        return -1;
    }
    *count = output ? sg.n_outputs : sg.n_inputs;
    return i < *count ? (output ? sg.outputs[i] : sg.inputs[i]) : -1;
}

uint32_t mcb_interpreter_input_count(const mcb_interpreter *it)
{
    uint32_t n;
    (void)io_tensor(it, false, 0, &n);
    return n;
}

uint32_t mcb_interpreter_output_count(const mcb_interpreter *it)
{
    uint32_t n;
    (void)io_tensor(it, true, 0, &n);
    return n;
}

int32_t mcb_interpreter_input(const mcb_interpreter *it, uint32_t i)
{
    uint32_t n;
    return io_tensor(it, false, i, &n);
}

int32_t mcb_interpreter_output(const mcb_interpreter *it, uint32_t i)
{
    uint32_t n;
    return io_tensor(it, true, i, &n);
}

mcb_status mcb_interpreter_arena(const mcb_interpreter *it, mcb_arena_stats *out)
{
    if (it == NULL || out == NULL) {
        return MCB_ERR_ARG;
    }
    if (!it->ready) {
        return MCB_ERR_STATE;
    }
    *out = it->stats;
    return MCB_OK;
}

/* ---- the kernels' accessors ----------------------------------------------------- */

mcb_status mcb_kernel_operator(const mcb_interpreter *ctx, const mcb_node *node,
                               mcb_operator_info *out)
{
    return mcb_model_operator(ctx->model, node->subgraph, node->index, out);
}

bool mcb_kernel_has_input(const mcb_node *node, uint32_t i)
{
    return i < node->n_inputs && node->inputs[i] >= 0;
}

mcb_status mcb_kernel_input_info(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                 mcb_tensor_info *out)
{
    if (!mcb_kernel_has_input(node, i)) {
        return MCB_ERR_ARG;
    }
    return mcb_model_tensor(ctx->model, node->subgraph, (uint32_t)node->inputs[i], out);
}

mcb_status mcb_kernel_output_info(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                  mcb_tensor_info *out)
{
    if (i >= node->n_outputs || node->outputs[i] < 0) {
        return MCB_ERR_ARG;
    }
    return mcb_model_tensor(ctx->model, node->subgraph, (uint32_t)node->outputs[i], out);
}

mcb_status mcb_kernel_request_scratch(mcb_interpreter *ctx, mcb_node *node, uint32_t bytes,
                                      uint32_t *handle)
{
    (void)ctx;
    if (node->n_scratch >= MCB_KERNEL_MAX_SCRATCH || handle == NULL) {
        return MCB_ERR_ARG;
    }
    node->scratch_bytes[node->n_scratch] = bytes;
    *handle = node->n_scratch++;
    return MCB_OK;
}

mcb_status mcb_kernel_reject(mcb_interpreter *ctx, const mcb_node *node, const char *fmt,
                             uint32_t a, uint32_t b, uint32_t c)
{
    if (ctx->err != NULL) {
        fail_node(ctx, ctx->ready ? MCB_INTERP_E_INVOKE : MCB_INTERP_E_PREPARE, node, fmt, a, b,
                  c);
    }
    return MCB_ERR_ARG;
}

/* The tensor table's slot of the node's tensor index t (>= 0). */
static const uint8_t *tensor_data(const mcb_interpreter *ctx, const mcb_node *node, int32_t t)
{
    return ctx->tensors[ctx->tensor_base[node->subgraph] + (uint32_t)t];
}

const void *mcb_kernel_input(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    if (!ctx->ready || !mcb_kernel_has_input(node, i)) {
        return NULL; /* nothing is placed before planning */
    }
    return tensor_data(ctx, node, node->inputs[i]);
}

void *mcb_kernel_output(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    if (!ctx->ready || i >= node->n_outputs || node->outputs[i] < 0) {
        return NULL;
    }
    /* Outputs are planned (check_outputs) or resource handles: in the arena. */
    return in_arena(ctx, tensor_data(ctx, node, node->outputs[i]));
}

void *mcb_kernel_scratch(const mcb_interpreter *ctx, const mcb_node *node, uint32_t handle)
{
    if (!ctx->ready || handle >= node->n_scratch || node->scratch_offset[handle] == UNPLACED) {
        return NULL;
    }
    return ctx->arena + ctx->head + node->scratch_offset[handle];
}

/* ---- state ------------------------------------------------------------------------ */

void *mcb_kernel_variable(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    mcb_tensor_info ti;
    if (ctx->tensors == NULL || mcb_kernel_input_info(ctx, node, i, &ti) != MCB_OK ||
        !ti.is_variable) {
        return NULL;
    }
    return in_arena(ctx, tensor_data(ctx, node, node->inputs[i]));
}

/* Length as a C string: up to the first NUL. */
static uint32_t c_len(const mcb_fb_string *s)
{
    uint32_t n = 0;
    while (n < s->len && s->data[n] != '\0') {
        n++;
    }
    return n;
}

static bool c_equal(const mcb_fb_string *a, const mcb_fb_string *b)
{
    const uint32_t n = c_len(a);
    return a->data != NULL && b->data != NULL && n == c_len(b) && memcmp(a->data, b->data, n) == 0;
}

int32_t mcb_kernel_resource_id(mcb_interpreter *ctx, const mcb_fb_string *container,
                               const mcb_fb_string *shared_name)
{
    if (shared_name == NULL || shared_name->data == NULL) {
        return -1;
    }
    for (uint32_t r = 0; r < ctx->n_resources; r++) {
        const mcb_resource_var *v = &ctx->resources[r];
        if ((container == NULL || container->data == NULL || c_equal(container, &v->container)) &&
            c_equal(shared_name, &v->shared_name)) {
            return (int32_t)r;
        }
    }
    if (ctx->n_resources >= ctx->max_resources) {
        return -1;
    }
    mcb_resource_var *v = &ctx->resources[ctx->n_resources];
    memset(v, 0, sizeof *v);
    if (container != NULL) {
        v->container = *container;
    }
    v->shared_name = *shared_name;
    return (int32_t)ctx->n_resources++;
}

mcb_status mcb_kernel_set_output(mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                 void *data)
{
    mcb_operator_info op;
    mcb_tensor_info ti;
    if (ctx->ready || ctx->tensors == NULL || mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        op.builtin_code != MCB_OP_VAR_HANDLE ||
        mcb_kernel_output_info(ctx, node, i, &ti) != MCB_OK || ti.data != NULL ||
        ti.is_variable) {
        return MCB_ERR_ARG;
    }
    ctx->tensors[ctx->tensor_base[node->subgraph] + (uint32_t)node->outputs[i]] = data;
    return MCB_OK;
}

int32_t mcb_kernel_input_resource(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    int32_t id;
    if (ctx->tensors == NULL || !mcb_kernel_has_input(node, i)) {
        return -1;
    }
    const uint8_t *p = tensor_data(ctx, node, node->inputs[i]);
    if (p == NULL) {
        return -1;
    }
    memcpy(&id, p, sizeof id);
    return id;
}

mcb_status mcb_kernel_resource_allocate(mcb_interpreter *ctx, int32_t id, uint32_t bytes,
                                        uint8_t fill)
{
    if (id < 0 || (uint32_t)id >= ctx->n_resources) {
        return MCB_ERR_ARG;
    }
    mcb_resource_var *v = &ctx->resources[id];
    if (v->data != NULL) {
        return MCB_OK;
    }
    v->data = mcb_kernel_alloc_persistent(ctx, bytes);
    if (v->data == NULL) {
        return MCB_ERR_RANGE;
    }
    v->bytes = bytes;
    v->fill = fill;
    memset(v->data, fill, bytes);
    return MCB_OK;
}

mcb_status mcb_kernel_resource(const mcb_interpreter *ctx, int32_t id, void **data,
                               uint32_t *bytes)
{
    *data = NULL;
    *bytes = 0;
    if (id < 0 || (uint32_t)id >= ctx->n_resources) {
        return MCB_ERR_ARG;
    }
    *data = ctx->resources[id].data;
    *bytes = ctx->resources[id].data != NULL ? ctx->resources[id].bytes : 0u;
    return MCB_OK;
}

uint32_t mcb_kernel_subgraph_count(const mcb_interpreter *ctx)
{
    return ctx->n_subgraphs;
}

mcb_status mcb_kernel_invoke_subgraph(mcb_interpreter *ctx, uint32_t subgraph)
{
    if (!ctx->ready || ctx->err == NULL || subgraph >= ctx->n_subgraphs ||
        (ctx->running & (1u << subgraph)) != 0) {
        return MCB_ERR_ARG;
    }
    return run_subgraph(ctx, subgraph);
}
