/*
 * FULLY_CONNECTED, int8 input and output, int8 filter [units, depth], optional
 * int32 bias [units]; per-tensor or per-channel (along units) filter scales.
 *
 * Bit-exact with TFLM's fully_connected.cc + fully_connected_common.cc and
 * reference_integer_ops::FullyConnected / FullyConnectedPerChannel:
 * - per tensor: multiplier from double(float(input_scale * filter_scale)) /
 *   output_scale (TFLM's GetQuantizedConvolutionMultipler), the filter zero
 *   point applied, the bias scale checked against input * filter scale;
 * - per channel: double(input_scale) * filter_scale[c] / output_scale, the
 *   filter zero point ignored (symmetric by the quantisation spec);
 * - the fused activation as a clamp of the quantised output.
 * keep_num_dims only changes the output's shape, which the model states:
 * rows are the output's elements / units, as in TFLM.
 */
#include <float.h>
#include <string.h>

#include "mcb/quant.h"
#include "reference.h"

#define OPTIONS_FULLY_CONNECTED 8 /* BuiltinOptions.FullyConnectedOptions */
#define OPT_ACTIVATION MCB_FB_SLOT(0)
#define OPT_WEIGHTS_FORMAT MCB_FB_SLOT(1)

#define IN_INPUT 0u
#define IN_FILTER 1u
#define IN_BIAS 2u

typedef struct {
    int32_t input_offset;  /* -input zero point */
    int32_t filter_offset; /* -filter zero point; 0 per channel */
    int32_t output_offset; /* output zero point */
    int32_t act_min;
    int32_t act_max;
    uint32_t rows;  /* batches: output elements / units */
    uint32_t depth; /* filter dim 1 */
    uint32_t units; /* filter dim 0 */
    int32_t multiplier; /* per tensor */
    int32_t shift;
    uint32_t per_channel;    /* 1: multipliers and shifts follow */
    int32_t channel_mult[]; /* units multipliers, then units shifts */
} fc_s8;

static uint64_t elements(const mcb_tensor_info *t)
{
    uint64_t n = 1;
    for (uint32_t i = 0; i < t->rank; i++) {
        n *= (uint64_t)t->shape[i];
        if (n > 0x7FFFFFFFu) {
            return UINT64_MAX; /* more than any arena holds: fails the checks */
        }
    }
    return n;
}

/* TFLM's params.zero_point: the first one, 0 when not quantised. */
static int64_t zero_point(const mcb_tensor_info *t)
{
    return mcb_quant_zero_point(&t->quant, 0);
}

static bool is_int8(int64_t v)
{
    return v >= -128 && v <= 127;
}

static double abs_d(double v)
{
    return v < 0.0 ? -v : v;
}

