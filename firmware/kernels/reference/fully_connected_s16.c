/*
 * FULLY_CONNECTED, int16 input and output, int8 filter [units, depth] with
 * per-tensor or per-channel (along units) scales, optional int64 or int32
 * bias; fused activation; keep_num_dims (only the output's shape).
 *
 * Bit-exact with TFLM's fully_connected.cc + reference_integer_ops::
 * FullyConnected / FullyConnectedPerChannel for int16 (the 16x8 path):
 * - the multipliers as for int8 (fully_connected_s8.c): per tensor from
 *   double(float(input_scale * filter_scale)) / output_scale with the
 *   bias-scale check, per channel from double(input_scale) * filter_scale[c]
 *   / output_scale;
 * - the input and output zero points are applied (unlike TFLM's 16x8
 *   convolutions, which ignore them), the filter's per tensor only;
 * - the accumulator is int64 with an int64 bias or none (int64
 *   MultiplyByQuantizedMultiplier), int32 with an int32 bias (int32 one),
 *   kept in a uint64 whose low 32 bits are the int32 sum.
 */
#include <float.h>

#include "conv_common.h"
#include "fully_connected_common.h"
#include "mcb/quant.h"
#include "reference.h"

typedef struct {
    int32_t input_offset;  /* -input zero point */
    int32_t filter_offset; /* -filter zero point; 0 per channel */
    int32_t output_offset; /* output zero point */
    int32_t act_min;
    int32_t act_max;
    uint32_t rows;
    uint32_t depth;
    uint32_t units;
    uint32_t acc32;       /* 1 with an int32 bias */
    uint32_t per_channel; /* 1: one multiplier per unit, else channel_mult[0] for all */
    int32_t channel_mult[]; /* n multipliers, then n shifts (n = units or 1) */
} fc_s16;

static double abs_d(double v)
{
    return v < 0.0 ? -v : v;
}

