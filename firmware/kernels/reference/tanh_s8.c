/*
 * TANH, int8 input and output.
 *
 * Bit-exact with TFLM's tanh.cc (CalculateArithmeticOpData) and
 * reference_integer_ops::Tanh for int8: the input minus its zero point is
 * rescaled to Q4.27 (multiplier and left shift from frexp of
 * input_scale * 2^27), values at or beyond the input radius saturate to
 * -128 / 127, the rest go through gemmlowp's tanh and come out as Q0.31
 * rounded to Q0.7.
 *
 * TFLM checks neither the output scale nor its zero point: the result is
 * always in steps of 1/128 around 0, whatever the model says.
 */
#include "activation_common.h"
#include "mcb/quant.h"
#include "reference.h"

mcb_status mcb_tanh_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    mcb_act_q4 params;
    if (mcb_act_q4_prepare(ctx, node, &in, n, &params) != MCB_OK) {
        return MCB_ERR_ARG;
    }
    mcb_act_q4 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = params;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_tanh_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mcb_act_q4 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const int32_t x = (int32_t)in[i] - d->zero_point;
        int32_t v;
        if (x <= -d->radius) {
            v = INT8_MIN;
        } else if (x >= d->radius) {
            v = INT8_MAX;
        } else {
            v = mcb_fx_rdbpot(mcb_fx_tanh_q4(mcb_act_q4_rescale(d, x)), 24); /* -> Q0.7 */
            v = v > INT8_MAX ? INT8_MAX : v < INT8_MIN ? INT8_MIN : v;
        }
        out[i] = (int8_t)v;
    }
    return MCB_OK;
}
