/*
 * CONCATENATION of FLOAT32, INT8, INT16, INT32, INT64 and BOOL tensors: the
 * types of TFLM's concatenation.cc, which copies bytes and never requantises.
 *
 * As TFLM's ConcatenationPrepare: 1 to 10 inputs (kMaxInputNum), rank up to
 * 6, no fused activation (TFLM rejects any), a negative axis counted from the
 * output's rank; for INT8 every input must have the output's scale and zero
 * point (TFLM rejects the rest rather than requantise; INT16 is not checked).
 * Shapes TFLM leaves to a debug check are rejected here: the same rank
 * everywhere, the dimensions off the axis equal, the axis sizes summing to
 * the output's. Invoke is reference_ops::Concatenation: for each index before
 * the axis, each input's slab in turn.
 */
#include <string.h>

#include "mcb/quant.h"
#include "reference.h"
#include "shape_common.h"

#define OPTIONS_CONCATENATION 10 /* BuiltinOptions.ConcatenationOptions */
#define OPT_AXIS MCB_FB_SLOT(0)
#define OPT_ACTIVATION MCB_FB_SLOT(1)

#define MAX_INPUTS 10u /* TFLM's kMaxInputNum */
#define MAX_RANK 6u    /* TFLM's RuntimeShape::kMaxSmallSize */

#define CONCAT_TYPES                                                                    \
    (MCB_SHAPE_TYPE(MCB_TYPE_FLOAT32) | MCB_SHAPE_TYPE(MCB_TYPE_INT8) |                 \
     MCB_SHAPE_TYPE(MCB_TYPE_INT16) | MCB_SHAPE_TYPE(MCB_TYPE_INT32) |                  \
     MCB_SHAPE_TYPE(MCB_TYPE_INT64) | MCB_SHAPE_TYPE(MCB_TYPE_BOOL))

typedef struct {
    uint32_t outer;              /* product of the output dimensions before the axis */
    uint32_t n_inputs;
    uint32_t slab[MAX_INPUTS];   /* bytes of input i per outer index */
} concatenation_data;

mcb_status mcb_concatenation_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info out;
    int32_t axis = 0;
    uint8_t act = 0;

    if (node->n_inputs < 1u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs inputs and one output", 0, 0, 0);
    }
    if (node->n_inputs > MAX_INPUTS) {
        return mcb_kernel_reject(ctx, node, "%u inputs, TFLM takes at most %u", node->n_inputs,
                                 MAX_INPUTS, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_CONCATENATION) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_i32(&op.options, OPT_AXIS, 0, &axis) != MCB_OK ||
        mcb_fb_u8(&op.options, OPT_ACTIVATION, 0, &act) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (act != MCB_ACT_NONE) {
        return mcb_kernel_reject(ctx, node, "fused activation %u (TFLM takes NONE only)", act, 0,
                                 0);
    }
    const uint32_t size = mcb_shape_type_bytes(out.type, CONCAT_TYPES);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", out.type, 0, 0);
    }
    if (mcb_shape_too_big(&out, size)) {
        return mcb_kernel_reject(ctx, node, "output too large", 0, 0, 0);
    }
    if (out.rank > MAX_RANK) {
        return mcb_kernel_reject(ctx, node, "rank %u, TFLM supports up to %u", out.rank,
                                 MAX_RANK, 0);
    }
    if (axis < 0) {
        axis += (int32_t)out.rank;
    }
    if (axis < 0 || axis >= (int32_t)out.rank) {
        return mcb_kernel_reject(ctx, node, "axis %d outside the output's rank %u", axis,
                                 out.rank, 0);
    }
    const float out_scale = mcb_quant_scale(&out.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&out.quant, 0);

    uint32_t outer = 1;
    uint32_t inner = size; /* bytes per unit of the axis */
    for (uint32_t d = 0; d < out.rank; d++) {
        if (d < (uint32_t)axis) {
            outer *= (uint32_t)out.shape[d];
        } else if (d > (uint32_t)axis) {
            inner *= (uint32_t)out.shape[d];
        }
    }
    uint32_t slab[MAX_INPUTS];
    int64_t axis_total = 0;
    for (uint32_t i = 0; i < node->n_inputs; i++) {
        mcb_tensor_info in;
        if (mcb_kernel_input_info(ctx, node, i, &in) != MCB_OK) {
            return mcb_kernel_reject(ctx, node, "input %u missing", i, 0, 0);
        }
        if (in.type != out.type) {
            return mcb_kernel_reject(ctx, node, "input %u type %u, output type %u", i, in.type,
                                     out.type);
        }
        if (in.rank != out.rank) {
            return mcb_kernel_reject(ctx, node, "input %u rank %u, output rank %u", i, in.rank,
                                     out.rank);
        }
        for (uint32_t d = 0; d < in.rank; d++) {
            if (d != (uint32_t)axis && in.shape[d] != out.shape[d]) {
                return mcb_kernel_reject(ctx, node, "input %u dimension %u is %d, not the output's",
                                         i, d, in.shape[d]);
            }
        }
        if (out.type == MCB_TYPE_INT8 && (mcb_quant_scale(&in.quant, 0) != out_scale ||
                                          mcb_quant_zero_point(&in.quant, 0) != out_zp)) {
            return mcb_kernel_reject(ctx, node,
                                     "input %u quantised unlike the output (TFLM does not "
                                     "requantise)", i, 0, 0);
        }
        axis_total += in.shape[axis];
        slab[i] = (uint32_t)in.shape[axis] * inner;
    }
    if (axis_total != out.shape[axis]) {
        return mcb_kernel_reject(ctx, node, "inputs sum to %u along axis %d, output has %d",
                                 (uint32_t)axis_total, axis, out.shape[axis]);
    }

    concatenation_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->outer = outer;
    d->n_inputs = node->n_inputs;
    memcpy(d->slab, slab, sizeof slab);
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_concatenation_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const concatenation_data *d = node->user_data;
    uint8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    const uint8_t *in[MAX_INPUTS];
    for (uint32_t i = 0; i < d->n_inputs; i++) {
        in[i] = mcb_kernel_input(ctx, node, i);
        if (in[i] == NULL && d->slab[i] != 0u && d->outer != 0u) {
            return MCB_ERR_STATE;
        }
    }
    for (uint32_t k = 0; k < d->outer; k++) {
        for (uint32_t i = 0; i < d->n_inputs; i++) {
            if (d->slab[i] == 0u) {
                continue;
            }
            if (out == NULL) {
                return MCB_ERR_STATE;
            }
            memcpy(out, in[i] + (size_t)k * d->slab[i], d->slab[i]);
            out += d->slab[i];
        }
    }
    return MCB_OK;
}
