/* Requantisation arithmetic bit-exact with TFLM (mcb/quant.h). */
#include "mcb/quant.h"

#include <string.h>

#define EXP_MASK UINT64_C(0x7FF)

/*
 * frexp for finite, non-zero x: x = q * 2^*e with 0.5 <= |q| < 1. A
 * subnormal x gets *e = -1100: QuantizeMultiplier flushes it to zero anyway.
 */
static double frexp_bits(double x, int32_t *e)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    const int32_t biased = (int32_t)((bits >> 52) & EXP_MASK);
    if (biased == 0) {
        *e = -1100;
        return x < 0.0 ? -0.5 : 0.5;
    }
    *e = biased - 1022;
    bits = (bits & ~(EXP_MASK << 52)) | (UINT64_C(1022) << 52);
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* std::round on |v| <= 2^31: half away from zero. v - trunc(v) is exact. */
static int64_t round_away(double v)
{
    int64_t t = (int64_t)v;
    const double frac = v - (double)t;
    if (frac >= 0.5) {
        t++;
    } else if (frac <= -0.5) {
        t--;
    }
    return t;
}

/* std::round for floats; from 2^23 on every float is already an integer. */
static float round_away_f(float v)
{
    if (!(v > -8388608.0f && v < 8388608.0f)) {
        return v; /* integral, infinite or NaN */
    }
    const float t = (float)(int32_t)v;
    const float frac = v - t;
    if (frac >= 0.5f) {
        return t + 1.0f;
    }
    if (frac <= -0.5f) {
        return t - 1.0f;
    }
    return t;
}

mcb_status mcb_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift)
{
    uint64_t bits;
    int32_t e;
    *multiplier = 0;
    *shift = 0;
    if (real == 0.0) {
        return MCB_OK;
    }
    memcpy(&bits, &real, sizeof bits);
    if (((bits >> 52) & EXP_MASK) == EXP_MASK) {
        return MCB_ERR_ARG; /* NaN or infinity */
    }
    const double q = frexp_bits(real, &e);
    int64_t q_fixed = round_away(q * 2147483648.0);
    if (q_fixed == INT64_C(2147483648)) { /* q rounded up to 1.0 */
        q_fixed /= 2;
        e++;
    }
    if (e < -31) { /* every bit would be shifted out: TFLM flushes to zero */
        e = 0;
        q_fixed = 0;
    }
    if (e > 30) {
#if MCB_SINGLE_ROUNDING
        e = 30;
        q_fixed = INT64_C(2147483647);
#else
        return MCB_ERR_RANGE;
#endif
    }
    *multiplier = (int32_t)q_fixed;
    *shift = e;
    return MCB_OK;
}

/* Shared with the fixed-point kernels (softmax): gemmlowp's two rounding primitives. */
/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded to nearest. */
int32_t mcb_fx_srdhm(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? (INT64_C(1) << 30) : 1 - (INT64_C(1) << 30);
    /* gemmlowp divides by 2^31, truncating toward zero: a shift, corrected for negatives. */
    const int64_t v = ab + nudge;
    return (int32_t)((v + (v < 0 ? (INT64_C(1) << 31) - 1 : 0)) >> 31);
}

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent, ties away from zero; exponent 0..31. */
int32_t mcb_fx_rdbpot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)((UINT32_C(1) << exponent) - 1u);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    /* >> on a negative int is arithmetic on every compiler we target (GCC, Clang). */
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

int32_t mcb_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift)
{
#if MCB_SINGLE_ROUNDING
    const int32_t total = 31 - shift; /* 1..62 for shift in [-31, 30] */
    const int64_t round = INT64_C(1) << (total - 1);
    return (int32_t)(((int64_t)x * (int64_t)multiplier + round) >> total);
#else
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    /* TFLM's x * (1 << left) wraps on overflow in practice: so does this, without UB. */
    const int32_t shifted = (int32_t)((uint32_t)x << left);
    return mcb_fx_rdbpot(mcb_fx_srdhm(shifted, multiplier), right);
#endif
}

/* TFLM's Quantize(scale, zero_point, f): zero_point + round(f / scale), in float. */
static mcb_status quantize_bound(float scale, int32_t zero_point, float f, int64_t *q)
{
    const float tmp = round_away_f(f / scale);
    if (!(tmp >= -2147483648.0f && tmp < 2147483648.0f)) {
        return MCB_ERR_RANGE;
    }
    *q = (int64_t)zero_point + (int64_t)(int32_t)tmp;
    return MCB_OK;
}

mcb_status mcb_activation_range(mcb_activation act, float scale, int32_t zero_point, int32_t qmin,
                                int32_t qmax, int32_t *act_min, int32_t *act_max)
{
    int64_t lo = qmin;
    int64_t hi = qmax;
    int64_t q;
    float low_bound;
    float high_bound;
    switch (act) {
    case MCB_ACT_RELU:
        low_bound = 0.0f;
        high_bound = 0.0f; /* unused */
        break;
    case MCB_ACT_RELU6:
        low_bound = 0.0f;
        high_bound = 6.0f;
        break;
    case MCB_ACT_RELU_N1_TO_1:
        low_bound = -1.0f;
        high_bound = 1.0f;
        break;
    default: /* NONE, and TFLM applies no range for TANH and SIGN_BIT either */
        *act_min = qmin;
        *act_max = qmax;
        return MCB_OK;
    }
    if (quantize_bound(scale, zero_point, low_bound, &q) != MCB_OK) {
        return MCB_ERR_RANGE;
    }
    lo = q > lo ? q : lo;
    if (act != MCB_ACT_RELU) {
        if (quantize_bound(scale, zero_point, high_bound, &q) != MCB_OK) {
            return MCB_ERR_RANGE;
        }
        hi = q < hi ? q : hi;
    }
    *act_min = (int32_t)lo;
    *act_max = (int32_t)hi;
    return MCB_OK;
}
