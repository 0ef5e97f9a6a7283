/* Interpreter (mcb/interpreter.h) and the kernels' view of it (mcb/kernel.h). */
#include "mcb/interpreter.h"

#include <string.h>

#include "mcb/model_extra.h"
#include "mcb/msg.h"
#include "mcb/planner.h"

#define HEAD_ALIGN MCB_PLAN_ALIGNMENT
#define TAIL_ALIGN 8u /* enough for every type a kernel keeps (int64, double, pointers) */

static uint64_t round_up(uint64_t v, uint64_t a)
{
    return (v + a - 1u) & ~(a - 1u);
}

static const char *op_name(const mcb_interpreter *it, uint32_t index)
{
    mcb_operator_info op;
    if (it->nodes != NULL && index < it->n_nodes && it->nodes[index].kernel != NULL) {
        return it->nodes[index].kernel->name;
    }
    return mcb_model_operator(it->model, 0, index, &op) == MCB_OK ? mcb_builtin_name(op.builtin_code)
                                                                   : "?";
}

/* Starts err's message: "node N (NAME): " when node >= 0. */
static void begin_error(const mcb_interpreter *it, mcb_interp_error *err, mcb_interp_errcode code,
                        int32_t node, mcb_msg *m)
{
    err->code = code;
    err->node = node;
    err->arena_need = 0;
    err->arena_need_exact = false;
    mcb_msg_init(m, err->message, sizeof err->message);
    if (node >= 0) {
        mcb_msg_fmt(m, "node %u (", (uint32_t)node, 0, 0);
        mcb_msg_str(m, op_name(it, (uint32_t)node));
        mcb_msg_str(m, "): ");
    }
}

static mcb_status fail(const mcb_interpreter *it, mcb_interp_error *err, mcb_interp_errcode code,
                       int32_t node, const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    mcb_msg m;
    begin_error(it, err, code, node, &m);
    mcb_msg_fmt(&m, fmt, a, b, c);
    return code == MCB_INTERP_E_ARENA ? MCB_ERR_RANGE : MCB_ERR_ARG;
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

/* Every node gets its kernel before any prepare runs. */
static mcb_status find_kernels(mcb_interpreter *it)
{
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_operator_info op;
        mcb_tensor_info input;
        mcb_node *node = &it->nodes[o];
        mcb_status st = mcb_model_operator(it->model, 0, o, &op);
        if (st != MCB_OK) {
            return fail(it, it->err, MCB_INTERP_E_ARG, -1, "operator %u: unreadable", o, 0, 0);
        }
        memset(node, 0, sizeof *node);
        node->inputs = op.inputs;
        node->outputs = op.outputs;
        node->n_inputs = op.n_inputs;
        node->n_outputs = op.n_outputs;
        node->index = o;
        int32_t type = MCB_KERNEL_ANY_TYPE;
        if (op.n_inputs > 0 && op.inputs[0] >= 0 &&
            mcb_model_tensor(it->model, 0, (uint32_t)op.inputs[0], &input) == MCB_OK) {
            type = (int32_t)input.type;
        }
        node->kernel = mcb_kernel_find(it->registry, op.builtin_code, type);
        if (node->kernel != NULL) {
            continue;
        }
        mcb_msg m;
        if (op.builtin_code == MCB_BUILTIN_CUSTOM) {
            begin_error(it, it->err, MCB_INTERP_E_UNSUPPORTED_OP, (int32_t)o, &m);
            /* op_name gave "CUSTOM"; say which. */
            mcb_msg_init(&m, it->err->message, sizeof it->err->message);
            mcb_msg_fmt(&m, "node %u: custom operator '", o, 0, 0);
            for (uint32_t i = 0; op.custom_name.data != NULL && i < op.custom_name.len; i++) {
                mcb_msg_char(&m, op.custom_name.data[i]);
            }
            mcb_msg_str(&m, "' not supported");
        } else if (has_code(it->registry, op.builtin_code)) {
            begin_error(it, it->err, MCB_INTERP_E_UNSUPPORTED_OP, (int32_t)o, &m);
            mcb_msg_str(&m, mcb_tensor_type_name(type));
            mcb_msg_str(&m, " input not supported by the ");
            mcb_msg_str(&m, it->registry->name);
            mcb_msg_str(&m, " kernels");
        } else {
            begin_error(it, it->err, MCB_INTERP_E_UNSUPPORTED_OP, (int32_t)o, &m);
            mcb_msg_str(&m, "operator not supported by the ");
            mcb_msg_str(&m, it->registry->name);
            mcb_msg_str(&m, " kernels");
        }
        return MCB_ERR_ARG;
    }
    return MCB_OK;
}

/* Outputs are written: they must be activations, never the model's constants. */
static mcb_status check_outputs(mcb_interpreter *it, const mcb_node *node)
{
    for (uint32_t i = 0; i < node->n_outputs; i++) {
        mcb_tensor_info t;
        if (node->outputs[i] >= 0 &&
            mcb_model_tensor(it->model, 0, (uint32_t)node->outputs[i], &t) == MCB_OK &&
            (t.data != NULL || t.is_variable)) {
            return fail(it, it->err, MCB_INTERP_E_PREPARE, (int32_t)node->index,
                        "output %u (tensor %u) is a constant or variable", i,
                        (uint32_t)node->outputs[i], 0);
        }
    }
    return MCB_OK;
}

