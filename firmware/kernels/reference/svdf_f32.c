/*
 * SVDF, float32 input, weights, state, bias and output.
 *
 * Bit-exact with TFLM's svdf.cc + svdf_common.cc (EvalFloatSvdfReference):
 * one scratch buffer of batch * filters floats; each invoke shifts the whole
 * state left by one element, writes each filter's feature dot product
 * (summed left to right in float) into its newest slot, takes the time dot
 * products, starts each unit from the bias, adds its rank filters in
 * order, then applies the fused activation. TANH is refused: TFLM calls the
 * C library's tanh, which differs between toolchains.
 */
#include <string.h>

#include "mcb/quant.h"
#include "reference.h"
#include "svdf_common.h"

typedef struct {
    uint32_t batch;
    uint32_t input_size;
    uint32_t filters;
    uint32_t units;
    uint32_t rank;
    uint32_t memory;
    uint32_t scratch; /* batch * filters floats */
    uint8_t activation;
} svdf_f32;

mcb_status mcb_svdf_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_svdf_shape s;
    uint32_t h = 0;
    mcb_status st = mcb_svdf_check(ctx, node, &s);
    if (st != MCB_OK) {
        return st;
    }
    if (s.feature.type != MCB_TYPE_FLOAT32 || s.time.type != MCB_TYPE_FLOAT32 ||
        s.state.type != MCB_TYPE_FLOAT32 || (s.has_bias && s.bias.type != MCB_TYPE_FLOAT32) ||
        s.out.type != MCB_TYPE_FLOAT32) {
        return mcb_kernel_reject(ctx, node, "weights, state, bias and output must be FLOAT32", 0,
                                 0, 0);
    }
    if (s.activation > MCB_ACT_SIGN_BIT || s.activation == MCB_ACT_TANH) {
        return mcb_kernel_reject(ctx, node, "fused activation %u not supported", s.activation, 0,
                                 0);
    }
    const uint64_t bytes = (uint64_t)s.batch * s.filters * sizeof(float);
    if (bytes > 0x7FFFFFFFu) {
        return mcb_kernel_reject(ctx, node, "scratch over 2 GB", 0, 0, 0);
    }
    if (mcb_kernel_request_scratch(ctx, node, (uint32_t)bytes, &h) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "scratch buffer unavailable", 0, 0, 0);
    }
    svdf_f32 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->batch = s.batch;
    d->input_size = s.input_size;
    d->filters = s.filters;
    d->units = s.units;
    d->rank = s.rank;
    d->memory = s.memory;
    d->scratch = h;
    d->activation = s.activation;
    node->user_data = d;
    return MCB_OK;
}

/* TFLM's ActivationValFloat: max(lo, min(v, hi)) as std::max / std::min compare. */
static float activate(uint8_t act, float v)
{
    switch (act) {
    case MCB_ACT_RELU:
        return 0.0f < v ? v : 0.0f;
    case MCB_ACT_RELU_N1_TO_1:
        v = 1.0f < v ? 1.0f : v;
        return -1.0f < v ? v : -1.0f;
    case MCB_ACT_RELU6:
        v = 6.0f < v ? 6.0f : v;
        return 0.0f < v ? v : 0.0f;
    case MCB_ACT_SIGN_BIT: {
        uint32_t bits;
        memcpy(&bits, &v, sizeof bits);
        return (bits >> 31) != 0u ? 1.0f : 0.0f;
    }
    default:
        return v;
    }
}

mcb_status mcb_svdf_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const svdf_f32 *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, MCB_SVDF_INPUT);
    const float *feature = mcb_kernel_input(ctx, node, MCB_SVDF_FEATURE);
    const float *time = mcb_kernel_input(ctx, node, MCB_SVDF_TIME);
    const float *bias = mcb_kernel_input(ctx, node, MCB_SVDF_BIAS);
    float *state = mcb_kernel_variable(ctx, node, MCB_SVDF_STATE);
    float *out = mcb_kernel_output(ctx, node, 0);
    float *scratch = mcb_kernel_scratch(ctx, node, d != NULL ? d->scratch : 0u);
    if (d == NULL || in == NULL || feature == NULL || time == NULL || bias == NULL ||
        state == NULL || out == NULL || scratch == NULL) {
        return MCB_ERR_STATE;
    }
    const uint32_t width = d->filters * d->memory;
    memmove(state, state + 1, (size_t)(d->batch * width - 1u) * sizeof(float));

    for (uint32_t b = 0; b < d->batch; b++) {
        const float *x = in + (size_t)b * d->input_size;
        for (uint32_t f = 0; f < d->filters; f++) {
            const float *w = feature + (size_t)f * d->input_size;
            float dot = 0.0f;
            for (uint32_t c = 0; c < d->input_size; c++) {
                dot += w[c] * x[c];
            }
            state[b * width + f * d->memory + d->memory - 1u] = dot;
        }
    }
    for (uint32_t b = 0; b < d->batch; b++) {
        for (uint32_t f = 0; f < d->filters; f++) {
            const float *w = time + (size_t)f * d->memory;
            const float *v = state + b * width + f * d->memory;
            float dot = 0.0f;
            for (uint32_t j = 0; j < d->memory; j++) {
                dot += w[j] * v[j];
            }
            scratch[b * d->filters + f] = dot;
        }
    }
    for (uint32_t b = 0; b < d->batch; b++) {
        for (uint32_t u = 0; u < d->units; u++) {
            float sum = bias[u];
            for (uint32_t r = 0; r < d->rank; r++) {
                sum += scratch[b * d->filters + u * d->rank + r];
            }
            out[b * d->units + u] = activate(d->activation, sum);
        }
    }
    return MCB_OK;
}
