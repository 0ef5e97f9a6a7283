/*
 * SVDF, int8 input and output, int8 weights_feature, int16 (or int8)
 * weights_time and state of the same type, int32 bias.
 *
 * Bit-exact with TFLM's svdf.cc + svdf_common.cc (PrepareSvdf,
 * EvalIntegerSvdfReference):
 * - multipliers from double(float(input_scale * feature_scale / state_scale))
 *   and double(float(state_scale * time_scale / output_scale)), computed in
 *   float as TFLM does; the bias scale must be within 1e-5 of
 *   float(state_scale * time_scale);
 * - two scratch buffers, as TFLM requests them: batch * filters int32 and
 *   batch * units int32;
 * - each invoke shifts the whole state left by one element, writes each
 *   filter's requantised feature product into its newest slot (clamped to
 *   the state type, then the state zero point added, wrapping when narrowed:
 *   the tflite_micro wheel's order, which newer TFLM reverses), takes the time products
 *   against state - zero point, sums each unit's rank filters onto the bias,
 *   requantises to the output; int32 sums wrap as TFLM's do on its targets.
 * TFLM's integer SVDF ignores the fused activation (it clamps to int8 only),
 * and so do we. TFLM reads the state as weights_time's type: a state of the
 * other type is refused.
 */
#include <string.h>

#include "mcb/quant.h"
#include "reference.h"
#include "svdf_common.h"

typedef struct {
    int32_t input_zp;
    int32_t state_zp;
    int32_t output_zp;
    int32_t mult1;
    int32_t shift1;
    int32_t mult2;
    int32_t shift2;
    uint32_t batch;
    uint32_t input_size;
    uint32_t filters;
    uint32_t units;
    uint32_t rank;
    uint32_t memory;
    uint32_t scratch;     /* batch * filters int32: the time products */
    uint32_t scratch_out; /* batch * units int32: the sums */
    bool state16;
} svdf_s8;

static double abs_d(double v)
{
    return v < 0.0 ? -v : v;
}

mcb_status mcb_svdf_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_svdf_shape s;
    mcb_status st = mcb_svdf_check(ctx, node, &s);
    if (st != MCB_OK) {
        return st;
    }
    if (s.feature.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "weights_feature type %u, expected INT8",
                                 s.feature.type, 0, 0);
    }
    if ((s.time.type != MCB_TYPE_INT16 && s.time.type != MCB_TYPE_INT8) ||
        s.state.type != s.time.type) {
        return mcb_kernel_reject(ctx, node,
                                 "weights_time (type %u) and state (type %u) must both be "
                                 "INT16 or INT8",
                                 s.time.type, s.state.type, 0);
    }
    if (s.bias.type != MCB_TYPE_INT32) {
        return mcb_kernel_reject(ctx, node, "bias type %u, expected INT32", s.bias.type, 0, 0);
    }
    if (s.out.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "output type %u, expected INT8", s.out.type, 0, 0);
    }
    /* TFLM's params.scale / zero_point: the first ones, 0 when not quantised. */
    const float in_scale = mcb_quant_scale(&s.in.quant, 0);
    const float feature_scale = mcb_quant_scale(&s.feature.quant, 0);
    const float time_scale = mcb_quant_scale(&s.time.quant, 0);
    const float state_scale = mcb_quant_scale(&s.state.quant, 0);
    const float out_scale = mcb_quant_scale(&s.out.quant, 0);
    const float bias_scale = mcb_quant_scale(&s.bias.quant, 0);
    const float product = state_scale * time_scale;
    const double effective1 = (double)(in_scale * feature_scale / state_scale);
    const double effective2 = (double)(product / out_scale);
    if (!(abs_d((double)bias_scale - (double)product) < 1e-5)) {
        return mcb_kernel_reject(ctx, node,
                                 "bias scale differs from state scale * weights_time scale", 0,
                                 0, 0);
    }
    svdf_s8 *d;
    const uint64_t sum1 = (uint64_t)s.batch * s.filters * sizeof(int32_t);
    const uint64_t sum2 = (uint64_t)s.batch * s.units * sizeof(int32_t);
    uint32_t h1 = 0;
    uint32_t h2 = 0;
    if (sum1 > 0x7FFFFFFFu || sum2 > 0x7FFFFFFFu) {
        return mcb_kernel_reject(ctx, node, "scratch over 2 GB", 0, 0, 0);
    }
    if (mcb_kernel_request_scratch(ctx, node, (uint32_t)sum1, &h1) != MCB_OK ||
        mcb_kernel_request_scratch(ctx, node, (uint32_t)sum2, &h2) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "scratch buffers unavailable", 0, 0, 0);
    }
    /* TFLM trusts these; out of their types' ranges the sums below would overflow. */
    const int64_t in_zp = mcb_quant_zero_point(&s.in.quant, 0);
    const int64_t state_zp = mcb_quant_zero_point(&s.state.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&s.out.quant, 0);
    const int64_t state_half = s.state.type == MCB_TYPE_INT16 ? 32768 : 128;
    if (in_zp < INT8_MIN || in_zp > INT8_MAX || out_zp < INT8_MIN || out_zp > INT8_MAX ||
        state_zp < -state_half || state_zp >= state_half) {
        return mcb_kernel_reject(ctx, node, "a zero point lies outside its type's range", 0, 0,
                                 0);
    }
    d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    if (mcb_quantize_multiplier(effective1, &d->mult1, &d->shift1) != MCB_OK ||
        mcb_quantize_multiplier(effective2, &d->mult2, &d->shift2) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "scales give an effective scale out of range", 0, 0,
                                 0);
    }
    d->input_zp = (int32_t)in_zp;
    d->state_zp = (int32_t)state_zp;
    d->output_zp = (int32_t)out_zp;
    d->batch = s.batch;
    d->input_size = s.input_size;
    d->filters = s.filters;
    d->units = s.units;
    d->rank = s.rank;
    d->memory = s.memory;
    d->scratch = h1;
    d->scratch_out = h2;
    d->state16 = s.state.type == MCB_TYPE_INT16;
    node->user_data = d;
    return MCB_OK;
}

