/*
 * MUL, int16: both inputs and the output int16, numpy broadcasting (up to 7
 * dimensions), any fused activation.
 *
 * As TFLM's int16 MUL (reference_integer_ops::Mul / BroadcastMul6DSlow on
 * int16): mul_s8.c's arithmetic; TFLM requires every zero point to be 0 in
 * Prepare, and so do we. int16 in with int8 out is refused (TFLM would write
 * int16 results over an int8 tensor).
 */
#include "elementwise_common.h"
#include "reference.h"

static void mul_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const int16_t *x = a;
    const int16_t *y = b;
    int16_t *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = (int16_t)mcb_ew_mul_element(params, x[i * a_step], y[i * b_step]);
    }
}

mcb_status mcb_mul_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_mul_q_prepare(ctx, node, MCB_TYPE_INT16);
}

mcb_status mcb_mul_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(int16_t), mul_row);
}
