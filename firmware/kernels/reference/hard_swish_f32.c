/*
 * HARD_SWISH, float32, as TFLM's reference_ops::HardSwish<float>:
 * x * min(6, max(0, x + 3)) / 6 in float, with std::min / std::max's
 * comparisons (a NaN x + 3 gives 0 there, and x * 0 keeps the NaN).
 */
#include "activation_common.h"
#include "reference.h"

typedef struct {
    uint32_t n;
} hard_swish_f32;

mcb_status mcb_hard_swish_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    hard_swish_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_hard_swish_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const hard_swish_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const float x = in[i];
        const float shifted = x + 3.0f;
        const float low = 0.0f < shifted ? shifted : 0.0f; /* std::max(0, x + 3) */
        const float clamped = low < 6.0f ? low : 6.0f;     /* std::min(6, ...) */
        out[i] = x * clamped / 6.0f;
    }
    return MCB_OK;
}
