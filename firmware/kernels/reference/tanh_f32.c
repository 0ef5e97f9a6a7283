/*
 * TANH, float32, as TFLM's reference_ops::Tanh for float: the C library's
 * tanhf (TFLM's std::tanh on a float).
 *
 * Bit-exact wherever tanhf is the one TFLM was linked with (glibc natively);
 * another libm (picolibc on the boards) may differ in the last bit.
 */
#include "activation_common.h"
#include "reference.h"

typedef struct {
    uint32_t n;
} tanh_f32;

mcb_status mcb_tanh_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    tanh_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_tanh_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const tanh_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        out[i] = mcb_act_tanhf(in[i]);
    }
    return MCB_OK;
}
