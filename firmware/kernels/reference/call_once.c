/*
 * CALL_ONCE: runs its init subgraph on the first invoke only.
 *
 * As TFLM's call_once.cc: no inputs, no outputs, init_subgraph_index within
 * the model (prepare); the subgraph runs on the first invoke and, once it
 * succeeded, never again. Nothing resets that: TFLM's MicroInterpreter::Reset
 * leaves CALL_ONCE alone, so after a reset the subgraph does not run again.
 */
#include "reference.h"

#define OPTIONS_CALL_ONCE 103 /* BuiltinOptions.CallOnceOptions */
#define OPT_INIT_SUBGRAPH MCB_FB_SLOT(0)

typedef struct {
    uint32_t subgraph;
    bool has_run;
} call_once_data;

mcb_status mcb_call_once_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    int32_t index = 0;

    if (mcb_kernel_operator(ctx, node, &op) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable operator", 0, 0, 0);
    }
    if (node->n_inputs != 0u || node->n_outputs != 0u) {
        return mcb_kernel_reject(ctx, node, "takes no inputs and no outputs (has %u and %u)",
                                 node->n_inputs, node->n_outputs, 0);
    }
    if ((op.options_type != 0 && op.options_type != OPTIONS_CALL_ONCE) ||
        mcb_fb_i32(&op.options, OPT_INIT_SUBGRAPH, 0, &index) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (index < 0 || (uint32_t)index >= mcb_kernel_subgraph_count(ctx)) {
        return mcb_kernel_reject(ctx, node, "init subgraph %d, the model has %u",
                                 (uint32_t)index, mcb_kernel_subgraph_count(ctx), 0);
    }
    call_once_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->subgraph = (uint32_t)index;
    d->has_run = false;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_call_once_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    call_once_data *d = node->user_data;
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    if (d->has_run) {
        return MCB_OK;
    }
    const mcb_status st = mcb_kernel_invoke_subgraph(ctx, d->subgraph);
    if (st != MCB_OK) {
        return st;
    }
    d->has_run = true;
    return MCB_OK;
}
