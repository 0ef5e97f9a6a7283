/*
 * PAD and PADV2 of FLOAT32, INT8, INT16 and INT32 tensors, rank up to 5, as
 * TFLM's pad_common.cc / pad.cc (one kernel for both operators, two or three
 * inputs alike):
 * - the paddings must be a constant tensor (TFLM's Prepare) of 2 * rank
 *   INT32 values, (before, after) per dimension, and the output's shape
 *   input + before + after; negative paddings (TFLM's reference pads
 *   nonsense with them) and INT64 paddings (TFLM reads them as INT32) are
 *   rejected;
 * - the pad value: the constant_values scalar when given (same type; for
 *   INT8 quantised exactly as the output, as TFLM checks), else the output's
 *   zero point for INT8 and 0 for every other type, INT16 included.
 * Invoke fills the output with the pad value and copies the input inside.
 */
#include <string.h>

#include "mcb/model_extra.h"
#include "reference.h"
#include "shape_common.h"

#define OPTIONS_PAD 22   /* BuiltinOptions.PadOptions */
#define OPTIONS_PADV2 43 /* BuiltinOptions.PadV2Options */
#define MAX_RANK 5u      /* TFLM's PadKernelMaxDimensionCount */

#define PAD_TYPES                                                                       \
    (MCB_SHAPE_TYPE(MCB_TYPE_FLOAT32) | MCB_SHAPE_TYPE(MCB_TYPE_INT8) |                 \
     MCB_SHAPE_TYPE(MCB_TYPE_INT16) | MCB_SHAPE_TYPE(MCB_TYPE_INT32))

typedef struct {
    mcb_shape_copy copy; /* the input into the output */
    uint32_t n_out;      /* output elements */
    bool has_constant;   /* the pad value is input 2's */
    uint8_t value[4];    /* else this one */
} pad_data;

mcb_status mcb_pad_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;

    if ((node->n_inputs != 2u && node->n_inputs != 3u) || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs two or three inputs and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_PAD &&
        op.options_type != OPTIONS_PADV2) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (in.type != out.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in.type, out.type,
                                 0);
    }
    const uint32_t size = mcb_shape_type_bytes(in.type, PAD_TYPES);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", in.type, 0, 0);
    }
    if (in.rank > MAX_RANK || out.rank != in.rank) {
        return mcb_kernel_reject(ctx, node, "input rank %u, output rank %u (up to %u)", in.rank,
                                 out.rank, MAX_RANK);
    }
    if (mcb_shape_too_big(&out, size)) {
        return mcb_kernel_reject(ctx, node, "output too large", 0, 0, 0);
    }
    const bool has_constant = node->n_inputs == 3u && mcb_kernel_has_input(node, 2);
    if (has_constant) {
        mcb_tensor_info cv;
        if (mcb_kernel_input_info(ctx, node, 2, &cv) != MCB_OK || cv.type != in.type ||
            mcb_tensor_elements(&cv) != 1u) {
            return mcb_kernel_reject(ctx, node, "constant_values must be one value of the input's "
                                     "type", 0, 0, 0);
        }
        if (in.type == MCB_TYPE_INT8 &&
            (mcb_quant_zero_point(&cv.quant, 0) != mcb_quant_zero_point(&out.quant, 0) ||
             mcb_quant_scale(&cv.quant, 0) != mcb_quant_scale(&out.quant, 0))) {
            return mcb_kernel_reject(ctx, node, "constant_values quantised unlike the output", 0,
                                     0, 0);
        }
    }
    const int64_t zp = mcb_quant_zero_point(&out.quant, 0);
    if (in.type == MCB_TYPE_INT8 && !has_constant && (zp < INT8_MIN || zp > INT8_MAX)) {
        return mcb_kernel_reject(ctx, node, "output zero point outside INT8", 0, 0, 0);
    }
    int32_t pads[2u * MAX_RANK];
    uint32_t n = 0;
    if (mcb_shape_const_i32(ctx, node, 1, pads, 2u * MAX_RANK, &n) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "paddings must be a constant INT32 tensor", 0, 0, 0);
    }
    if (n != 2u * out.rank) {
        return mcb_kernel_reject(ctx, node, "%u paddings for rank %u", n, out.rank, 0);
    }

    pad_data pd;
    memset(&pd, 0, sizeof pd);
    mcb_shape_strides(out.shape, out.rank, pd.copy.out_step);
    pd.copy.rank = in.rank;
    pd.copy.elem_bytes = size;
    for (uint32_t d = 0; d < in.rank; d++) {
        const int32_t before = pads[2u * d];
        const int32_t after = pads[2u * d + 1u];
        if (before < 0 || after < 0) {
            return mcb_kernel_reject(ctx, node, "negative padding in dimension %u", d, 0, 0);
        }
        if ((int64_t)in.shape[d] + before + after != out.shape[d]) {
            return mcb_kernel_reject(ctx, node, "output dimension %u is %d, padding gives %d", d,
                                     (uint32_t)out.shape[d],
                                     (uint32_t)((int64_t)in.shape[d] + before + after));
        }
        pd.copy.count[d] = in.shape[d];
        pd.copy.out_base += before * pd.copy.out_step[d];
    }
    mcb_shape_strides(in.shape, in.rank, pd.copy.in_step);
    pd.n_out = mcb_tensor_elements(&out);
    pd.has_constant = has_constant;
    if (in.type == MCB_TYPE_INT8) {
        pd.value[0] = (uint8_t)(int8_t)zp;
    }

    pad_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = pd;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_pad_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const pad_data *d = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    uint8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    if (d->n_out == 0u) {
        return MCB_OK;
    }
    const uint8_t *value = d->has_constant ? mcb_kernel_input(ctx, node, 2) : d->value;
    if (out == NULL || value == NULL) {
        return MCB_ERR_STATE;
    }
    const uint32_t size = d->copy.elem_bytes;
    if (size == 1u) {
        memset(out, value[0], d->n_out);
    } else {
        for (uint32_t i = 0; i < d->n_out; i++) {
            memcpy(out + (size_t)i * size, value, size);
        }
    }
    for (uint32_t k = 0; k < d->copy.rank; k++) {
        if (d->copy.count[k] == 0) {
            return MCB_OK;
        }
    }
    if (in == NULL) {
        return MCB_ERR_STATE;
    }
    mcb_shape_copy_run(&d->copy, in, out);
    return MCB_OK;
}
