/*
 * LEAKY_RELU, int8 input and output.
 *
 * Bit-exact with TFLM's leaky_relu_common.cc (CalculateOpDataLeakyRelu) and
 * reference_ops::QuantizeLeakyRelu: input minus its zero point; x >= 0 is
 * requantised with input_scale / output_scale, x < 0 with
 * input_scale * alpha / output_scale (both ratios in double, then
 * QuantizeMultiplier; a negative alpha multiplies by the magnitude and
 * negates, so ties round toward zero); output zero point added, clamped to
 * the type. Any zero points.
 */
#include "activation_common.h"
#include "reference.h"

mcb_status mcb_leaky_relu_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_act_leaky params;
    const mcb_status st = mcb_act_leaky_prepare(ctx, node, INT8_MIN, INT8_MAX, &params);
    if (st != MCB_OK) {
        return st;
    }
    mcb_act_leaky *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = params;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_leaky_relu_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mcb_act_leaky *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        out[i] = (int8_t)mcb_act_leaky_value(d, in[i]);
    }
    return MCB_OK;
}
