/*
 * MUL, float32: numpy broadcasting (up to 7 dimensions), fused activation.
 *
 * As TFLM's reference_ops::Mul / BroadcastMul6DSlow for float: the float
 * product clamped to CalculateActivationRange's bounds (no activation clamps
 * to [-FLT_MAX, FLT_MAX]).
 */
#include "elementwise_common.h"
#include "reference.h"

static void mul_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const mcb_ew_float *p = params;
    const float *x = a;
    const float *y = b;
    float *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = mcb_ew_clamp_f(x[i * a_step] * y[i * b_step], p->act_min, p->act_max);
    }
}

mcb_status mcb_mul_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_float_prepare(ctx, node, MCB_EW_MUL);
}

mcb_status mcb_mul_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(float), mul_row);
}
