/*
 * HARD_SWISH, int8 input and output: x * relu6(x + 3) / 6.
 *
 * Bit-exact with TFLM's hard_swish_common.cc (HardSwishPrepare) and
 * reference_ops::HardSwish<int8_t>, all in int16 fixed point:
 * - prepare: the input on a "hires" scale input_scale / 128; multipliers
 *   hires / output_scale (must not exceed 1: TFLM requires exponent <= 0)
 *   and hires / (3 / 32768) (the "reluish" one, any exponent), each by
 *   QuantizeMultiplier, then rounded down to 16 bits;
 * - invoke: (x - zp) * 128; the reluish value rescaled to [-1, 1] with
 *   saturating shifts, mapped to [0, 1]; multiplied (truncating
 *   SaturatingDoublingHighMul) with the input on the pre-shift output scale;
 *   shifted right, output zero point added with int16 wrap-around (as TFLM's
 *   int16 sum), clamped to int8.
 */
#include "activation_common.h"
#include "mcb/quant.h"
#include "reference.h"

typedef struct {
    int32_t in_zero_point;
    int32_t out_zero_point;
    int16_t out_multiplier;     /* Q0.15 */
    int32_t out_exponent;       /* -31..0 */
    int16_t reluish_multiplier; /* Q0.15 */
    int32_t reluish_exponent;   /* -31..30 */
    uint32_t n;
} hard_swish_s8;

/* DownScaleInt32ToInt16Multiplier */
static int16_t to_q15(int32_t m)
{
    if (m >= INT32_MAX - (1 << 15)) {
        return INT16_MAX;
    }
    return (int16_t)((m + (1 << 15)) >> 16);
}

/* int16 wrap-around of an int (as a conversion to int16_t on our compilers). */
static int16_t wrap16(int32_t v)
{
    return (int16_t)(((v + 32768) & 0xFFFF) - 32768);
}

/* gemmlowp's SaturatingRoundingDoublingHighMul for int16 */
static int16_t srdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    const int32_t ab = (int32_t)a * b;
    const int32_t nudge = ab >= 0 ? (1 << 14) : 1 - (1 << 14);
    return (int16_t)((ab + nudge) / (1 << 15)); /* C division truncates, as TFLM's */
}

/* TFLM's SaturatingDoublingHighMul: the same, truncating instead of rounding */
static int16_t sdhm16(int16_t a, int16_t b)
{
    if (a == INT16_MIN && b == INT16_MIN) {
        return INT16_MAX;
    }
    return (int16_t)(((int32_t)a * b) / (1 << 15));
}

/* SaturatingLeftShift for amount 0..30 */
static int16_t sat_shift_left16(int16_t v, int32_t amount)
{
    const int64_t r = (int64_t)v * (INT64_C(1) << amount);
    return (int16_t)(r > INT16_MAX ? INT16_MAX : r < INT16_MIN ? INT16_MIN : r);
}

/*
 * gemmlowp's RoundingDivideByPOT on int16, exponent 0..31: the mask is
 * 2^exponent - 1 truncated to int16, so all ones from exponent 16 on.
 */
static int16_t rdbpot16(int16_t x, int32_t exponent)
{
    const int32_t mask = exponent >= 16 ? -1 : (1 << exponent) - 1;
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (int16_t)((x >> exponent) + (remainder > threshold ? 1 : 0));
}

mcb_status mcb_hard_swish_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    /* All in float, as TFLM. */
    const float hires_input_scale = (1.0f / 128.0f) * mcb_act_scale(&in);
    const float reluish_scale = 3.0f / 32768.0f;
    int32_t out_m = 0;
    int32_t out_e = 0;
    int32_t relu_m = 0;
    int32_t relu_e = 0;
    if (mcb_quantize_multiplier((double)(hires_input_scale / mcb_act_scale(&out)), &out_m,
                                &out_e) != MCB_OK ||
        mcb_quantize_multiplier((double)(hires_input_scale / reluish_scale), &relu_m,
                                &relu_e) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "input or output scale out of range", 0, 0, 0);
    }
    if (out_e > 0) { /* TFLM: output_multiplier_exponent <= 0 */
        return mcb_kernel_reject(ctx, node, "input scale / 128 must not exceed output scale", 0,
                                 0, 0);
    }
    hard_swish_s8 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->in_zero_point = mcb_act_zero_point(&in);
    d->out_zero_point = mcb_act_zero_point(&out);
    d->out_multiplier = to_q15(out_m);
    d->out_exponent = out_e;
    d->reluish_multiplier = to_q15(relu_m);
    d->reluish_exponent = relu_e;
    d->n = n;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_hard_swish_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const hard_swish_s8 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->n != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->n; i++) {
        const int16_t x = wrap16((int32_t)in[i] - d->in_zero_point);
        const int16_t hires = wrap16(x * 128);
        const int16_t preshift_out = srdhm16(hires, d->out_multiplier);
        int16_t reluish = hires;
        if (d->reluish_exponent > 0) {
            reluish = sat_shift_left16(reluish, d->reluish_exponent - 1);
        }
        reluish = srdhm16(reluish, d->reluish_multiplier);
        if (d->reluish_exponent > 0) {
            reluish = sat_shift_left16(reluish, 1);
        } else if (d->reluish_exponent < 0) {
            reluish = rdbpot16(reluish, -d->reluish_exponent);
        }
        reluish = (int16_t)((reluish + (1 << 15)) >> 1); /* [-1, 1] -> [0, 1] */
        const int16_t preshift = sdhm16(reluish, preshift_out);
        int32_t y = wrap16(rdbpot16(preshift, -d->out_exponent) + d->out_zero_point);
        y = y > INT8_MAX ? INT8_MAX : y < INT8_MIN ? INT8_MIN : y;
        out[i] = (int8_t)y;
    }
    return MCB_OK;
}