mcb_status mcb_fully_connected_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info filter;
    mcb_tensor_info bias;
    mcb_tensor_info out;
    uint8_t act = 0;
    int8_t weights_format = 0;
    const bool has_bias = mcb_kernel_has_input(node, IN_BIAS);

    if (mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, IN_INPUT, &in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, IN_FILTER, &filter) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK ||
        (has_bias && mcb_kernel_input_info(ctx, node, IN_BIAS, &bias) != MCB_OK)) {
        return mcb_kernel_reject(ctx, node, "needs an input, a filter and an output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_FULLY_CONNECTED) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_u8(&op.options, OPT_ACTIVATION, 0, &act) != MCB_OK ||
        mcb_fb_i8(&op.options, OPT_WEIGHTS_FORMAT, 0, &weights_format) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (act > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", act, 0, 0);
    }
    if (weights_format != 0) {
        return mcb_kernel_reject(ctx, node, "shuffled weights (format %u) not supported",
                                 (uint32_t)weights_format, 0, 0);
    }

    /* Types: TFLM's int8 path. */
    if (out.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "output type %u, input INT8", out.type, 0, 0);
    }
    if (filter.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "filter type %u not supported (INT8 only)",
                                 filter.type, 0, 0);
    }
    if (has_bias && bias.type != MCB_TYPE_INT32) {
        return mcb_kernel_reject(ctx, node, "bias type %u, expected INT32", bias.type, 0, 0);
    }

    /* Shapes: filter [units, depth]; input rows * depth; output rows * units. */
    if (filter.rank != 2 || filter.shape[0] < 1 || filter.shape[1] < 1) {
        return mcb_kernel_reject(ctx, node, "filter must be [units, depth], rank %u", filter.rank,
                                 0, 0);
    }
    const uint32_t units = (uint32_t)filter.shape[0];
    const uint32_t depth = (uint32_t)filter.shape[1];
    const uint64_t n_in = elements(&in);
    const uint64_t n_out = elements(&out);
    if (out.rank < 1 || out.shape[out.rank - 1] != (int32_t)units || n_out > 0x7FFFFFFFu) {
        return mcb_kernel_reject(ctx, node, "output's last dimension must be %u units", units, 0,
                                 0);
    }
    const uint32_t rows = (uint32_t)n_out / units; /* n_out < 2^31 */
    if (n_in != (uint64_t)rows * depth) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, %u rows of %u expected",
                                 (uint32_t)n_in, rows, depth);
    }
    if (has_bias && elements(&bias) != units) {
        return mcb_kernel_reject(ctx, node, "bias has %u elements, %u units",
                                 (uint32_t)elements(&bias), units, 0);
    }

    /* Quantisation: TFLM takes each tensor's first scale and zero point. */
    const float in_scale = mcb_quant_scale(&in.quant, 0);
    const float out_scale = mcb_quant_scale(&out.quant, 0);
    const int64_t in_zp = zero_point(&in);
    const int64_t filter_zp = zero_point(&filter);
    const int64_t out_zp = zero_point(&out);
    if (!(out_scale > 0.0f && out_scale <= FLT_MAX)) {
        return mcb_kernel_reject(ctx, node, "output scale must be positive", 0, 0, 0);
    }
    if (!is_int8(in_zp) || !is_int8(filter_zp) || !is_int8(out_zp)) {
        return mcb_kernel_reject(ctx, node, "zero points must be int8 (input %d, filter %d, "
                                 "output %d)", (uint32_t)in_zp, (uint32_t)filter_zp,
                                 (uint32_t)out_zp);
    }
    const bool per_channel = filter.quant.n_scales > 1;
    if (per_channel && (filter.quant.quantized_dimension != 0 || filter.quant.n_scales != units)) {
        return mcb_kernel_reject(ctx, node, "per-channel scales must run along units (dimension "
                                 "0), got dimension %d", (uint32_t)filter.quant.quantized_dimension,
                                 0, 0);
    }
    int32_t multiplier = 0;
    int32_t shift = 0;
    if (!per_channel) {
        /* The product in float, then widened: TFLM's GetQuantizedConvolutionMultipler. */
        const double product = (double)(in_scale * mcb_quant_scale(&filter.quant, 0));
        if (!(product >= 0.0)) {
            return mcb_kernel_reject(ctx, node, "input scale * filter scale is negative", 0, 0, 0);
        }
        if (has_bias) {
            const double diff = abs_d(product - (double)mcb_quant_scale(&bias.quant, 0));
            if (!(diff / (double)out_scale <= 0.02)) {
                return mcb_kernel_reject(ctx, node, "bias scale differs from input scale * "
                                         "filter scale", 0, 0, 0);
            }
        }
        if (mcb_quantize_multiplier(product / (double)out_scale, &multiplier, &shift) != MCB_OK) {
            return mcb_kernel_reject(ctx, node, "requantisation multiplier out of range", 0, 0, 0);
        }
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)act, out_scale, (int32_t)out_zp, INT8_MIN, INT8_MAX,
                             &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    /* No scratch; all persistent memory in one request (mcb/kernel.h). */
    const size_t channel_bytes = per_channel ? 2u * units * sizeof(int32_t) : 0u;
    fc_s8 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d + channel_bytes);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->input_offset = -(int32_t)in_zp;
    d->filter_offset = per_channel ? 0 : -(int32_t)filter_zp;
    d->output_offset = (int32_t)out_zp;
    d->act_min = act_min;
    d->act_max = act_max;
    d->rows = rows;
    d->depth = depth;
    d->units = units;
    d->multiplier = multiplier;
    d->shift = shift;
    d->per_channel = per_channel ? 1u : 0u;
    for (uint32_t c = 0; per_channel && c < units; c++) {
        const double real = (double)in_scale * (double)mcb_quant_scale(&filter.quant, c) /
                            (double)out_scale;
        if (mcb_quantize_multiplier(real, &d->channel_mult[c], &d->channel_mult[units + c]) !=
            MCB_OK) {
            return mcb_kernel_reject(ctx, node, "requantisation multiplier of channel %u out of "
                                     "range", c, 0, 0);
        }
    }
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_fully_connected_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const fc_s8 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, IN_INPUT);
    const int8_t *filter = mcb_kernel_input(ctx, node, IN_FILTER);
    const uint8_t *bias = mcb_kernel_input(ctx, node, IN_BIAS);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || filter == NULL || out == NULL ||
        (bias == NULL && mcb_kernel_has_input(node, IN_BIAS))) {
        return MCB_ERR_STATE;
    }
    const int32_t *shifts = d->per_channel ? &d->channel_mult[d->units] : NULL;
    for (uint32_t r = 0; r < d->rows; r++) {
        const int8_t *x = &in[(size_t)r * d->depth];
        for (uint32_t u = 0; u < d->units; u++) {
            const int8_t *w = &filter[(size_t)u * d->depth];
            /* Unsigned: TFLM's int32 accumulator wraps in practice; this wraps without UB. */
            uint32_t acc = 0;
            for (uint32_t i = 0; i < d->depth; i++) {
                acc += (uint32_t)((w[i] + d->filter_offset) * (x[i] + d->input_offset));
            }
            if (bias != NULL) {
                int32_t b;
                memcpy(&b, &bias[4u * u], sizeof b); /* constants need not be 4-byte aligned */
                acc += (uint32_t)b;
            }
            int32_t v = d->per_channel
                            ? mcb_multiply_by_quantized_multiplier((int32_t)acc,
                                                                   d->channel_mult[u], shifts[u])
                            : mcb_multiply_by_quantized_multiplier((int32_t)acc, d->multiplier,
                                                                   d->shift);
            v = (int32_t)((uint32_t)v + (uint32_t)d->output_offset);
            v = v < d->act_min ? d->act_min : v > d->act_max ? d->act_max : v;
            out[(size_t)r * d->units + u] = (int8_t)v;
        }
    }
    return MCB_OK;
}
