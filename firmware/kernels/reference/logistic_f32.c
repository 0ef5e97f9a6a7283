/*
 * LOGISTIC, float32, as TFLM's reference_ops::Logistic for float: 1 above
 * 16.619047164916992188, exp(x) below -9, 1 / (1 + exp(-x)) between, all in
 * float with the C library's expf (TFLM's std::exp on a float).
 *
 * Bit-exact wherever expf is the one TFLM was linked with (glibc natively);
 * another libm (picolibc on the boards) may differ in the last bit.
 */
#include "activation_common.h"
#include "reference.h"

typedef struct {
    uint32_t n;
} logistic_f32;

mcb_status mcb_logistic_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    logistic_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_logistic_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const logistic_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const float x = in[i];
        float y;
        if (x > 16.619047164916992188f) {
            y = 1.0f;
        } else if (x < -9.0f) {
            y = mcb_act_expf(x);
        } else {
            y = 1.0f / (1.0f + mcb_act_expf(-x));
        }
        out[i] = y;
    }
    return MCB_OK;
}
