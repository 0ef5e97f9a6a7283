/*
 * LOGISTIC, int16 input and output.
 *
 * Bit-exact with TFLM's logistic_common.cc (int16 branch) and
 * reference_integer_ops::Logistic for int16: zero points 0, output scale
 * 2^-15; the input is rescaled so that 1 / (3 * 4096) is one step (see
 * mcb_act_lut16_prepare), then sigmoid(|x|) is read from the 256-entry Q0.16
 * table by its top bits and interpolated linearly on the low 9; negative
 * inputs take 1 - sigmoid(|x|).
 */
#include "activation_common.h"
#include "reference.h"

mcb_status mcb_logistic_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    mcb_act_lut16 params;
    if (mcb_act_lut16_prepare(ctx, node, &in, &out, n, false, &params) != MCB_OK) {
        return MCB_ERR_ARG;
    }
    mcb_act_lut16 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = params;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_logistic_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mcb_act_lut16 *d = node->user_data;
    const int16_t *in = mcb_kernel_input(ctx, node, 0);
    int16_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    const int32_t round = d->shift > 0 ? INT32_C(1) << (d->shift - 1) : 0;
    for (uint32_t i = 0; i < d->n; i++) {
        /* |x * multiplier| <= 2^15 * 32767: no overflow with the rounding term */
        const int32_t x = ((int32_t)in[i] * d->multiplier + round) >> d->shift;
        const uint32_t abs_x = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
        const uint32_t index = abs_x >> 9;
        uint32_t result;
        if (index >= 255u) {
            result = UINT32_C(0x7FFF) << 10;
        } else {
            const uint32_t lo = mcb_act_sigmoid_table[index];
            const uint32_t hi = mcb_act_sigmoid_table[index + 1u];
            result = (lo << 9) + (abs_x & 0x1FFu) * (hi - lo);
        }
        result = x >= 0 ? result + (1u << 9) : (1u << 25) - result + (1u << 9) - 1u;
        out[i] = (int16_t)(result >> 10); /* 0 .. 32767 */
    }
    return MCB_OK;
}
