/*
 * SVDF's checks shared by the int8 and float32 kernels: TFLM's PrepareSvdf
 * (svdf_common.cc) up to the type checks, in its order. Refused where TFLM
 * would crash: a rank of 0 (it divides by it), no bias (segfault, checked
 * against tflite_micro), an empty state (its shift loop never ends).
 */
#include "svdf_common.h"

#define OPTIONS_SVDF 6 /* BuiltinOptions.SVDFOptions */
#define OPT_RANK MCB_FB_SLOT(0)
#define OPT_ACTIVATION MCB_FB_SLOT(1)

static bool dims2(const mcb_tensor_info *t, int32_t d0, int32_t d1)
{
    return t->rank == 2u && t->shape[0] == d0 && t->shape[1] == d1;
}

mcb_status mcb_svdf_check(mcb_interpreter *ctx, const mcb_node *node, mcb_svdf_shape *s)
{
    mcb_operator_info op;
    int32_t rank = 0;

    s->has_bias = mcb_kernel_has_input(node, MCB_SVDF_BIAS);
    if (node->n_inputs != 5u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_SVDF_INPUT, &s->in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_SVDF_FEATURE, &s->feature) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_SVDF_TIME, &s->time) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_SVDF_STATE, &s->state) != MCB_OK ||
        (s->has_bias && mcb_kernel_input_info(ctx, node, MCB_SVDF_BIAS, &s->bias) != MCB_OK) ||
        mcb_kernel_output_info(ctx, node, 0, &s->out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node,
                                 "needs input, weights_feature, weights_time, bias (or -1), "
                                 "state and one output",
                                 0, 0, 0);
    }
    if (op.options_type != OPTIONS_SVDF ||
        mcb_fb_i32(&op.options, OPT_RANK, 0, &rank) != MCB_OK ||
        mcb_fb_u8(&op.options, OPT_ACTIVATION, 0, &s->activation) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs SVDFOptions", 0, 0, 0);
    }
    if (s->in.rank != 2u || s->feature.rank != 2u || s->time.rank != 2u) {
        return mcb_kernel_reject(ctx, node, "input, weights_feature and weights_time must be 2-D",
                                 0, 0, 0);
    }
    s->batch = (uint32_t)s->in.shape[0];
    s->input_size = (uint32_t)s->in.shape[1];
    s->filters = (uint32_t)s->feature.shape[0];
    s->memory = (uint32_t)s->time.shape[1];
    if (rank <= 0 || s->filters % (uint32_t)rank != 0u) {
        return mcb_kernel_reject(ctx, node, "rank %d must divide the %u filters", (uint32_t)rank,
                                 s->filters, 0);
    }
    s->rank = (uint32_t)rank;
    s->units = s->filters / s->rank;
    if (!dims2(&s->out, (int32_t)s->batch, (int32_t)s->units)) {
        return mcb_kernel_reject(ctx, node, "output must be [%u, %u]", s->batch, s->units, 0);
    }
    if ((uint32_t)s->feature.shape[1] != s->input_size) {
        return mcb_kernel_reject(ctx, node, "weights_feature must be [%u, %u]", s->filters,
                                 s->input_size, 0);
    }
    if ((uint32_t)s->time.shape[0] != s->filters) {
        return mcb_kernel_reject(ctx, node, "weights_time must be [%u, memory]", s->filters, 0,
                                 0);
    }
    if (!s->has_bias) {
        /* TFLM crashes without one (int8 reads its scale, float frees it). */
        return mcb_kernel_reject(ctx, node, "needs a bias (TFLM crashes without one)", 0, 0, 0);
    }
    if (s->bias.rank < 1u || (uint32_t)s->bias.shape[0] != s->units) {
        return mcb_kernel_reject(ctx, node, "bias must have %u units", s->units, 0, 0);
    }
    const uint64_t state_width = (uint64_t)s->memory * s->filters;
    if (state_width > 0x7FFFFFFFu ||
        !dims2(&s->state, (int32_t)s->batch, (int32_t)state_width)) {
        return mcb_kernel_reject(ctx, node, "state must be [%u, %u * %u]", s->batch, s->memory,
                                 s->filters);
    }
    if (!s->state.is_variable) {
        return mcb_kernel_reject(ctx, node, "state must be a variable tensor", 0, 0, 0);
    }
    if (s->batch * state_width == 0u) {
        return mcb_kernel_reject(ctx, node, "empty state", 0, 0, 0);
    }
    return MCB_OK;
}
