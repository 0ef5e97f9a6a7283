/*
 * SOFTMAX, int8 input and output, along the last dimension.
 *
 * Bit-exact with TFLM's softmax_common.cc (SoftmaxPrepare, CalculateSoftmaxParams)
 * and reference_ops::Softmax<int8_t, int8_t>: TFLM micro takes the gemmlowp
 * fixed-point path for int8 -> int8 (no exp LUT; the LUTs are int16-only):
 * - prepare: beta * input_scale * 2^26 (Q5.26 input to exp), capped at
 *   2^31 - 1 (2^30 - 1 single rounding), as a multiplier > 1 and a left shift
 *   (TFLM's PreprocessSoftmaxScaling); differences below
 *   -floor(31 * 2^26 / 2^shift) (CalculateInputRadius) contribute nothing;
 * - invoke: exp of each difference from the row maximum in gemmlowp's Q0.31,
 *   summed in Q12.19, the sum's reciprocal by Newton-Raphson
 *   (GetReciprocal), each output = exp * reciprocal, rounded, - 128.
 * The output is int8 with scale exactly 1/256 and zero point -128, or int16
 * (TFLM's int8 -> int16 softmax, as in the keyword benchmark model) with scale
 * 1/65536 (to within 0.1 %) and zero point -32768: the same arithmetic with
 * 16 output bits.
 */
#include <string.h>

#include "mcb/quant.h"
#include "mcb/model_extra.h"
#include "reference.h"

#define OPTIONS_SOFTMAX 9 /* BuiltinOptions.SoftmaxOptions */
#define OPT_BETA MCB_FB_SLOT(0)

#define SCALED_DIFF_INTEGER_BITS 5 /* exp's input is Q5.26 */
#define ACCUM_INTEGER_BITS 12      /* the sum of exps is Q12.19 */

typedef struct {
    int32_t multiplier; /* input_beta_multiplier */
    int32_t left_shift; /* input_beta_left_shift, 1..31 */
    int32_t diff_min;   /* <= 0 */
    uint32_t rows;
    uint32_t depth;
    int32_t out_bits; /* 8 or 16 */
} softmax_s8;

/* ---- gemmlowp fixed point, int32 lanes ---------------------------------------------- */

/* SaturatingRoundingMultiplyByPOT<exponent> for exponent 1..30. */
static int32_t sat_mul_pot(int32_t x, int32_t exponent)
{
    const int32_t threshold = (int32_t)((UINT32_C(1) << (31 - exponent)) - 1u);
    if (x > threshold) {
        return INT32_MAX;
    }
    if (x < -threshold) {
        return INT32_MIN;
    }
    return (int32_t)((uint32_t)x << exponent); /* in range: no overflow */
}

/* gemmlowp's Add / Sub on raw values: wrapping, here without UB. */
static int32_t add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* exp(a) for a in [-1/4, 0), Q0.31 in and out: a Taylor expansion around -1/8. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668;     /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
    const int32_t x = add_wrap(a, INT32_C(1) << 28); /* a + 1/8 */
    const int32_t x2 = mcb_fx_srdhm(x, x);
    const int32_t x3 = mcb_fx_srdhm(x2, x);
    const int32_t x4 = mcb_fx_srdhm(x2, x2);
    const int32_t x4_over_4 = mcb_fx_rdbpot(x4, 2);
    const int32_t poly =
        mcb_fx_rdbpot(add_wrap(mcb_fx_srdhm(add_wrap(x4_over_4, x3), constant_1_over_3), x2), 1);
    return add_wrap(constant_term, mcb_fx_srdhm(constant_term, add_wrap(x, poly)));
}

