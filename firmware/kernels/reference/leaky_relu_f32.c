/*
 * LEAKY_RELU, float32, as TFLM's reference_ops::LeakyRelu: x > 0 ? x : x * alpha
 * (alpha may be negative or above 1).
 */
#include "activation_common.h"
#include "reference.h"

typedef struct {
    float alpha;
    uint32_t n;
} leaky_relu_f32;

mcb_status mcb_leaky_relu_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    float alpha = 0.0f;
    mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st == MCB_OK) {
        st = mcb_act_leaky_alpha(ctx, node, &alpha);
    }
    if (st != MCB_OK) {
        return st;
    }
    leaky_relu_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->alpha = alpha;
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_leaky_relu_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const leaky_relu_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const float x = in[i];
        out[i] = x > 0.0f ? x : x * d->alpha;
    }
    return MCB_OK;
}