/* a + b in int32, wrapping as TFLM's sums do on its targets. */
static int32_t wrap_add(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* State element k, as int32, of an int16 or int8 state. */
static int32_t state_get(const void *state, bool wide, uint32_t k)
{
    return wide ? (int32_t)((const int16_t *)state)[k] : (int32_t)((const int8_t *)state)[k];
}

static void state_set(void *state, bool wide, uint32_t k, int32_t v)
{
    if (wide) {
        ((int16_t *)state)[k] = (int16_t)v;
    } else {
        ((int8_t *)state)[k] = (int8_t)v;
    }
}

mcb_status mcb_svdf_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const svdf_s8 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, MCB_SVDF_INPUT);
    const int8_t *feature = mcb_kernel_input(ctx, node, MCB_SVDF_FEATURE);
    const void *time = mcb_kernel_input(ctx, node, MCB_SVDF_TIME);
    const int32_t *bias = mcb_kernel_input(ctx, node, MCB_SVDF_BIAS);
    void *state = mcb_kernel_variable(ctx, node, MCB_SVDF_STATE);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    int32_t *scratch = mcb_kernel_scratch(ctx, node, d != NULL ? d->scratch : 0u);
    int32_t *sums = mcb_kernel_scratch(ctx, node, d != NULL ? d->scratch_out : 0u);
    if (d == NULL || in == NULL || feature == NULL || time == NULL || bias == NULL ||
        state == NULL || out == NULL || scratch == NULL || sums == NULL) {
        return MCB_ERR_STATE;
    }
    const bool wide = d->state16;
    const int32_t lo = wide ? INT16_MIN : INT8_MIN;
    const int32_t hi = wide ? INT16_MAX : INT8_MAX;
    const uint32_t width = d->filters * d->memory; /* state elements per batch */
    const uint32_t n_state = d->batch * width;

    /* Shift the whole state left by one element; the last one stays. */
    const uint32_t elem = wide ? 2u : 1u;
    memmove(state, (uint8_t *)state + elem, (size_t)(n_state - 1u) * elem);

    /* Feature products into each filter's newest slot. */
    for (uint32_t b = 0; b < d->batch; b++) {
        const int8_t *x = in + (size_t)b * d->input_size;
        for (uint32_t f = 0; f < d->filters; f++) {
            const int8_t *w = feature + (size_t)f * d->input_size;
            uint32_t acc = 0;
            for (uint32_t c = 0; c < d->input_size; c++) {
                acc += (uint32_t)((int32_t)w[c] * ((int32_t)x[c] - d->input_zp));
            }
            int32_t v = mcb_multiply_by_quantized_multiplier((int32_t)acc, d->mult1, d->shift1);
            v = v < lo ? lo : v > hi ? hi : v;
            state_set(state, wide, b * width + f * d->memory + d->memory - 1u, v + d->state_zp);
        }
    }

    /* Time products: each filter's memory against its weights_time row. */
    for (uint32_t b = 0; b < d->batch; b++) {
        for (uint32_t f = 0; f < d->filters; f++) {
            const uint32_t row = f * d->memory;
            uint32_t acc = 0;
            for (uint32_t j = 0; j < d->memory; j++) {
                const int32_t w = state_get(time, wide, row + j);
                const int32_t v = state_get(state, wide, b * width + row + j) - d->state_zp;
                acc += (uint32_t)((int64_t)w * v); /* int16 x 17 bits: wraps as TFLM's int32 */
            }
            scratch[b * d->filters + f] = (int32_t)acc;
        }
    }

    /* Bias, the rank filters of each unit, requantised to the output. */
    for (uint32_t b = 0; b < d->batch; b++) {
        for (uint32_t u = 0; u < d->units; u++) {
            uint32_t acc = (uint32_t)bias[u];
            for (uint32_t r = 0; r < d->rank; r++) {
                acc += (uint32_t)scratch[b * d->filters + u * d->rank + r];
            }
            sums[b * d->units + u] = (int32_t)acc;
        }
    }
    for (uint32_t k = 0; k < d->batch * d->units; k++) {
        int32_t v = mcb_multiply_by_quantized_multiplier(sums[k], d->mult2, d->shift2);
        v = wrap_add(v, d->output_zp);
        out[k] = (int8_t)(v < INT8_MIN ? INT8_MIN : v > INT8_MAX ? INT8_MAX : v);
    }
    return MCB_OK;
}
