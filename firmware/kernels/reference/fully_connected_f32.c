/*
 * FULLY_CONNECTED, float32 input, filter [units, depth], optional bias and
 * output; fused activation; keep_num_dims (only the output's shape).
 *
 * Bit-exact with TFLM's reference_ops::FullyConnected (float): per output,
 * one float accumulator over depth in order, then total + bias (0.0f
 * without one) and the clamp of CalculateActivationRange<float> (NONE
 * clamps to +-FLT_MAX, so an overflow gives FLT_MAX, not infinity). The
 * product is its own statement so that no compiler contracts it into an FMA
 * (TFLM's x86-64 build has none; GCC in ISO C mode does not contract across
 * statements, Clang's default only within one).
 */
#include "conv_common.h"
#include "fully_connected_common.h"
#include "reference.h"

typedef struct {
    uint32_t rows;
    uint32_t depth;
    uint32_t units;
    float act_min;
    float act_max;
} fc_f32;

mcb_status mcb_fully_connected_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_fc_info f;
    const mcb_status st = mcb_fc_read(ctx, node, MCB_TYPE_FLOAT32, &f);
    if (st != MCB_OK) {
        return st;
    }
    fc_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->rows = f.rows;
    d->depth = f.depth;
    d->units = f.units;
    mcb_activation_range_f32(f.act, &d->act_min, &d->act_max);
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_fully_connected_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const fc_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, MCB_FC_IN_INPUT);
    const float *filter = mcb_kernel_input(ctx, node, MCB_FC_IN_FILTER);
    const uint8_t *bias = mcb_kernel_input(ctx, node, MCB_FC_IN_BIAS);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || filter == NULL || out == NULL ||
        (bias == NULL && mcb_kernel_has_input(node, MCB_FC_IN_BIAS))) {
        return MCB_ERR_STATE;
    }
    for (uint32_t r = 0; r < d->rows; r++) {
        const float *x = &in[(size_t)r * d->depth];
        for (uint32_t u = 0; u < d->units; u++) {
            const float *w = &filter[(size_t)u * d->depth];
            float total = 0.0f;
            for (uint32_t i = 0; i < d->depth; i++) {
                const float product = x[i] * w[i];
                total += product;
            }
            const float b = bias != NULL ? mcb_conv_bias_f32(bias, (int32_t)u) : 0.0f;
            out[(size_t)r * d->units + u] = mcb_clamp_f32(total + b, d->act_min, d->act_max);
        }
    }
    return MCB_OK;
}
