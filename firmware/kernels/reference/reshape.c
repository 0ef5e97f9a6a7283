/*
 * RESHAPE, any fixed-size type: the output is the input's bytes under the
 * output tensor's shape.
 *
 * As TFLM's reshape_common.cc / reshape.cc: the shape that counts is the
 * output tensor's, as the model states it (TFLM micro reads neither the
 * new_shape option nor the shape input, and so neither do we; the model
 * reader has already refused -1 dimensions); types must match and element
 * counts agree. Invoke copies, unless input and output share a buffer.
 */
#include <string.h>

#include "mcb/model_extra.h"
#include "reference.h"

#define OPTIONS_RESHAPE 17 /* BuiltinOptions.ReshapeOptions */

typedef struct {
    uint32_t bytes;
} reshape_data;

mcb_status mcb_reshape_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;

    if ((node->n_inputs != 1u && node->n_inputs != 2u) || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one or two inputs and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_RESHAPE) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (in.type != out.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in.type, out.type,
                                 0);
    }
    const uint32_t bits = mcb_tensor_type_bits(in.type);
    if (bits == 0u || bits % 8u != 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", in.type, 0, 0);
    }
    const uint32_t n = mcb_tensor_elements(&in);
    if (n != mcb_tensor_elements(&out) || n > 0x7FFFFFFFu / (bits / 8u)) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, output %u", n,
                                 mcb_tensor_elements(&out), 0);
    }
    reshape_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bytes = (uint32_t)n * (bits / 8u);
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_reshape_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const reshape_data *d = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    void *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    if (d->bytes == 0u) {
        return MCB_OK;
    }
    if (in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    if (in != out) { /* in place: nothing to do */
        memcpy(out, in, d->bytes);
    }
    return MCB_OK;
}