/* exp(a) for a <= 0 in Q5.26, result in Q0.31 (gemmlowp's exp_on_negative_values). */
static int32_t exp_negative_q5(int32_t a)
{
    enum { FRAC = 31 - SCALED_DIFF_INTEGER_BITS };
    static const int32_t barrel[7] = {/* exp(-2^k), k = -2..4, Q0.31 */
                                      1672461947, 1302514674, 790015084, 290630308,
                                      39332535,   720401,     242};
    const int32_t quarter = INT32_C(1) << (FRAC - 2);
    const int32_t a_mod_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(sat_mul_pot(a_mod_minus_quarter, SCALED_DIFF_INTEGER_BITS));
    const int32_t remainder = (int32_t)((uint32_t)a_mod_minus_quarter - (uint32_t)a);
    /* All seven barrel stages apply: 5 integer bits > exponent 4. */
    for (int32_t k = 0; k < 7; k++) {
        if ((remainder & (INT32_C(1) << (FRAC - 2 + k))) != 0) {
            result = mcb_fx_srdhm(result, barrel[k]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson in Q2.29. */
static int32_t one_over_one_plus_x(int32_t a)
{
    /* RoundingHalfSum(a, One) */
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = add_wrap(1515870810, mcb_fx_srdhm(half_denominator, -1010580540)); /* 48/17 - 32/17 d */
    for (int i = 0; i < 3; i++) {
        const int32_t hdx = mcb_fx_srdhm(half_denominator, x);
        const int32_t one_minus = (int32_t)((uint32_t)(INT32_C(1) << 29) - (uint32_t)hdx);
        x = add_wrap(x, sat_mul_pot(mcb_fx_srdhm(x, one_minus), 2));
    }
    return sat_mul_pot(x, 1);
}

/* ---- kernel -------------------------------------------------------------------------- */

mcb_status mcb_softmax_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    float beta = 0.0f;

    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_SOFTMAX) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_f32(&op.options, OPT_BETA, 0.0f, &beta) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    const float out_scale = mcb_quant_scale(&out.quant, 0);
    const int64_t out_zero = mcb_quant_zero_point(&out.quant, 0);
    if (out.type == MCB_TYPE_INT8) {
        /* TFLM: zero point -128 and a scale of exactly 1/256 (compared as float). */
        if (out_zero != -128 || out_scale != 1.0f / 256.0f) {
            return mcb_kernel_reject(ctx, node,
                                     "int8 output must have scale 1/256 and zero point -128", 0,
                                     0, 0);
        }
    } else if (out.type == MCB_TYPE_INT16) {
        /* TFLM: TF_LITE_ENSURE_NEAR(scale, 1/65536, 0.001/65536), in float. */
        const float want = 1.0f / 65536.0f;
        const float off = out_scale > want ? out_scale - want : want - out_scale;
        if (out_zero != -32768 || !(off <= 0.001f * want)) {
            return mcb_kernel_reject(ctx, node,
                                     "int16 output must have scale 1/65536 and zero point -32768",
                                     0, 0, 0);
        }
    } else {
        return mcb_kernel_reject(ctx, node, "output type %u, input INT8 (INT8 or INT16 only)",
                                 out.type, 0, 0);
    }
    const uint32_t n = mcb_tensor_elements(&in);
    if (in.rank < 1 || out.rank < 1 || n != mcb_tensor_elements(&out) || n > 0x7FFFFFFFu ||
        in.shape[in.rank - 1] != out.shape[out.rank - 1]) {
        return mcb_kernel_reject(ctx, node, "input and output shapes differ", 0, 0, 0);
    }
    const uint32_t depth = (uint32_t)in.shape[in.rank - 1];

    /* PreprocessSoftmaxScaling: the double product, capped. */
#if MCB_SINGLE_ROUNDING
    const double cap = (double)((INT64_C(1) << 30) - 1);
#else
    const double cap = (double)((INT64_C(1) << 31) - 1);
#endif
    double real = (double)beta * (double)mcb_quant_scale(&in.quant, 0) *
                  (double)(INT32_C(1) << (31 - SCALED_DIFF_INTEGER_BITS));
    real = real < cap ? real : cap;
    int32_t multiplier = 0;
    int32_t shift = 0;
    /*
     * QuantizeMultiplierGreaterThanOne: TFLM aborts for real <= 1. Halving is
     * exact and keeps the significand, so shifts up to 31 (real near 2^31) come
     * out of mcb_quantize_multiplier, which stops at 30.
     */
    if (!(real > 1.0) || mcb_quantize_multiplier(real / 2.0, &multiplier, &shift) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "beta * input scale too small (or not finite)", 0, 0,
                                 0);
    }
    shift += 1;
    /*
     * CalculateInputRadius: the largest |difference| whose rescaling cannot
     * overflow, floor(31 * 2^26 / 2^shift), exact in integers.
     */
    const int64_t radius = (((INT64_C(1) << SCALED_DIFF_INTEGER_BITS) - 1)
                            << (31 - SCALED_DIFF_INTEGER_BITS)) >> shift;

    softmax_s8 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->multiplier = multiplier;
    d->left_shift = shift;
    d->diff_min = -(int32_t)radius;
    d->depth = depth;
    d->rows = depth == 0u ? 0u : (uint32_t)n / depth;
    d->out_bits = out.type == MCB_TYPE_INT16 ? 16 : 8;
    node->user_data = d;
    return MCB_OK;
}

/* MultiplyByQuantizedMultiplierGreaterThanOne, for diff in [diff_min, 0]. */
static int32_t rescale_diff(const softmax_s8 *d, int32_t diff)
{
#if MCB_SINGLE_ROUNDING
    return mcb_multiply_by_quantized_multiplier(diff, d->multiplier, d->left_shift);
#else
    /* diff_min keeps diff * 2^shift within int32 (shift may be 31, hence int64). */
    return mcb_fx_srdhm((int32_t)((int64_t)diff * (INT64_C(1) << d->left_shift)), d->multiplier);
#endif
}

mcb_status mcb_softmax_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const softmax_s8 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    void *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->rows != 0u)) {
        return MCB_ERR_STATE;
    }
    const int32_t out_min = d->out_bits == 16 ? INT16_MIN : INT8_MIN;
    const int32_t out_max = d->out_bits == 16 ? INT16_MAX : INT8_MAX;
    for (uint32_t r = 0; r < d->rows; r++) {
        const int8_t *x = &in[(size_t)r * d->depth];
        const size_t row = (size_t)r * d->depth;
        int32_t max = INT8_MIN;
        for (uint32_t c = 0; c < d->depth; c++) {
            max = x[c] > max ? x[c] : max;
        }
        uint32_t sum = 0; /* Q12.19; wraps as TFLM's does past 4096 maximal elements */
        for (uint32_t c = 0; c < d->depth; c++) {
            const int32_t diff = x[c] - max;
            if (diff >= d->diff_min) {
                const int32_t e = exp_negative_q5(rescale_diff(d, diff));
                sum += (uint32_t)mcb_fx_rdbpot(e, ACCUM_INTEGER_BITS); /* Rescale<12> */
            }
        }
        /* GetReciprocal(sum, 12): sum = 2^bits_over_unit * (1 + x), x in [0, 1). */
        int32_t headroom_plus_one = 0;
        while (headroom_plus_one < 32 && (sum & (UINT32_C(0x80000000) >> headroom_plus_one)) == 0) {
            headroom_plus_one++;
        }
        const int32_t bits_over_unit = ACCUM_INTEGER_BITS - headroom_plus_one;
        const uint32_t normalised = headroom_plus_one < 32 ? sum << headroom_plus_one : 0u;
        const int32_t reciprocal =
            one_over_one_plus_x((int32_t)(normalised - UINT32_C(0x80000000)));
        const int32_t exponent = bits_over_unit + 31 - d->out_bits;
        if (exponent < 0 || exponent > 31) {
            /*
             * int8 output: the sum of exps reached 512, a long row of values
             * near its maximum. TFLM's TFLITE_CHECK aborts there; we fail the
             * invoke. (With 16 output bits the exponent stays in range.)
             */
            return MCB_ERR_RANGE;
        }
        for (uint32_t c = 0; c < d->depth; c++) {
            const int32_t diff = x[c] - max;
            int32_t v = out_min;
            if (diff >= d->diff_min) {
                const int32_t e = exp_negative_q5(rescale_diff(d, diff));
                v = mcb_fx_rdbpot(mcb_fx_srdhm(reciprocal, e), exponent) + out_min;
                v = v > out_max ? out_max : v < out_min ? out_min : v;
            }
            if (d->out_bits == 16) {
                ((int16_t *)out)[row + c] = (int16_t)v;
            } else {
                ((int8_t *)out)[row + c] = (int8_t)v;
            }
        }
    }
    return MCB_OK;
}
