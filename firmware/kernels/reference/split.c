/*
 * SPLIT and SPLIT_V of FLOAT32, INT8, INT16 and INT32 tensors, as TFLM's
 * split.cc and split_v.cc: the axis tensor must be constant (TFLM's Prepare
 * says so); its first value, negative counted from the rank, must name a
 * dimension (TFLM fails the invoke otherwise; we reject in prepare).
 *
 * The output tensors' shapes decide the pieces, as in TFLM: SPLIT_V never
 * reads size_splits (so a -1 in it is whatever the converter resolved into
 * the output shapes), and SPLIT sizes every piece like output 0. What TFLM
 * leaves to debug checks is rejected: outputs of another type or rank, other
 * dimensions off the axis, pieces not adding up to the input's axis.
 * Invoke: for each index before the axis, each output's slab in turn.
 */
#include "reference.h"
#include "shape_common.h"

#include <string.h>

#define OPTIONS_SPLIT 35    /* BuiltinOptions.SplitOptions */
#define OPTIONS_SPLIT_V 79  /* BuiltinOptions.SplitVOptions */
#define MAX_OUTPUTS 64u

#define SPLIT_TYPES                                                                     \
    (MCB_SHAPE_TYPE(MCB_TYPE_FLOAT32) | MCB_SHAPE_TYPE(MCB_TYPE_INT8) |                 \
     MCB_SHAPE_TYPE(MCB_TYPE_INT16) | MCB_SHAPE_TYPE(MCB_TYPE_INT32))

typedef struct {
    uint32_t outer; /* product of the input dimensions before the axis */
    uint32_t n_outputs;
    uint32_t slab[]; /* n_outputs: bytes of output i per outer index */
} split_data;

static mcb_status split_prepare(mcb_interpreter *ctx, mcb_node *node, bool variable)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    const uint32_t data_input = variable ? 0u : 1u;
    const uint32_t axis_input = variable ? 2u : 0u;
    const uint8_t options = variable ? OPTIONS_SPLIT_V : OPTIONS_SPLIT;

    if (node->n_inputs != (variable ? 3u : 2u) || node->n_outputs < 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, data_input, &in) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, variable ? "needs three inputs and outputs"
                                                     : "needs two inputs and outputs",
                                 0, 0, 0);
    }
    if (node->n_outputs > MAX_OUTPUTS) {
        return mcb_kernel_reject(ctx, node, "%u outputs, at most %u", node->n_outputs,
                                 MAX_OUTPUTS, 0);
    }
    if (op.options_type != 0 && op.options_type != options) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    const uint32_t size = mcb_shape_type_bytes(in.type, SPLIT_TYPES);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", in.type, 0, 0);
    }
    if (mcb_shape_too_big(&in, size)) {
        return mcb_kernel_reject(ctx, node, "input too large", 0, 0, 0);
    }
    int32_t axis_values[MCB_SHAPE_MAX_RANK];
    uint32_t n_axis = 0;
    if (mcb_shape_const_i32(ctx, node, axis_input, axis_values, MCB_SHAPE_MAX_RANK, &n_axis) !=
            MCB_OK ||
        n_axis < 1u) {
        return mcb_kernel_reject(ctx, node, "the axis must be a constant INT32 tensor", 0, 0,
                                 0);
    }
    int32_t axis = axis_values[0];
    if (axis < 0) {
        axis += (int32_t)in.rank;
    }
    if (axis < 0 || axis >= (int32_t)in.rank) {
        return mcb_kernel_reject(ctx, node, "axis %d outside the input's rank %u", axis_values[0],
                                 in.rank, 0);
    }

    uint32_t outer = 1;
    uint32_t inner = size;
    for (uint32_t d = 0; d < in.rank; d++) {
        if (d < (uint32_t)axis) {
            outer *= (uint32_t)in.shape[d];
        } else if (d > (uint32_t)axis) {
            inner *= (uint32_t)in.shape[d];
        }
    }
    uint32_t slab[MAX_OUTPUTS];
    int64_t total = 0;
    int32_t first = 0;
    for (uint32_t i = 0; i < node->n_outputs; i++) {
        mcb_tensor_info out;
        if (mcb_kernel_output_info(ctx, node, i, &out) != MCB_OK) {
            return mcb_kernel_reject(ctx, node, "output %u missing", i, 0, 0);
        }
        if (out.type != in.type || out.rank != in.rank) {
            return mcb_kernel_reject(ctx, node, "output %u: type %u rank %u differ from the input's",
                                     i, out.type, out.rank);
        }
        for (uint32_t d = 0; d < in.rank; d++) {
            if (d != (uint32_t)axis && out.shape[d] != in.shape[d]) {
                return mcb_kernel_reject(ctx, node, "output %u dimension %u is %d, not the input's",
                                         i, d, out.shape[d]);
            }
        }
        if (i == 0u) {
            first = out.shape[axis];
        } else if (!variable && out.shape[axis] != first) {
            return mcb_kernel_reject(ctx, node, "output %u differs in size from output 0", i, 0,
                                     0);
        }
        total += out.shape[axis];
        slab[i] = (uint32_t)out.shape[axis] * inner;
    }
    if (total != in.shape[axis]) {
        return mcb_kernel_reject(ctx, node, "outputs sum to %u along axis %d, input has %d",
                                 (uint32_t)total, axis, in.shape[axis]);
    }

    split_data *d =
        mcb_kernel_alloc_persistent(ctx, sizeof *d + sizeof(uint32_t) * node->n_outputs);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->outer = outer;
    d->n_outputs = node->n_outputs;
    memcpy(d->slab, slab, sizeof(uint32_t) * node->n_outputs);
    node->user_data = d;
    return MCB_OK;
}

static mcb_status split_invoke(mcb_interpreter *ctx, mcb_node *node, uint32_t data_input)
{
    const split_data *d = node->user_data;
    const uint8_t *in = mcb_kernel_input(ctx, node, data_input);
    uint8_t *out[MAX_OUTPUTS];
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n_outputs; i++) {
        out[i] = mcb_kernel_output(ctx, node, i);
        if ((in == NULL || out[i] == NULL) && d->slab[i] != 0u && d->outer != 0u) {
            return MCB_ERR_STATE;
        }
    }
    for (uint32_t k = 0; k < d->outer; k++) {
        for (uint32_t i = 0; i < d->n_outputs; i++) {
            if (d->slab[i] != 0u) {
                memcpy(out[i] + (size_t)k * d->slab[i], in, d->slab[i]);
                in += d->slab[i];
            }
        }
    }
    return MCB_OK;
}

mcb_status mcb_split_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return split_prepare(ctx, node, false);
}

mcb_status mcb_split_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return split_invoke(ctx, node, 1u);
}

mcb_status mcb_split_v_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return split_prepare(ctx, node, true);
}

mcb_status mcb_split_v_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return split_invoke(ctx, node, 0u);
}