static bool fits(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

mcb_status mcb_fully_connected_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_fc_info f;
    const mcb_status st = mcb_fc_read(ctx, node, MCB_TYPE_INT16, &f);
    if (st != MCB_OK) {
        return st;
    }

    /* Quantisation: TFLM takes each tensor's first scale and zero point. */
    if (f.in.quant.n_scales == 0 || f.filter.quant.n_scales == 0) {
        return mcb_kernel_reject(ctx, node, "input and filter must be quantised", 0, 0, 0);
    }
    const float in_scale = mcb_quant_scale(&f.in.quant, 0);
    const float out_scale = mcb_quant_scale(&f.out.quant, 0);
    const int64_t in_zp = mcb_quant_zero_point(&f.in.quant, 0);
    const int64_t filter_zp = mcb_quant_zero_point(&f.filter.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&f.out.quant, 0);
    if (!(out_scale > 0.0f && out_scale <= FLT_MAX)) {
        return mcb_kernel_reject(ctx, node, "output scale must be positive", 0, 0, 0);
    }
    if (!fits(in_zp, INT16_MIN, INT16_MAX) || !fits(out_zp, INT16_MIN, INT16_MAX) ||
        !fits(filter_zp, INT8_MIN, INT8_MAX)) {
        return mcb_kernel_reject(ctx, node, "zero points out of range (input %d, filter %d, "
                                 "output %d)", (uint32_t)in_zp, (uint32_t)filter_zp,
                                 (uint32_t)out_zp);
    }
    const bool per_channel = f.filter.quant.n_scales > 1;
    if (per_channel &&
        (f.filter.quant.quantized_dimension != 0 || f.filter.quant.n_scales != f.units)) {
        return mcb_kernel_reject(ctx, node, "per-channel scales must run along units (dimension "
                                 "0), got dimension %d",
                                 (uint32_t)f.filter.quant.quantized_dimension, 0, 0);
    }
    const bool acc32 = f.has_bias && f.bias.type == MCB_TYPE_INT32;
    const int32_t max_shift = acc32 ? 30 : MCB_S64_SHIFT_MAX;
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)f.act, out_scale, (int32_t)out_zp, INT16_MIN,
                             INT16_MAX, &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    /* No scratch; all persistent memory in one request (mcb/kernel.h). */
    const uint32_t n = per_channel ? f.units : 1u;
    fc_s16 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d + 2u * n * sizeof(int32_t));
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->input_offset = -(int32_t)in_zp;
    d->filter_offset = per_channel ? 0 : -(int32_t)filter_zp;
    d->output_offset = (int32_t)out_zp;
    d->act_min = act_min;
    d->act_max = act_max;
    d->rows = f.rows;
    d->depth = f.depth;
    d->units = f.units;
    d->acc32 = acc32 ? 1u : 0u;
    d->per_channel = per_channel ? 1u : 0u;
    for (uint32_t c = 0; c < n; c++) {
        double real;
        if (per_channel) {
            real = (double)in_scale * (double)mcb_quant_scale(&f.filter.quant, c) /
                   (double)out_scale;
        } else {
            /* The product in float, then widened: TFLM's GetQuantizedConvolutionMultipler. */
            const double product = (double)(in_scale * mcb_quant_scale(&f.filter.quant, 0));
            if (!(product >= 0.0)) {
                return mcb_kernel_reject(ctx, node, "input scale * filter scale is negative", 0,
                                         0, 0);
            }
            if (f.has_bias) {
                const double diff = abs_d(product - (double)mcb_quant_scale(&f.bias.quant, 0));
                if (!(diff / (double)out_scale <= 0.02)) {
                    return mcb_kernel_reject(ctx, node, "bias scale differs from input scale * "
                                             "filter scale", 0, 0, 0);
                }
            }
            real = product / (double)out_scale;
        }
        if (mcb_quantize_multiplier(real, &d->channel_mult[c], &d->channel_mult[n + c]) !=
                MCB_OK ||
            d->channel_mult[n + c] > max_shift) {
            return mcb_kernel_reject(ctx, node, "requantisation multiplier of channel %u out of "
                                     "range", c, 0, 0);
        }
    }
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_fully_connected_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const fc_s16 *d = node->user_data;
    const int16_t *in = mcb_kernel_input(ctx, node, MCB_FC_IN_INPUT);
    const int8_t *filter = mcb_kernel_input(ctx, node, MCB_FC_IN_FILTER);
    const uint8_t *bias = mcb_kernel_input(ctx, node, MCB_FC_IN_BIAS);
    int16_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || filter == NULL || out == NULL ||
        (bias == NULL && mcb_kernel_has_input(node, MCB_FC_IN_BIAS))) {
        return MCB_ERR_STATE;
    }
    const uint32_t n = d->per_channel ? d->units : 1u;
    for (uint32_t r = 0; r < d->rows; r++) {
        const int16_t *x = &in[(size_t)r * d->depth];
        for (uint32_t u = 0; u < d->units; u++) {
            const int8_t *w = &filter[(size_t)u * d->depth];
            uint64_t acc = 0;
            for (uint32_t i = 0; i < d->depth; i++) {
                /* |product| < 2^25 (zero points int8 / int16): fits TFLM's int32 product. */
                acc += (uint64_t)(int64_t)((w[i] + d->filter_offset) * (x[i] + d->input_offset));
            }
            if (bias != NULL) {
                acc += d->acc32 ? (uint64_t)(int64_t)mcb_conv_bias(bias, (int32_t)u)
                                : (uint64_t)mcb_conv_bias64(bias, (int32_t)u);
            }
            const uint32_t c = d->per_channel ? u : 0u;
            out[(size_t)r * d->units + u] =
                mcb_requantize_16x8(acc, d->acc32 != 0, d->channel_mult[c],
                                    d->channel_mult[n + c], d->output_offset, d->act_min,
                                    d->act_max);
        }
    }
    return MCB_OK;
}
