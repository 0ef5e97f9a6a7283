/*
 * TANH, int16 input and output.
 *
 * Bit-exact with TFLM's tanh.cc (int16 branch) and
 * reference_integer_ops::Tanh for int16: zero points 0, output scale 2^-15;
 * the input is rescaled as for LOGISTIC (see mcb_act_lut16_prepare) and
 * tanh(x) = 2 sigmoid(2x) - 1 read from the same sigmoid table, indexed by
 * the top bits of |x| and interpolated on the low 8.
 */
#include "activation_common.h"
#include "reference.h"

mcb_status mcb_tanh_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    mcb_act_lut16 params;
    if (mcb_act_lut16_prepare(ctx, node, &in, &out, n, true, &params) != MCB_OK) {
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

mcb_status mcb_tanh_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mcb_act_lut16 *d = node->user_data;
    const int16_t *in = mcb_kernel_input(ctx, node, 0);
    int16_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    const int32_t round = d->shift > 0 ? INT32_C(1) << (d->shift - 1) : 0;
    for (uint32_t i = 0; i < d->n; i++) {
        const int32_t x = ((int32_t)in[i] * d->multiplier + round) >> d->shift;
        const uint32_t abs_x = x < 0 ? 0u - (uint32_t)x : (uint32_t)x;
        const uint32_t index = abs_x >> 8;
        int32_t result;
        if (index >= 255u) {
            result = INT32_C(0xFFFF) << 8;
        } else {
            const uint32_t lo = mcb_act_sigmoid_table[index];
            const uint32_t hi = mcb_act_sigmoid_table[index + 1u];
            result = (int32_t)((lo << 8) + (abs_x & 0xFFu) * (hi - lo)); /* < 2^24 */
        }
        result = x >= 0 ? result - (INT32_C(1) << 23) + (INT32_C(1) << 7)
                        : -result + (INT32_C(1) << 23) + (INT32_C(1) << 7) - 1;
        out[i] = (int16_t)(result >> 8); /* arithmetic shift: -32767 .. 32767 */
    }
    return MCB_OK;
}
