/*
 * FULLY_CONNECTED's shared prepare part (fully_connected_common.h), as
 * TFLM's FullyConnectedPrepare checks types, plus what it leaves to debug
 * checks (filter [units, depth], input rows * depth elements, bias size),
 * so that invoke cannot leave its tensors.
 */
#include "fully_connected_common.h"

#include "mcb/quant.h"

#define OPTIONS_FULLY_CONNECTED 8 /* BuiltinOptions.FullyConnectedOptions */
#define OPT_ACTIVATION MCB_FB_SLOT(0)
#define OPT_WEIGHTS_FORMAT MCB_FB_SLOT(1)

static uint64_t elements(const mcb_tensor_info *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++) {
        n *= (uint64_t)t->shape[i];
        if (n > 0x7FFFFFFFu) {
            return UINT64_MAX; /* more than any arena holds: fails the checks */
        }
    }
    return n;
}

static mcb_status check_types(mcb_interpreter *ctx, const mcb_node *node,
                              mcb_tensor_type in_type, const mcb_fc_info *f)
{
    if (f->out.type != in_type) {
        return mcb_kernel_reject(ctx, node, "output type %u, input type %u", f->out.type,
                                 in_type, 0);
    }
    if (in_type == MCB_TYPE_FLOAT32) {
        if (f->filter.type != MCB_TYPE_FLOAT32) {
            return mcb_kernel_reject(ctx, node, "filter type %u not supported (FLOAT32 only)",
                                     f->filter.type, 0, 0);
        }
        if (f->has_bias && f->bias.type != MCB_TYPE_FLOAT32) {
            return mcb_kernel_reject(ctx, node, "bias type %u, expected FLOAT32", f->bias.type,
                                     0, 0);
        }
        return MCB_OK;
    }
    if (f->filter.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "filter type %u not supported (INT8 only)",
                                 f->filter.type, 0, 0);
    }
    if (f->has_bias && f->bias.type != MCB_TYPE_INT64 && f->bias.type != MCB_TYPE_INT32) {
        return mcb_kernel_reject(ctx, node, "bias type %u, expected INT64 or INT32",
                                 f->bias.type, 0, 0);
    }
    return MCB_OK;
}

mcb_status mcb_fc_read(mcb_interpreter *ctx, mcb_node *node, mcb_tensor_type in_type,
                       mcb_fc_info *f)
{
    mcb_operator_info op;
    int8_t weights_format = 0;
    f->has_bias = mcb_kernel_has_input(node, MCB_FC_IN_BIAS);
    f->act = 0;

    if (node->n_outputs != 1 || node->n_inputs < 2 || node->n_inputs > 3 ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_FC_IN_INPUT, &f->in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_FC_IN_FILTER, &f->filter) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &f->out) != MCB_OK ||
        (f->has_bias && mcb_kernel_input_info(ctx, node, MCB_FC_IN_BIAS, &f->bias) != MCB_OK)) {
        return mcb_kernel_reject(ctx, node, "needs an input, a filter and an output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_FULLY_CONNECTED) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_u8(&op.options, OPT_ACTIVATION, 0, &f->act) != MCB_OK ||
        mcb_fb_i8(&op.options, OPT_WEIGHTS_FORMAT, 0, &weights_format) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (f->act > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", f->act, 0, 0);
    }
    if (weights_format != 0) {
        return mcb_kernel_reject(ctx, node, "shuffled weights (format %u) not supported",
                                 (uint32_t)weights_format, 0, 0);
    }
    const mcb_status types = check_types(ctx, node, in_type, f);
    if (types != MCB_OK) {
        return types;
    }

    /* Shapes: filter [units, depth]; input rows * depth; output rows * units. */
    if (f->filter.rank != 2 || f->filter.shape[0] < 1 || f->filter.shape[1] < 1) {
        return mcb_kernel_reject(ctx, node, "filter must be [units, depth], rank %u",
                                 f->filter.rank, 0, 0);
    }
    const uint32_t units = (uint32_t)f->filter.shape[0];
    const uint32_t depth = (uint32_t)f->filter.shape[1];
    const uint64_t n_in = elements(&f->in);
    const uint64_t n_out = elements(&f->out);
    if (f->out.rank < 1 || f->out.shape[f->out.rank - 1] != (int32_t)units ||
        n_out > 0x7FFFFFFFu) {
        return mcb_kernel_reject(ctx, node, "output's last dimension must be %u units", units, 0,
                                 0);
    }
    const uint32_t rows = (uint32_t)n_out / units; /* n_out < 2^31 */
    if (n_in != (uint64_t)rows * depth) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, %u rows of %u expected",
                                 (uint32_t)n_in, rows, depth);
    }
    if (f->has_bias && elements(&f->bias) != units) {
        return mcb_kernel_reject(ctx, node, "bias has %u elements, %u units",
                                 (uint32_t)elements(&f->bias), units, 0);
    }
    f->rows = rows;
    f->depth = depth;
    f->units = units;
    return MCB_OK;
}
