/*
 * Shared parts of the activation kernels (activation_common.h), bit-exact
 * with TFLM: logistic_common.cc / tanh.cc (int8 and int16 parameters),
 * quantization_util.cc (CalculateInputRadius, CheckedLog2) and the
 * gemmlowp-derived fixed-point logistic and tanh of TFLM's fixedpoint.h.
 */
#include "activation_common.h"

#include <math.h>
#include <string.h>

#include "mcb/model_extra.h"
#include "mcb/quant.h"

#if defined(__GLIBC__)
#endif

#define Q4_INTEGER_BITS 4 /* the int8 kernels' input to logistic / tanh is Q4.27 */

mcb_status mcb_act_io(mcb_interpreter *ctx, const mcb_node *node, mcb_tensor_info *in,
                      mcb_tensor_info *out, uint32_t *n)
{
    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_input_info(ctx, node, 0, in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (in->type != out->type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in->type, out->type,
                                 0);
    }
    *n = mcb_tensor_elements(in);
    if (*n != mcb_tensor_elements(out)) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, output %u", *n,
                                 mcb_tensor_elements(out), 0);
    }
    if ((in->type == MCB_TYPE_INT8 || in->type == MCB_TYPE_INT16) &&
        (in->quant.n_scales == 0u || out->quant.n_scales == 0u)) {
        return mcb_kernel_reject(ctx, node, "input and output must be quantised", 0, 0, 0);
    }
    return MCB_OK;
}

float mcb_act_scale(const mcb_tensor_info *t)
{
    return mcb_quant_scale(&t->quant, 0);
}

int32_t mcb_act_zero_point(const mcb_tensor_info *t)
{
    return (int32_t)mcb_quant_zero_point(&t->quant, 0);
}

/* ---- int8 LOGISTIC / TANH ---------------------------------------------------------- */

mcb_status mcb_act_q4_prepare(mcb_interpreter *ctx, const mcb_node *node,
                              const mcb_tensor_info *in, uint32_t n, mcb_act_q4 *p)
{
    const float scale = mcb_act_scale(in);
    /* scale * 2^27 is exact: frexp splits a float's 24-bit significand. */
    const double real = (double)scale * (double)(INT32_C(1) << (31 - Q4_INTEGER_BITS));
    uint64_t bits;
    memcpy(&bits, &real, sizeof bits);
    const int32_t biased = (int32_t)((bits >> 52) & 0x7FFu);
    /*
     * frexp's exponent is biased - 1022. Below 0 TFLM's CalculateInputRadius
     * shifts by a negative amount (undefined, x86 and Arm differ); from 63 on
     * it shifts past int64. Scales below 2^-28 or from 2^35 on are refused.
     */
    if (!(scale > 0.0f) || biased == 0x7FF || biased - 1022 < 0 || biased - 1022 > 62) {
        return mcb_kernel_reject(ctx, node, "input scale out of range (2^-28 .. 2^35)", 0, 0, 0);
    }
    p->shift = biased - 1022;
    /* The significand in [2^52, 2^53) -> q * 2^31 in [2^30, 2^31), exact. */
    const uint64_t significand = (bits & ((UINT64_C(1) << 52) - 1u)) | (UINT64_C(1) << 52);
    p->multiplier = (int32_t)(significand >> 22);
    /* floor(15 * 2^27 / 2^shift): the largest |input| whose rescaling fits Q4.27. */
    p->radius = (int32_t)((((INT64_C(1) << Q4_INTEGER_BITS) - 1) << (31 - Q4_INTEGER_BITS)) >>
                          p->shift);
    p->zero_point = mcb_act_zero_point(in);
    p->n = n;
    return MCB_OK;
}

int32_t mcb_act_q4_rescale(const mcb_act_q4 *p, int32_t x)
{
    /* |x| < radius <= 15 * 2^27 >> shift: within int32 after the left shift. */
    return mcb_multiply_by_quantized_multiplier(x, p->multiplier, p->shift);
}

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
    return (int32_t)((uint32_t)x << exponent);
}

/* gemmlowp's Add / Sub / Neg on raw values: wrapping, here without UB. */
static int32_t add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

static int32_t sub_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

static int32_t neg_wrap(int32_t a)
{
    return (int32_t)(0u - (uint32_t)a);
}

/* exp(a) for a in [-1/4, 0), Q0.31: Taylor expansion around -1/8. */
static int32_t exp_quarter(int32_t a)
{
    const int32_t exp_minus_eighth = 1895147668;
    const int32_t one_third = 715827883;
    const int32_t x = add_wrap(a, INT32_C(1) << 28); /* a + 1/8 */
    const int32_t x2 = mcb_fx_srdhm(x, x);
    const int32_t x3 = mcb_fx_srdhm(x2, x);
    const int32_t x4 = mcb_fx_srdhm(x2, x2);
    const int32_t x4_over_4 = mcb_fx_rdbpot(x4, 2);
    const int32_t poly =
        mcb_fx_rdbpot(add_wrap(mcb_fx_srdhm(add_wrap(x4_over_4, x3), one_third), x2), 1);
    return add_wrap(exp_minus_eighth, mcb_fx_srdhm(exp_minus_eighth, add_wrap(x, poly)));
}

