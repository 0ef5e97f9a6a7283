/*
 * SOFTMAX, float32, along the last dimension, as TFLM's softmax_common.cc
 * (float branch) and reference_ops::Softmax for float: per row, the maximum
 * (std::max from the lowest float), exp((x - max) * beta) in float with the C
 * library's expf, summed in order in float, each exp divided by the sum.
 *
 * Bit-exact wherever expf is the one TFLM was linked with (glibc natively);
 * another libm (picolibc on the boards) may differ in the last bit.
 */
#include <float.h>

#include "activation_common.h"
#include "mcb/model_extra.h"
#include "reference.h"

#define OPTIONS_SOFTMAX 9 /* BuiltinOptions.SoftmaxOptions */
#define OPT_BETA MCB_FB_SLOT(0)

typedef struct {
    float beta;
    uint32_t rows;
    uint32_t depth;
} softmax_f32;

mcb_status mcb_softmax_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    float beta = 0.0f;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    if (mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        (op.options_type != 0 && op.options_type != OPTIONS_SOFTMAX) ||
        mcb_fb_f32(&op.options, OPT_BETA, 0.0f, &beta) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (in.rank < 1 || out.rank < 1 || in.shape[in.rank - 1] != out.shape[out.rank - 1]) {
        return mcb_kernel_reject(ctx, node, "input and output shapes differ", 0, 0, 0);
    }
    softmax_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->beta = beta;
    d->depth = (uint32_t)in.shape[in.rank - 1];
    d->rows = d->depth == 0u ? 0u : n / d->depth;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_softmax_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const softmax_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->rows != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t r = 0; r < d->rows; r++) {
        const float *x = &in[(size_t)r * d->depth];
        float *y = &out[(size_t)r * d->depth];
        float max = -FLT_MAX;
        for (uint32_t c = 0; c < d->depth; c++) {
            max = max < x[c] ? x[c] : max;
        }
        float sum = 0.0f;
        for (uint32_t c = 0; c < d->depth; c++) {
            const float e = mcb_act_expf((x[c] - max) * d->beta);
            y[c] = e;
            sum += e;
        }
        for (uint32_t c = 0; c < d->depth; c++) {
            y[c] = y[c] / sum;
        }
    }
    return MCB_OK;
}
