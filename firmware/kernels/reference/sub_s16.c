/*
 * SUB, int16: both inputs and the output int16, numpy broadcasting (up to 7
 * dimensions), any fused activation.
 *
 * As TFLM's int16 SUB (reference_ops::Sub / BroadcastQuantSubSlow on int16):
 * sub_s8.c's arithmetic with a left shift of 15; zero points are applied
 * (TFLM does not require them to be 0).
 */
#include "elementwise_common.h"
#include "reference.h"

static void sub_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const int16_t *x = a;
    const int16_t *y = b;
    int16_t *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = (int16_t)mcb_ew_addsub_element(params, x[i * a_step], y[i * b_step], true);
    }
}

mcb_status mcb_sub_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_addsub_q_prepare(ctx, node, MCB_EW_SUB, MCB_TYPE_INT16);
}

mcb_status mcb_sub_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(int16_t), sub_row);
}
