/*
 * ADD, int8: both inputs and the output int8, numpy broadcasting (up to 7
 * dimensions), any fused activation.
 *
 * Bit-exact with TFLM's add_common.cc (CalculateOpDataAdd) and
 * reference_integer_ops::AddFunc: each input, offset by its zero point and
 * shifted left 20 bits, is rescaled by its scale / (2 * max input scale), the
 * sum by 2 * max input scale / (2^20 * output scale); the multipliers come
 * from the scales in double, each below 1 (TFLM aborts otherwise: we
 * reject). The clamp is the fused activation quantised with the output's
 * parameters.
 */
#include "elementwise_common.h"
#include "reference.h"

static void add_row(const void *params, const void *a, uint32_t a_step, const void *b,
                    uint32_t b_step, void *out, uint32_t n)
{
    const int8_t *x = a;
    const int8_t *y = b;
    int8_t *z = out;
    for (uint32_t i = 0; i < n; i++) {
        z[i] = (int8_t)mcb_ew_addsub_element(params, x[i * a_step], y[i * b_step], false);
    }
}

mcb_status mcb_add_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_addsub_q_prepare(ctx, node, MCB_EW_ADD, MCB_TYPE_INT8);
}

mcb_status mcb_add_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_ew_binary_invoke(ctx, node, sizeof(int8_t), add_row);
}
