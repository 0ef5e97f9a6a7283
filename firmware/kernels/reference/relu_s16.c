/*
 * RELU and RELU6, int16 input and output.
 *
 * Bit-exact with TFLM's activations_common.cc (ReluPrepare, Relu6Prepare) and
 * activations.cc (ReluQuantized, Relu6Quantized):
 * - RELU: zero point removed, requantised to the output scale
 *   (MultiplyByQuantizedMultiplier), output zero point added, clamped to
 *   [max(output zero point, INT16_MIN), INT16_MAX]; both zero points must
 *   be 0 (TFLM checks);
 * - RELU6: the input clamped to [input zero point, 6 quantised with the
 *   input's scale]; TFLM does not requantise, so the output tensor's scale
 *   and zero point are ignored (the values keep the input's).
 */
#include "activation_common.h"
#include "reference.h"

static mcb_status prepare(mcb_interpreter *ctx, mcb_node *node, bool relu6)
{
    mcb_act_relu params;
    const mcb_status st = mcb_act_relu_prepare(ctx, node, relu6, INT16_MIN, INT16_MAX, &params);
    if (st != MCB_OK) {
        return st;
    }
    mcb_act_relu *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = params;
    node->user_data = d;
    return MCB_OK;
}

static mcb_status invoke(mcb_interpreter *ctx, mcb_node *node, bool relu6)
{
    const mcb_act_relu *d = node->user_data;
    const int16_t *in = mcb_kernel_input(ctx, node, 0);
    int16_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        out[i] = (int16_t)(relu6 ? mcb_act_relu6_value(d, in[i]) : mcb_act_relu_value(d, in[i]));
    }
    return MCB_OK;
}

mcb_status mcb_relu_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return prepare(ctx, node, false);
}

mcb_status mcb_relu_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return invoke(ctx, node, false);
}

mcb_status mcb_relu6_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return prepare(ctx, node, true);
}

mcb_status mcb_relu6_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return invoke(ctx, node, true);
}
