/*
 * MUL, int8: both inputs and the output int8, numpy broadcasting (up to 7
 * dimensions), any fused activation.
 *
 * Bit-exact with TFLM's mul_common.cc (CalculateOpDataMul) and
 * reference_integer_ops::MulElementwise / BroadcastMul6DSlow: the product of
 * the offset inputs times input1 scale * input2 scale / output scale (in
 * double, QuantizeMultiplier: may exceed 1), plus the output zero point,
 * clamped to the quantised activation range. A multiplier of 2^31 or more
 * (TFLM's shift overflows) is rejected.
 */
#include "elementwise_common.h"
#include "reference.h"

static void mul_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const int8_t *x = a;
    const int8_t *y = b;
    int8_t *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = (int8_t)mcb_ew_mul_element(params, x[i * a_step], y[i * b_step]);
    }
}

mcb_status mcb_mul_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_mul_q_prepare(ctx, node, MCB_TYPE_INT8);
}

mcb_status mcb_mul_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(int8_t), mul_row);
}
