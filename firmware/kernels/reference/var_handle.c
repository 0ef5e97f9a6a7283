/*
 * VAR_HANDLE: names a resource variable by (container, shared_name).
 *
 * As TFLM's var_handle.cc: prepare finds or creates the variable's id in the
 * interpreter's table (MicroResourceVariables::CreateIdIfNoneFound, in
 * prepare order: subgraph 0 first) and points the output at that id, kept in
 * the node's persistent data; the planner never plans that output. Invoke has
 * nothing left to do. A handle without shared_name is refused: TFLM would
 * compare a NULL name and crash.
 */
#include "reference.h"

#define OPTIONS_VAR_HANDLE 111 /* BuiltinOptions.VarHandleOptions */
#define OPT_CONTAINER MCB_FB_SLOT(0)
#define OPT_SHARED_NAME MCB_FB_SLOT(1)

typedef struct {
    int32_t id;
} var_handle_data;

mcb_status mcb_var_handle_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_fb_string container = {NULL, 0};
    mcb_fb_string shared_name = {NULL, 0};

    if (node->n_outputs < 1u || node->outputs[0] < 0 ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs an output", 0, 0, 0);
    }
    if (op.options_type != OPTIONS_VAR_HANDLE ||
        mcb_fb_string_field(&op.options, OPT_CONTAINER, &container) != MCB_OK ||
        mcb_fb_string_field(&op.options, OPT_SHARED_NAME, &shared_name) != MCB_OK ||
        shared_name.data == NULL) {
        return mcb_kernel_reject(ctx, node, "needs VarHandleOptions with a shared_name", 0, 0, 0);
    }
    var_handle_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->id = mcb_kernel_resource_id(ctx, &container, &shared_name);
    if (d->id < 0) {
        return mcb_kernel_reject(ctx, node, "no room for another resource variable", 0, 0, 0);
    }
    if (mcb_kernel_set_output(ctx, node, 0, &d->id) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "output %u cannot hold a resource id",
                                 (uint32_t)node->outputs[0], 0, 0);
    }
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_var_handle_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    (void)ctx;
    return node->user_data != NULL ? MCB_OK : MCB_ERR_STATE;
}