static mcb_status prepare_nodes(mcb_interpreter *it)
{
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        mcb_status st = check_outputs(it, node);
        if (st != MCB_OK) {
            return st;
        }
        it->out_of_arena = false;
        st = node->kernel->prepare(it, node);
        if (st == MCB_OK || it->out_of_arena) {
            continue; /* out of arena: keep counting what the other nodes need */
        }
        if (it->err->code == MCB_INTERP_E_NONE) {
            fail(it, it->err, MCB_INTERP_E_PREPARE, (int32_t)o, "prepare failed (status %d)",
                 (uint32_t)st, 0, 0);
        }
        return MCB_ERR_ARG;
    }
    return MCB_OK;
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
    if (subgraph != 0 || op >= pc->it->n_nodes) {
        return;
    }
    const mcb_node *node = &pc->it->nodes[op];
    for (uint32_t k = 0; k < node->n_scratch; k++) {
        pc->bufs[node->scratch_offset[k]].first = first;
        pc->bufs[node->scratch_offset[k]].last = last;
    }
}

static mcb_status plan(mcb_interpreter *it, mcb_plan_buffer *bufs, uint32_t n_tensors,
                       uint32_t n_bufs, uint32_t *peak)
{
    mcb_plan_error perr;
    plan_ctx pc = {it, bufs};
    uint32_t k = n_tensors;
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        for (uint32_t s = 0; s < node->n_scratch; s++, k++) {
            memset(&bufs[k], 0, sizeof bufs[k]);
            bufs[k].size = (uint32_t)round_up(node->scratch_bytes[s], HEAD_ALIGN);
            bufs[k].first = -1;
            bufs[k].last = -1;
            bufs[k].op = (uint16_t)o;
            node->scratch_offset[s] = k;
        }
    }
    memset(&perr, 0, sizeof perr);
    if (mcb_plan_tensors(it->model, bufs, on_op, &pc, &perr) != MCB_OK) {
        mcb_msg m;
        begin_error(it, it->err, MCB_INTERP_E_PLAN, -1, &m); /* perr's message says where */
        mcb_msg_str(&m, perr.message[0] != '\0' ? perr.message : "the model cannot be planned");
        it->err->node = perr.subgraph == 0 ? perr.op : -1;
        return MCB_ERR_ARG;
    }
    if (mcb_plan_place(bufs, n_bufs, peak) != MCB_OK) {
        return fail(it, it->err, MCB_INTERP_E_PLAN, -1, "the plan passes 4 GB", 0, 0, 0);
    }
    return MCB_OK;
}

/* Tensor data and scratch offsets from the plan, before the head is reused. */
static void place_data(mcb_interpreter *it, const mcb_plan_buffer *bufs)
{
    for (uint32_t t = 0; t < it->n_tensors; t++) {
        mcb_tensor_info ti;
        it->tensors[t] = NULL;
        if (bufs[t].size > 0) {
            it->tensors[t] = it->arena + it->head + bufs[t].offset;
        } else if (mcb_model_tensor(it->model, 0, t, &ti) == MCB_OK) {
            it->tensors[t] = ti.data;
        }
    }
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        for (uint32_t s = 0; s < node->n_scratch; s++) {
            node->scratch_offset[s] = bufs[node->scratch_offset[s]].offset;
        }
    }
}

/* ---- init / invoke ------------------------------------------------------------- */