/*
 * exp(a) for a <= 0 given with integer_bits (4 or 5) integer bits, Q0.31 out
 * (exp_on_negative_values): exp of a mod 1/4, times exp(-2^k) for each bit
 * k = -2 .. integer_bits - 1 of the rest.
 */
static int32_t exp_negative(int32_t a, int32_t integer_bits)
{
    static const int32_t exp_minus_pot[7] = {/* exp(-2^k), k = -2..4, Q0.31 */
                                             1672461947, 1302514674, 790015084, 290630308,
                                             39332535,   720401,     242};
    const int32_t frac_bits = 31 - integer_bits;
    const int32_t quarter = INT32_C(1) << (frac_bits - 2);
    const int32_t a_mod_minus_quarter = (a & (quarter - 1)) - quarter;
    int32_t result = exp_quarter(sat_mul_pot(a_mod_minus_quarter, integer_bits));
    const int32_t remainder = sub_wrap(a_mod_minus_quarter, a);
    for (int32_t k = -2; k < integer_bits && k <= 4; k++) {
        if ((remainder & (INT32_C(1) << (frac_bits + k))) != 0) {
            result = mcb_fx_srdhm(result, exp_minus_pot[k + 2]);
        }
    }
    return a == 0 ? INT32_MAX : result;
}

/* One Newton-Raphson reciprocal of 1 + a, a in [0, 1]; Q2.29 result (x ~ 1 / (1 + a) * 2). */
static int32_t reciprocal_q2(int32_t a)
{
    /* RoundingHalfSum(a, One): (1 + a) / 2 in Q0.31 */
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    /* x = 48/17 - 32/17 * half_denominator, then three refinements */
    int32_t x = add_wrap(1515870810, mcb_fx_srdhm(half_denominator, -1010580540));
    for (int i = 0; i < 3; i++) {
        const int32_t one_minus = sub_wrap(INT32_C(1) << 29, mcb_fx_srdhm(half_denominator, x));
        x = add_wrap(x, sat_mul_pot(mcb_fx_srdhm(x, one_minus), 2));
    }
    return x;
}

int32_t mcb_fx_logistic_q4(int32_t a)
{
    if (a == 0) {
        return INT32_C(1) << 30; /* 1/2 */
    }
    const int32_t abs_a = a > 0 ? a : neg_wrap(a);
    /* 1 / (1 + exp(-|a|)): one_over_one_plus_x_for_x_in_0_1 returns x / 2 rescaled. */
    const int32_t positive = sat_mul_pot(reciprocal_q2(exp_negative(neg_wrap(abs_a),
                                                                    Q4_INTEGER_BITS)), 1);
    return a > 0 ? positive : sub_wrap(INT32_MAX, positive);
}

int32_t mcb_fx_tanh_q4(int32_t a)
{
    if (a == 0) {
        return 0;
    }
    const int32_t n = a < 0 ? a : neg_wrap(a); /* -|a| */
    /* (1 - exp(2n)) / (1 + exp(2n)): 2n is n read with one more integer bit. */
    const int32_t e = exp_negative(n, Q4_INTEGER_BITS + 1);
    const int32_t t = sat_mul_pot(sub_wrap(reciprocal_q2(e), INT32_C(1) << 29), 2);
    return a < 0 ? neg_wrap(t) : t;
}

/* ---- int16 LOGISTIC / TANH ---------------------------------------------------------- */

const uint16_t mcb_act_sigmoid_table[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149,
    40794, 41432, 42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369,
    47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169,
    53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370,
    60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302,
    62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786,
    64816, 64845, 64873, 64900, 64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079,
    65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208, 65221, 65234, 65246, 65258,
    65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433,
    65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498,
    65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522,
    65523, 65523, 65524, 65524, 65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528,
    65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530, 65530, 65530, 65531, 65531,
    65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535,
};

float mcb_act_roundf(float v)
{
    if (!(v > -8388608.0f && v < 8388608.0f)) {
        return v; /* already integral (or not finite) */
    }
    const float t = (float)(int32_t)v;
    const float frac = v - t;
    return frac >= 0.5f ? t + 1.0f : frac <= -0.5f ? t - 1.0f : t;
}

/*
 * ln(x) for a positive finite float, to double precision: x = m * 2^e with m
 * in [1, 2), ln m = 2 atanh((m - 1) / (m + 1)).
 */
