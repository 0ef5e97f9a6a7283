/*
 * ASSIGN_VARIABLE: copies input 1 into the resource variable input 0 names.
 *
 * As TFLM's assign_variable.cc and MicroResourceVariables::Allocate / Assign:
 * - prepare: two inputs, no output; the handle is a RESOURCE or INT32 of one
 *   element. When the handle already holds an id (made by an earlier
 *   VAR_HANDLE of the same subgraph, or a constant), the variable's buffer is
 *   allocated now if it has none: the value's bytes, persistent, every byte
 *   the low byte of the value's first zero point (TFLM casts it to int8 and
 *   memsets), which is also what a reset writes back;
 * - invoke: an id that does not exist, or whose buffer was never allocated,
 *   fails as in TFLM. TFLM only debug-checks the sizes (and would read past
 *   a smaller value): we fail the invoke instead.
 */
#include <string.h>

#include "mcb/model_extra.h"
#include "mcb/planner.h"
#include "reference.h"

typedef struct {
    uint32_t bytes; /* the value's */
} assign_variable_data;

mcb_status mcb_assign_variable_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info handle;
    mcb_tensor_info value;
    uint32_t bytes = 0;

    if (node->n_inputs != 2u || node->n_outputs != 0u ||
        mcb_kernel_input_info(ctx, node, 0, &handle) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 1, &value) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs a resource and a value input, no output", 0,
                                 0, 0);
    }
    if ((handle.type != MCB_TYPE_RESOURCE && handle.type != MCB_TYPE_INT32) ||
        mcb_tensor_elements(&handle) != 1u) {
        return mcb_kernel_reject(ctx, node, "input 0 must be one RESOURCE or INT32, not type %u",
                                 handle.type, 0, 0);
    }
    if (mcb_plan_tensor_bytes(value.type, value.shape, value.rank, &bytes) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "value type %u not supported", value.type, 0, 0);
    }
    assign_variable_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bytes = bytes;
    const int32_t id = mcb_kernel_input_resource(ctx, node, 0);
    if (id >= 0 || handle.data != NULL) {
        uint8_t fill = 0;
        if (value.quant.n_scales > 0u) {
            fill = (uint8_t)((uint64_t)mcb_quant_zero_point(&value.quant, 0) & 0xFFu);
        }
        const mcb_status st = mcb_kernel_resource_allocate(ctx, id, bytes, fill);
        if (st == MCB_ERR_RANGE) {
            return st;
        }
        if (st != MCB_OK) {
            return mcb_kernel_reject(ctx, node, "resource variable %d does not exist",
                                     (uint32_t)id, 0, 0);
        }
    }
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_assign_variable_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const assign_variable_data *d = node->user_data;
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
    if (data == NULL) {
        return mcb_kernel_reject(ctx, node, "resource variable %d assigned before allocation",
                                 (uint32_t)id, 0, 0);
    }
    if (bytes != d->bytes) {
        return mcb_kernel_reject(ctx, node, "resource variable %d holds %u bytes, value %u",
                                 (uint32_t)id, bytes, d->bytes);
    }
    const void *value = mcb_kernel_input(ctx, node, 1);
    if (bytes > 0u) {
        if (value == NULL) {
            return MCB_ERR_STATE;
        }
        memcpy(data, value, bytes);
    }
    return MCB_OK;
}
