/*
 * RELU and RELU6, float32, as TFLM's ReluFloat / Relu6Float: x < 0 gives 0,
 * x > 6 gives 6 (RELU6), anything else (NaN and -0 included) passes as is.
 */
#include "activation_common.h"
#include "reference.h"

typedef struct {
    uint32_t n;
} relu_f32;

static mcb_status prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    relu_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

static mcb_status invoke(mcb_interpreter *ctx, mcb_node *node, bool relu6)
{
    const relu_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const float x = in[i];
        out[i] = relu6 && x > 6.0f ? 6.0f : x < 0.0f ? 0.0f : x;
    }
    return MCB_OK;
}

mcb_status mcb_relu_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return prepare(ctx, node);
}

mcb_status mcb_relu_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return invoke(ctx, node, false);
}

mcb_status mcb_relu6_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return prepare(ctx, node);
}

mcb_status mcb_relu6_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return invoke(ctx, node, true);
}