static double ln_positive(float x)
{
    double m = (double)x;
    int32_t e = 0;
    while (m >= 2.0) {
        m /= 2.0;
        e++;
    }
    while (m < 1.0) {
        m *= 2.0;
        e--;
    }
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    double term = s;
    double sum = 0.0;
    for (int k = 1; k < 40; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return (double)e * 0.69314718055994530942 + 2.0 * sum;
}

/*
 * TFLM's CheckedLog2: log2 x as logf(x) * (1 / logf(2)) in float, rounded;
 * true if within 1e-3 of the integer. logf is taken as ln rounded to float
 * (glibc's logf is correctly rounded there but for rare halfway cases, which
 * would only matter at the very edge of the 1e-3 tolerance).
 */
static bool checked_log2(float x, int32_t *log2_result)
{
    if (!(x > 0.0f) || x > 3.0e38f) {
        *log2_result = 0;
        return false;
    }
    const float inverse_ln2 = 1.0f / 0.693147182f; /* 1.0f / logf(2.0f) */
    const float x_log2 = (float)ln_positive(x) * inverse_ln2;
    const float rounded = mcb_act_roundf(x_log2);
    const float frac = x_log2 - rounded;
    *log2_result = (int32_t)rounded;
    return (frac < 0.0f ? -frac : frac) < 1e-3f;
}

mcb_status mcb_act_lut16_prepare(mcb_interpreter *ctx, const mcb_node *node,
                                 const mcb_tensor_info *in, const mcb_tensor_info *out, uint32_t n,
                                 bool tanh, mcb_act_lut16 *p)
{
    enum { INPUT_INTEGER_BITS = 3, OUTPUT_FRACTIONAL_BITS = 15 };
    if (mcb_act_zero_point(in) != 0 || mcb_act_zero_point(out) != 0) {
        return mcb_kernel_reject(ctx, node, "int16 input and output need zero point 0", 0, 0, 0);
    }
    const float scale = mcb_act_scale(in);
    int32_t log2_scale = 0;
    bool pot = checked_log2(scale, &log2_scale);
    int32_t shift = (15 - INPUT_INTEGER_BITS) + log2_scale;
    pot = pot && (shift == 0 || (tanh && shift == 1));
    int32_t multiplier = 0;
    if (!pot) {
        /* rescale to 1 / (3 * 4096): +-2^17 stands for +-10.7 */
        double m = (double)scale * 4096.0 * 3.0;
        shift = 0;
        while (m <= 32767.0 / 2.0 && shift <= 30) {
            shift++;
            m *= 2.0;
        }
        if (!(m <= 32767.0)) { /* TFLM's TFLITE_DCHECK; its int32 product would overflow */
            return mcb_kernel_reject(ctx, node, "int16 input scale too large (over 2.67)", 0, 0,
                                     0);
        }
        multiplier = (int32_t)m;
        if (multiplier == 0) { /* TFLM would take it for the power-of-two case, 3 << 31 */
            return mcb_kernel_reject(ctx, node, "int16 input scale too small", 0, 0, 0);
        }
    }
    int32_t log2_out = 0;
    if (!checked_log2(mcb_act_scale(out), &log2_out) || log2_out != -OUTPUT_FRACTIONAL_BITS) {
        return mcb_kernel_reject(ctx, node, "int16 output scale must be 2^-15", 0, 0, 0);
    }
    if (multiplier == 0) { /* the power-of-two case: the scale's 3 / 4 only */
        multiplier = 3 << shift;
        shift = 0;
    }
    p->multiplier = multiplier;
    p->shift = shift;
    p->n = n;
    return MCB_OK;
}

/* ---- RELU / RELU6 / LEAKY_RELU, int8 and int16 --------------------------------------- */

mcb_status mcb_act_relu_prepare(mcb_interpreter *ctx, const mcb_node *node, bool relu6,
                                int32_t qmin, int32_t qmax, mcb_act_relu *p)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    const mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st != MCB_OK) {
        return st;
    }
    const float in_scale = mcb_act_scale(&in);
    const float out_scale = mcb_act_scale(&out);
    p->in_zero_point = mcb_act_zero_point(&in);
    p->out_zero_point = mcb_act_zero_point(&out);
    p->n = n;
    p->multiplier = 0;
    p->shift = 0;
    if (relu6) {
        /* FloatToQuantizedType(6, input scale, input zero point), clamped to the type */
        if (p->in_zero_point < qmin || p->in_zero_point > qmax) {
            return mcb_kernel_reject(ctx, node, "input zero point %d out of range",
                                     (uint32_t)p->in_zero_point, 0, 0);
        }
        const float six = mcb_act_roundf(6.0f / in_scale);
        if (!(six < 2147483648.0f - 65536.0f && six > -2147483648.0f + 65536.0f)) { /* TFLM's int conversion would overflow */
            return mcb_kernel_reject(ctx, node, "input scale too small for RELU6", 0, 0, 0);
        }
        const int32_t q = (int32_t)six + p->in_zero_point;
        p->act_min = p->in_zero_point;
        p->act_max = q < qmin ? qmin : q > qmax ? qmax : q;
        return MCB_OK;
    }
    if (qmin < INT8_MIN && (p->in_zero_point != 0 || p->out_zero_point != 0)) {
        return mcb_kernel_reject(ctx, node, "int16 input and output need zero point 0", 0, 0, 0);
    }
    if (mcb_quantize_multiplier((double)in_scale / (double)out_scale, &p->multiplier,
                                &p->shift) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "input scale / output scale out of range", 0, 0, 0);
    }
    /* max(qmin, zero point + round(0 / scale)), and no upper bound */
    p->act_min = p->out_zero_point > qmin ? p->out_zero_point : qmin;
    p->act_max = qmax;
    return MCB_OK;
}

