/*
 * SUB, int8: both inputs and the output int8, numpy broadcasting (up to 7
 * dimensions), any fused activation.
 *
 * Bit-exact with TFLM's sub_common.cc (CalculateOpDataSub) and
 * reference_ops::SubElementwise / BroadcastQuantSubSlow: ADD's arithmetic
 * (add_s8.c) with the rescaled inputs subtracted. The multipliers come from
 * the scales in double, as for ADD: some TFLM versions of sub_common.cc
 * divide them in float, the tflite_micro wheel does not (a generated int16
 * case, sub_int16_4, tells the two apart).
 */
#include "elementwise_common.h"
#include "reference.h"

static void sub_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const int8_t *x = a;
    const int8_t *y = b;
    int8_t *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = (int8_t)mcb_ew_addsub_element(params, x[i * a_step], y[i * b_step], true);
    }
}

mcb_status mcb_sub_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_addsub_q_prepare(ctx, node, MCB_EW_SUB, MCB_TYPE_INT8);
}

mcb_status mcb_sub_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(int8_t), sub_row);
}