mcb_status mcb_interpreter_init(mcb_interpreter *it, const mcb_model *model, void *arena,
                                size_t arena_bytes, const mcb_kernel_registry *registry,
                                mcb_interp_error *err)
{
    mcb_interp_error local;
    mcb_subgraph_info sg;
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
    if (mcb_model_subgraph(model, 0, &sg) != MCB_OK) {
        it->err = NULL;
        return fail(it, err, MCB_INTERP_E_ARG, -1, "model not open", 0, 0, 0);
    }
    it->n_nodes = sg.n_operators;
    it->n_tensors = sg.n_tensors;

    /* Layout: the head 16-byte aligned, the tail's end 8-byte aligned. */
    const uintptr_t base = (uintptr_t)it->arena;
    const uint32_t pad = (uint32_t)(round_up(base, HEAD_ALIGN) - base);
    const uint32_t cut = (uint32_t)((base + arena_bytes) % TAIL_ALIGN);
    it->head = pad < it->arena_bytes ? pad : it->arena_bytes;
    it->end = it->arena_bytes >= cut ? it->arena_bytes - cut : 0u;
    it->end = it->end > it->head ? it->end : it->head;
    it->tail = it->end;

    mcb_status st = MCB_OK;
    const uint64_t node_bytes = round_up((uint64_t)it->n_nodes * sizeof(mcb_node), TAIL_ALIGN);
    const uint64_t tensor_bytes =
        round_up((uint64_t)it->n_tensors * sizeof(const uint8_t *), TAIL_ALIGN);
    const uint32_t n_plan_tensors = mcb_plan_tensor_total(model);
    it->nodes = mcb_kernel_alloc_persistent(it, (size_t)node_bytes);
    if (it->nodes == NULL) {
        /* Nothing to count with: what is known for sure. */
        const uint64_t planner = (uint64_t)n_plan_tensors * sizeof(mcb_plan_buffer);
        st = fail_arena(it, err, pad + node_bytes + tensor_bytes + planner, false);
        it->err = NULL;
        return st;
    }
    if ((st = find_kernels(it)) != MCB_OK || (st = prepare_nodes(it)) != MCB_OK) {
        it->err = NULL;
        return st;
    }
    it->tensors = mcb_kernel_alloc_persistent(it, (size_t)tensor_bytes);

    uint64_t n_bufs = n_plan_tensors;
    uint64_t scratch_bytes = 0;
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        n_bufs += it->nodes[o].n_scratch;
        for (uint32_t s = 0; s < it->nodes[o].n_scratch; s++) {
            scratch_bytes += round_up(it->nodes[o].scratch_bytes[s], HEAD_ALIGN);
        }
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
    if ((st = plan(it, bufs, n_plan_tensors, (uint32_t)n_bufs, &peak)) != MCB_OK) {
        it->err = NULL;
        return st;
    }
    const uint64_t head_need = peak > planner ? peak : planner;
    const uint64_t required = pad + persistent + head_need;
    if (measuring || head_need > (uint64_t)(it->tail - it->head)) {
        st = fail_arena(it, err, required, true);
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
    return MCB_OK;
}

mcb_status mcb_interpreter_invoke(mcb_interpreter *it, mcb_interp_error *err)
{
    mcb_interp_error local;
    if (err == NULL) {
        err = &local;
    }
    memset(err, 0, sizeof *err);
    err->node = -1;
    if (it == NULL || !it->ready) {
        mcb_msg m;
        err->code = MCB_INTERP_E_STATE;
        mcb_msg_init(&m, err->message, sizeof err->message);
        mcb_msg_str(&m, "interpreter: invoke before a successful init");
        return MCB_ERR_STATE;
    }
    it->err = err;
    for (uint32_t o = 0; o < it->n_nodes; o++) {
        mcb_node *node = &it->nodes[o];
        const mcb_status st = node->kernel->invoke(it, node);
        if (st != MCB_OK) {
            if (err->code == MCB_INTERP_E_NONE) {
                fail(it, err, MCB_INTERP_E_INVOKE, (int32_t)o, "invoke failed (status %d)",
                     (uint32_t)st, 0, 0);
            }
            it->err = NULL;
            return st;
        }
    }
    it->err = NULL;
    return MCB_OK;
}

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
    /* No state yet: variable tensors and resource variables come with their kernels. */
    return MCB_OK;
}

/* ---- tensors ------------------------------------------------------------------ */

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
    if (out->cdata != NULL && ti.data == NULL) {
        out->data = it->arena + (out->cdata - it->arena); /* planned: in our (writable) arena */
    }
    if (mcb_plan_tensor_bytes(ti.type, ti.shape, ti.rank, &out->bytes) != MCB_OK) {
        out->bytes = ti.data_bytes;
    }
    if (ti.data != NULL) {
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
    return mcb_model_operator(ctx->model, 0, node->index, out);
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
    return mcb_model_tensor(ctx->model, 0, (uint32_t)node->inputs[i], out);
}

mcb_status mcb_kernel_output_info(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                  mcb_tensor_info *out)
{
    if (i >= node->n_outputs || node->outputs[i] < 0) {
        return MCB_ERR_ARG;
    }
    return mcb_model_tensor(ctx->model, 0, (uint32_t)node->outputs[i], out);
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
        fail(ctx, ctx->err, ctx->ready ? MCB_INTERP_E_INVOKE : MCB_INTERP_E_PREPARE,
             (int32_t)node->index, fmt, a, b, c);
    }
    return MCB_ERR_ARG;
}

const void *mcb_kernel_input(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    if (ctx->tensors == NULL || !mcb_kernel_has_input(node, i)) {
        return NULL; /* no tensor table before planning */
    }
    return ctx->tensors[node->inputs[i]];
}

void *mcb_kernel_output(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i)
{
    if (ctx->tensors == NULL || i >= node->n_outputs || node->outputs[i] < 0 ||
        ctx->tensors[node->outputs[i]] == NULL) {
        return NULL;
    }
    /* Outputs are planned (check_outputs), so they point into the arena. */
    return ctx->arena + (ctx->tensors[node->outputs[i]] - ctx->arena);
}

void *mcb_kernel_scratch(const mcb_interpreter *ctx, const mcb_node *node, uint32_t handle)
{
    if (!ctx->ready || handle >= node->n_scratch) {
        return NULL;
    }
    return ctx->arena + ctx->head + node->scratch_offset[handle];
}