int32_t mcb_act_relu_value(const mcb_act_relu *p, int32_t x)
{
    int32_t v = p->out_zero_point +
                mcb_multiply_by_quantized_multiplier(x - p->in_zero_point, p->multiplier, p->shift);
    v = v > p->act_min ? v : p->act_min;
    return v < p->act_max ? v : p->act_max;
}

int32_t mcb_act_relu6_value(const mcb_act_relu *p, int32_t x)
{
    return x > p->act_max ? p->act_max : x < p->act_min ? p->act_min : x;
}

#define OPTIONS_LEAKY_RELU 75 /* BuiltinOptions.LeakyReluOptions */
#define OPT_ALPHA MCB_FB_SLOT(0)

mcb_status mcb_act_leaky_alpha(mcb_interpreter *ctx, const mcb_node *node, float *alpha)
{
    mcb_operator_info op;
    *alpha = 0.0f;
    if (mcb_kernel_operator(ctx, node, &op) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable operator", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_LEAKY_RELU) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_f32(&op.options, OPT_ALPHA, 0.0f, alpha) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    return MCB_OK;
}

mcb_status mcb_act_leaky_prepare(mcb_interpreter *ctx, const mcb_node *node, int32_t qmin,
                                 int32_t qmax, mcb_act_leaky *p)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint32_t n = 0;
    float alpha = 0.0f;
    mcb_status st = mcb_act_io(ctx, node, &in, &out, &n);
    if (st == MCB_OK) {
        st = mcb_act_leaky_alpha(ctx, node, &alpha);
    }
    if (st != MCB_OK) {
        return st;
    }
    const float in_scale = mcb_act_scale(&in);
    const float out_scale = mcb_act_scale(&out);
    /* Both ratios in double, as the tflite_micro build computes them. */
    const double alpha_ratio = (double)in_scale * (double)alpha / (double)out_scale;
    const double identity_ratio = (double)in_scale / (double)out_scale;
    int32_t alpha_multiplier = 0;
    if (mcb_quantize_multiplier(alpha_ratio, &alpha_multiplier, &p->alpha_shift) != MCB_OK ||
        mcb_quantize_multiplier(identity_ratio, &p->identity_multiplier,
                                &p->identity_shift) != MCB_OK ||
        alpha_multiplier == INT32_MIN) { /* a ratio rounding to -2^k: TFLM's negation overflows */
        return mcb_kernel_reject(ctx, node, "scales (and alpha) out of range", 0, 0, 0);
    }
    /* TFLM multiplies by |alpha's multiplier| and negates the product. */
    p->alpha_negative = alpha_multiplier < 0;
    p->alpha_multiplier = alpha_multiplier < 0 ? -alpha_multiplier : alpha_multiplier;
    p->in_zero_point = mcb_act_zero_point(&in);
    p->out_zero_point = mcb_act_zero_point(&out);
    p->qmin = qmin;
    p->qmax = qmax;
    p->n = n;
    return MCB_OK;
}

int32_t mcb_act_leaky_value(const mcb_act_leaky *p, int32_t x)
{
    const int32_t v = x - p->in_zero_point;
    int32_t y = p->out_zero_point;
    if (v >= 0) {
        y += mcb_multiply_by_quantized_multiplier(v, p->identity_multiplier, p->identity_shift);
    } else {
        /* |alpha| then the sign: ties round toward zero for negative alphas */
        const int32_t s = mcb_multiply_by_quantized_multiplier(v, p->alpha_multiplier,
                                                               p->alpha_shift);
        y += p->alpha_negative ? -s : s;
    }
    return y < p->qmin ? p->qmin : y > p->qmax ? p->qmax : y;
}

/* ---- float --------------------------------------------------------------------------- */

float mcb_act_expf(float x)
{
    return expf(x);
}

float mcb_act_tanhf(float x)
{
    return tanhf(x);
}
