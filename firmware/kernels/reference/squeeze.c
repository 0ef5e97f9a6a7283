/*
 * SQUEEZE, any fixed-size type: a copy, like RESHAPE, under the output
 * tensor's shape.
 *
 * As TFLM's squeeze.cc: rank up to 8; the dimensions squeezed are those in
 * squeeze_dims (negative counted from the rank; each must have size 1), or
 * every dimension of size 1 when the option is empty; the output must have
 * a dimension for each one kept, at least as large, in order; and input and
 * output must hold the same number of bytes (TFLM checks that in Eval; here
 * in prepare). Input and output types must also agree.
 */
#include <string.h>

#include "mcb/model_extra.h"
#include "reference.h"
#include "shape_common.h"

#define OPTIONS_SQUEEZE 30 /* BuiltinOptions.SqueezeOptions */
#define OPT_SQUEEZE_DIMS MCB_FB_SLOT(0)
#define MAX_SQUEEZE_DIMS 8u /* TFLM's max_squeeze_dims */

typedef struct {
    uint32_t bytes;
} squeeze_data;

mcb_status mcb_squeeze_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    mcb_fb_vector dims;

    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_SQUEEZE) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_vector_field(&op.options, OPT_SQUEEZE_DIMS, 4, &dims) != MCB_OK ||
        dims.count > MAX_SQUEEZE_DIMS) {
        return mcb_kernel_reject(ctx, node, "unreadable options (at most %u squeeze_dims)",
                                 MAX_SQUEEZE_DIMS, 0, 0);
    }
    if (in.type != out.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in.type, out.type,
                                 0);
    }
    const uint32_t size = mcb_shape_type_bytes(in.type, UINT32_MAX);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", in.type, 0, 0);
    }
    if (in.rank > MAX_SQUEEZE_DIMS) {
        return mcb_kernel_reject(ctx, node, "rank %u, TFLM supports up to %u", in.rank,
                                 MAX_SQUEEZE_DIMS, 0);
    }
    bool squeeze[MAX_SQUEEZE_DIMS] = {false};
    for (uint32_t d = 0; d < in.rank && dims.count == 0u; d++) {
        squeeze[d] = in.shape[d] == 1;
    }
    for (uint32_t i = 0; i < dims.count; i++) {
        int32_t v = 0;
        if (mcb_fb_vec_i32(&dims, i, &v) != MCB_OK) {
            return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
        }
        const int32_t d = v < 0 ? v + (int32_t)in.rank : v;
        if (d < 0 || d >= (int32_t)in.rank || in.shape[d] != 1) {
            return mcb_kernel_reject(ctx, node, "squeeze_dims %d: no dimension of size 1 there",
                                     (uint32_t)v, 0, 0);
        }
        squeeze[d] = true;
    }
    uint32_t o = 0;
    for (uint32_t d = 0; d < in.rank; d++) {
        if (!squeeze[d]) {
            if (o >= out.rank || out.shape[o] < in.shape[d]) {
                return mcb_kernel_reject(ctx, node, "output dimension %u too small for input's %u",
                                         o, d, 0);
            }
            o++;
        }
    }
    const uint32_t n = mcb_tensor_elements(&in);
    if (n != mcb_tensor_elements(&out) || mcb_shape_too_big(&in, size)) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, output %u", n,
                                 mcb_tensor_elements(&out), 0);
    }
    squeeze_data *sd = mcb_kernel_alloc_persistent(ctx, sizeof *sd);
    if (sd == NULL) {
        return MCB_ERR_RANGE;
    }
    sd->bytes = n * size;
    node->user_data = sd;
    return MCB_OK;
}

mcb_status mcb_squeeze_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const squeeze_data *sd = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    void *out = mcb_kernel_output(ctx, node, 0);
    if (sd == NULL) {
        return MCB_ERR_STATE;
    }
    if (sd->bytes == 0u || in == out) {
        return MCB_OK;
    }
    if (in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    memcpy(out, in, sd->bytes);
    return MCB_OK;
}
