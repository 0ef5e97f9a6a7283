/*
 * READ_VARIABLE: copies a resource variable into the output.
 *
 * As TFLM's read_variable.cc and MicroResourceVariables::Read: the resource
 * id comes from input 0 (a VAR_HANDLE's output); an id that does not exist
 * fails the invoke; a variable no ASSIGN_VARIABLE has allocated yet copies
 * nothing (TFLM copies its 0 bytes), leaving the output as it was. TFLM only
 * debug-checks that the sizes agree and would overrun the output otherwise:
 * we fail the invoke instead.
 */
#include <string.h>

#include "mcb/model_extra.h"
#include "mcb/planner.h"
#include "reference.h"

typedef struct {
    uint32_t bytes; /* the output's */
} read_variable_data;

mcb_status mcb_read_variable_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info handle;
    mcb_tensor_info out;
    uint32_t bytes = 0;

    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_input_info(ctx, node, 0, &handle) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one resource input and one output", 0, 0, 0);
    }
    if (handle.type != MCB_TYPE_RESOURCE || mcb_tensor_elements(&handle) != 1u) {
        return mcb_kernel_reject(ctx, node, "input must be one RESOURCE, not type %u",
                                 handle.type, 0, 0);
    }
    if (mcb_plan_tensor_bytes(out.type, out.shape, out.rank, &bytes) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "output type %u not supported", out.type, 0, 0);
    }
    read_variable_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bytes = bytes;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_read_variable_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const read_variable_data *d = node->user_data;
    const int32_t id = mcb_kernel_input_resource(ctx, node, 0);
    void *data = NULL;
    uint32_t bytes = 0;
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    if (mcb_kernel_resource(ctx, id, &data, &bytes) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "resource variable %d does not exist", (uint32_t)id,
                                 0, 0);
    }
    if (data == NULL || bytes == 0u) {
        return MCB_OK; /* never allocated: TFLM copies nothing */
    }
    if (bytes != d->bytes) {
        return mcb_kernel_reject(ctx, node, "resource variable %d holds %u bytes, output %u",
                                 (uint32_t)id, bytes, d->bytes);
    }
    void *out = mcb_kernel_output(ctx, node, 0);
    if (out == NULL) {
        return MCB_ERR_STATE;
    }
    memcpy(out, data, bytes);
    return MCB_OK;
}
