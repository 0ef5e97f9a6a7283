/*
 * Prepare of the convolutions (conv_common.h), as TFLM's ConvPrepare /
 * DepthwiseConvPrepare + PopulateConvolutionQuantizationParams do it:
 * - padding from ComputePaddingHeightWidth (padding.h): the output size
 *   TFLM computes for SAME / VALID only sets the padding; the loops run over
 *   the output tensor's own height and width, as TFLM's do;
 * - int8 and int16: one multiplier and shift per output channel from
 *   double(input_scale) * double(filter_scale) / double(output_scale), a
 *   per-tensor filter scale broadcast to every channel (so both are always
 *   the per-channel kernel, and the filter zero point is ignored); the
 *   fused activation as a clamp of the quantised output;
 * - int16 (TFLM's 16x8 path): the input and output zero points are ignored
 *   by the arithmetic, as TFLM's kernels ignore them (the output's still
 *   places the activation's clamp); the bias is int64 (int64 accumulator),
 *   int32 for CONV_2D only (int32 accumulator), or none (int64);
 * - float32: CalculateActivationRange<float>'s clamp, nothing else;
 * - no bias-scale check: TFLM checks it only for uint8 inputs.
 * What TFLM leaves to debug checks (ranks, matching batches and depths,
 * bias size, output depth = input depth * depth multiplier) is rejected
 * here, so a bad model cannot make invoke read or write out of bounds; so
 * is what TFLM would read wrongly (an int32 bias for int16 depthwise, read
 * as int64) or shift into undefined behaviour (multipliers >= 2^14 on the
 * int64 path).
 */
#include <float.h>
#include <string.h>

#include "conv_common.h"

#include "mcb/model_extra.h"
#include "mcb/quant.h"

#define OPTIONS_CONV_2D 1           /* BuiltinOptions.Conv2DOptions */
#define OPTIONS_DEPTHWISE_CONV_2D 2 /* BuiltinOptions.DepthwiseConv2DOptions */

#define PADDING_SAME 0 /* Padding enum of the schema */
#define PADDING_VALID 1

typedef struct {
    int8_t padding;
    uint8_t act;
    int32_t stride_w, stride_h;
    int32_t dil_w, dil_h;
    int32_t depth_multiplier;
} conv_options;

/* What prepare reads and checks whatever the type. */
typedef struct {
    mcb_tensor_info in;
    mcb_tensor_info filter;
    mcb_tensor_info bias;
    mcb_tensor_info out;
    bool has_bias;
    conv_options o;
    int32_t pad_h, pad_w;
    int32_t filters_per_group;
} conv_geometry;

static mcb_status read_options(const mcb_operator_info *op, bool depthwise, conv_options *o)
{
    /* Conv2DOptions: padding, stride_w, stride_h, activation, dilation_w, dilation_h.
     * DepthwiseConv2DOptions: the same with depth_multiplier after the strides. */
    const uint16_t dw = depthwise ? 1u : 0u;
    o->depth_multiplier = 0;
    if (mcb_fb_i8(&op->options, MCB_FB_SLOT(0), PADDING_SAME, &o->padding) != MCB_OK ||
        mcb_fb_i32(&op->options, MCB_FB_SLOT(1), 0, &o->stride_w) != MCB_OK ||
        mcb_fb_i32(&op->options, MCB_FB_SLOT(2), 0, &o->stride_h) != MCB_OK ||
        (depthwise &&
         mcb_fb_i32(&op->options, MCB_FB_SLOT(3), 0, &o->depth_multiplier) != MCB_OK) ||
        mcb_fb_u8(&op->options, MCB_FB_SLOT(3 + dw), 0, &o->act) != MCB_OK ||
        mcb_fb_i32(&op->options, MCB_FB_SLOT(4 + dw), 1, &o->dil_w) != MCB_OK ||
        mcb_fb_i32(&op->options, MCB_FB_SLOT(5 + dw), 1, &o->dil_h) != MCB_OK) {
        return MCB_ERR_FORMAT;
    }
    return MCB_OK;
}

/* Every dimension of a rank-4 tensor >= 1, and its size an int32. */
static bool rank4(const mcb_tensor_info *t)
{
    if (t->rank != 4) {
        return false;
    }
    for (uint32_t i = 0; i < 4; i++) {
        if (t->shape[i] < 1) {
            return false;
        }
    }
    return mcb_tensor_elements(t) > 0;
}

static bool is_int8(int64_t v)
{
    return v >= -128 && v <= 127;
}

static bool is_int16(int64_t v)
{
    return v >= INT16_MIN && v <= INT16_MAX;
}

/*
 * TFLM's ComputeOutSize + ComputePaddingWithOffset along one axis (C and C++
 * both truncate the division). Also checks that every input coordinate
 * invoke forms, out * stride - pad + k * dilation, fits an int32.
 */
static bool axis_padding(int8_t padding, int32_t in, int32_t k, int32_t stride, int32_t dil,
                         int32_t out, int32_t *pad)
{
    const int64_t effective = (int64_t)(k - 1) * dil + 1;
    const int64_t computed_out = padding == PADDING_SAME ? ((int64_t)in + stride - 1) / stride
                                                        : ((int64_t)in + stride - effective) / stride;
    int64_t total = (computed_out - 1) * stride + effective - in;
    total = total > 0 ? total : 0;
    const int64_t p = total / 2;
    const int64_t last_origin = (int64_t)(out - 1) * stride;
    if (p > INT32_MAX || last_origin > INT32_MAX || effective > INT32_MAX ||
        last_origin - p + effective - 1 > INT32_MAX) {
        return false;
    }
    *pad = (int32_t)p;
    return true;
}

/* Output, filter and bias types the input type goes with (TFLM's hybrid check and kernels). */
static mcb_status check_types(mcb_interpreter *ctx, const mcb_node *node, bool depthwise,
                              mcb_tensor_type in_type, const conv_geometry *g)
{
    const mcb_tensor_type filter_type = in_type == MCB_TYPE_FLOAT32 ? MCB_TYPE_FLOAT32
                                                                    : MCB_TYPE_INT8;
    if (g->out.type != in_type) {
        return mcb_kernel_reject(ctx, node, "output type %u, input type %u", g->out.type,
                                 in_type, 0);
    }
    if (g->filter.type != filter_type) {
        return mcb_kernel_reject(ctx, node, filter_type == MCB_TYPE_INT8
                                                ? "filter type %u not supported (INT8 only)"
                                                : "filter type %u not supported (FLOAT32 only)",
                                 g->filter.type, 0, 0);
    }
    if (!g->has_bias) {
        return MCB_OK;
    }
    const mcb_tensor_type b = g->bias.type;
    switch (in_type) {
    case MCB_TYPE_INT8:
        if (b != MCB_TYPE_INT32) {
            return mcb_kernel_reject(ctx, node, "bias type %u, expected INT32", b, 0, 0);
        }
        break;
    case MCB_TYPE_INT16:
        /* TFLM's depthwise 16x8 kernel reads every bias as int64. */
        if (depthwise && b != MCB_TYPE_INT64) {
            return mcb_kernel_reject(ctx, node, "bias type %u, expected INT64", b, 0, 0);
        }
        if (b != MCB_TYPE_INT64 && b != MCB_TYPE_INT32) {
            return mcb_kernel_reject(ctx, node, "bias type %u, expected INT64 or INT32", b, 0,
                                     0);
        }
        break;
    default:
        if (b != MCB_TYPE_FLOAT32) {
            return mcb_kernel_reject(ctx, node, "bias type %u, expected FLOAT32", b, 0, 0);
        }
        break;
    }
    return MCB_OK;
}

static mcb_status read_geometry(mcb_interpreter *ctx, mcb_node *node, bool depthwise,
                                mcb_tensor_type in_type, conv_geometry *g)
{
    mcb_operator_info op;
    conv_options *o = &g->o;
    g->has_bias = mcb_kernel_has_input(node, MCB_CONV_IN_BIAS);

    if (node->n_outputs != 1 || node->n_inputs < 2 || node->n_inputs > 3 ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_CONV_IN_INPUT, &g->in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_CONV_IN_FILTER, &g->filter) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &g->out) != MCB_OK ||
        (g->has_bias && mcb_kernel_input_info(ctx, node, MCB_CONV_IN_BIAS, &g->bias) != MCB_OK)) {
        return mcb_kernel_reject(ctx, node, "needs an input, a filter, an optional bias and "
                                 "one output", 0, 0, 0);
    }
    const uint8_t options_type = depthwise ? OPTIONS_DEPTHWISE_CONV_2D : OPTIONS_CONV_2D;
    if (op.options_type != 0 && op.options_type != options_type) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (read_options(&op, depthwise, o) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (o->act > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", o->act, 0, 0);
    }
    if (o->padding != PADDING_SAME && o->padding != PADDING_VALID) {
        return mcb_kernel_reject(ctx, node, "padding %d unknown", (uint32_t)o->padding, 0, 0);
    }
    if (o->stride_w < 1 || o->stride_h < 1 || o->dil_w < 1 || o->dil_h < 1) {
        return mcb_kernel_reject(ctx, node, "strides and dilations must be >= 1", 0, 0, 0);
    }
    const mcb_status types = check_types(ctx, node, depthwise, in_type, g);
    if (types != MCB_OK) {
        return types;
    }

    /* Shapes: NHWC input and output; filter [out_d, kh, kw, in_d / groups] or [1, kh, kw, out_d]. */
    const mcb_tensor_info *in = &g->in;
    const mcb_tensor_info *filter = &g->filter;
    const mcb_tensor_info *out = &g->out;
    if (!rank4(in) || !rank4(filter) || !rank4(out)) {
        return mcb_kernel_reject(ctx, node, "input, filter and output must be 4-D and "
                                 "non-empty", 0, 0, 0);
    }
    const int32_t in_d = in->shape[3];
    const int32_t out_d = out->shape[3];
    if (in->shape[0] != out->shape[0]) {
        return mcb_kernel_reject(ctx, node, "batches differ: input %u, output %u",
                                 (uint32_t)in->shape[0], (uint32_t)out->shape[0], 0);
    }
    g->filters_per_group = 0;
    if (depthwise) {
        if (filter->shape[0] != 1 || filter->shape[3] != out_d) {
            return mcb_kernel_reject(ctx, node, "filter must be [1, h, w, %u]", (uint32_t)out_d,
                                     0, 0);
        }
        if ((int64_t)o->depth_multiplier * in_d != out_d) {
            return mcb_kernel_reject(ctx, node, "output depth %u != input depth %u * depth "
                                     "multiplier %d", (uint32_t)out_d, (uint32_t)in_d,
                                     (uint32_t)o->depth_multiplier);
        }
    } else {
        if (filter->shape[0] != out_d) {
            return mcb_kernel_reject(ctx, node, "filter has %u output channels, output %u",
                                     (uint32_t)filter->shape[0], (uint32_t)out_d, 0);
        }
        /* Grouped convolution, as TFLM's kernel: groups = in_d / filter depth. */
        const int32_t groups = in_d / filter->shape[3];
        if (in_d % filter->shape[3] != 0 || out_d % groups != 0) {
            return mcb_kernel_reject(ctx, node, "groups: filter depth %u, input depth %u, "
                                     "output depth %u", (uint32_t)filter->shape[3],
                                     (uint32_t)in_d, (uint32_t)out_d);
        }
        g->filters_per_group = out_d / groups;
    }
    if (g->has_bias && (int64_t)mcb_tensor_elements(&g->bias) != out_d) {
        return mcb_kernel_reject(ctx, node, "bias must have %u elements", (uint32_t)out_d, 0, 0);
    }
    if (!axis_padding(o->padding, in->shape[1], filter->shape[1], o->stride_h, o->dil_h,
                      out->shape[1], &g->pad_h) ||
        !axis_padding(o->padding, in->shape[2], filter->shape[2], o->stride_w, o->dil_w,
                      out->shape[2], &g->pad_w)) {
        return mcb_kernel_reject(ctx, node, "strides, dilations or padding out of range", 0, 0,
                                 0);
    }
    return MCB_OK;
}

/* Geometry into the parameters; the type's own fields are zeroed. */
static void fill_geometry(mcb_conv_params *p, const conv_geometry *g)
{
    p->input_offset = 0;
    p->output_offset = 0;
    p->act_min = 0;
    p->act_max = 0;
    p->f_act_min = 0.0f;
    p->f_act_max = 0.0f;
    p->acc32 = 0;
    p->batches = g->in.shape[0];
    p->in_h = g->in.shape[1];
    p->in_w = g->in.shape[2];
    p->in_d = g->in.shape[3];
    p->out_h = g->out.shape[1];
    p->out_w = g->out.shape[2];
    p->out_d = g->out.shape[3];
    p->k_h = g->filter.shape[1];
    p->k_w = g->filter.shape[2];
    p->stride_h = g->o.stride_h;
    p->stride_w = g->o.stride_w;
    p->dil_h = g->o.dil_h;
    p->dil_w = g->o.dil_w;
    p->pad_h = g->pad_h;
    p->pad_w = g->pad_w;
    p->filter_in_d = g->filter.shape[3];
    p->filters_per_group = g->filters_per_group;
    p->depth_multiplier = g->o.depth_multiplier;
}

/* Input and filter quantised, filter scales one or one per output channel, output scale > 0. */
static mcb_status check_quantisation(mcb_interpreter *ctx, const mcb_node *node,
                                     const conv_geometry *g)
{
    const uint32_t n_scales = g->filter.quant.n_scales;
    const int32_t out_d = g->out.shape[3];
    if (g->in.quant.n_scales == 0 || n_scales == 0) {
        return mcb_kernel_reject(ctx, node, "input and filter must be quantised", 0, 0, 0);
    }
    if (n_scales > 1 && (n_scales != (uint32_t)out_d ||
                         g->filter.shape[g->filter.quant.quantized_dimension] != out_d)) {
        return mcb_kernel_reject(ctx, node, "%u filter scales for %u output channels", n_scales,
                                 (uint32_t)out_d, 0);
    }
    const float out_scale = mcb_quant_scale(&g->out.quant, 0);
    if (!(out_scale > 0.0f && out_scale <= FLT_MAX)) {
        return mcb_kernel_reject(ctx, node, "output scale must be positive", 0, 0, 0);
    }
    return MCB_OK;
}

/* PopulateConvolutionQuantizationParams' per-channel multipliers, shifts at most max_shift. */
static mcb_status channel_multipliers(mcb_interpreter *ctx, const mcb_node *node,
                                      const conv_geometry *g, int32_t max_shift,
                                      mcb_conv_params *p)
{
    const float in_scale = mcb_quant_scale(&g->in.quant, 0);
    const float out_scale = mcb_quant_scale(&g->out.quant, 0);
    const uint32_t n_scales = g->filter.quant.n_scales;
    const int32_t out_d = p->out_d;
    for (int32_t c = 0; c < out_d; c++) {
        const float filter_scale =
            mcb_quant_scale(&g->filter.quant, n_scales > 1 ? (uint32_t)c : 0u);
        const double real = (double)in_scale * (double)filter_scale / (double)out_scale;
        if (mcb_quantize_multiplier(real, &p->channel_mult[c], &p->channel_mult[out_d + c]) !=
                MCB_OK ||
            p->channel_mult[out_d + c] > max_shift) {
            return mcb_kernel_reject(ctx, node, "requantisation multiplier of channel %u out of "
                                     "range", (uint32_t)c, 0, 0);
        }
    }
    return MCB_OK;
}

mcb_status mcb_conv_prepare_s8(mcb_interpreter *ctx, mcb_node *node, bool depthwise)
{
    conv_geometry g;
    mcb_status st = read_geometry(ctx, node, depthwise, MCB_TYPE_INT8, &g);
    if (st != MCB_OK) {
        return st;
    }
    st = check_quantisation(ctx, node, &g);
    if (st != MCB_OK) {
        return st;
    }
    const float out_scale = mcb_quant_scale(&g.out.quant, 0);
    const int64_t in_zp = mcb_quant_zero_point(&g.in.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&g.out.quant, 0);
    if (!is_int8(in_zp) || !is_int8(out_zp)) {
        return mcb_kernel_reject(ctx, node, "zero points must be int8 (input %d, output %d)",
                                 (uint32_t)in_zp, (uint32_t)out_zp, 0);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)g.o.act, out_scale, (int32_t)out_zp, INT8_MIN,
                             INT8_MAX, &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    /* No scratch; all persistent memory in one request (mcb/kernel.h). */
    const int32_t out_d = g.out.shape[3];
    mcb_conv_params *p =
        mcb_kernel_alloc_persistent(ctx, sizeof *p + 2u * (size_t)out_d * sizeof(int32_t));
    if (p == NULL) {
        return MCB_ERR_RANGE;
    }
    fill_geometry(p, &g);
    p->input_offset = -(int32_t)in_zp;
    p->output_offset = (int32_t)out_zp;
    p->act_min = act_min;
    p->act_max = act_max;
    st = channel_multipliers(ctx, node, &g, 30, p);
    if (st != MCB_OK) {
        return st;
    }
    node->user_data = p;
    return MCB_OK;
}

mcb_status mcb_conv_prepare_s16(mcb_interpreter *ctx, mcb_node *node, bool depthwise)
{
    conv_geometry g;
    mcb_status st = read_geometry(ctx, node, depthwise, MCB_TYPE_INT16, &g);
    if (st != MCB_OK) {
        return st;
    }
    st = check_quantisation(ctx, node, &g);
    if (st != MCB_OK) {
        return st;
    }
    const float out_scale = mcb_quant_scale(&g.out.quant, 0);
    const int64_t in_zp = mcb_quant_zero_point(&g.in.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&g.out.quant, 0);
    if (!is_int16(in_zp) || !is_int16(out_zp)) {
        return mcb_kernel_reject(ctx, node, "zero points must be int16 (input %d, output %d)",
                                 (uint32_t)in_zp, (uint32_t)out_zp, 0);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)g.o.act, out_scale, (int32_t)out_zp, INT16_MIN,
                             INT16_MAX, &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    const int32_t out_d = g.out.shape[3];
    mcb_conv_params *p =
        mcb_kernel_alloc_persistent(ctx, sizeof *p + 2u * (size_t)out_d * sizeof(int32_t));
    if (p == NULL) {
        return MCB_ERR_RANGE;
    }
    fill_geometry(p, &g);
    p->act_min = act_min;
    p->act_max = act_max;
    p->acc32 = g.has_bias && g.bias.type == MCB_TYPE_INT32 ? 1 : 0;
    st = channel_multipliers(ctx, node, &g, p->acc32 ? 30 : MCB_S64_SHIFT_MAX, p);
    if (st != MCB_OK) {
        return st;
    }
    node->user_data = p;
    return MCB_OK;
}

mcb_status mcb_conv_prepare_f32(mcb_interpreter *ctx, mcb_node *node, bool depthwise)
{
    conv_geometry g;
    const mcb_status st = read_geometry(ctx, node, depthwise, MCB_TYPE_FLOAT32, &g);
    if (st != MCB_OK) {
        return st;
    }
    mcb_conv_params *p = mcb_kernel_alloc_persistent(ctx, sizeof *p);
    if (p == NULL) {
        return MCB_ERR_RANGE;
    }
    fill_geometry(p, &g);
    mcb_activation_range_f32(g.o.act, &p->f_act_min, &p->f_act_max);
    node->user_data = p;
    return MCB_OK;
}

void mcb_activation_range_f32(uint8_t act, float *lo, float *hi)
{
    switch (act) {
    case MCB_ACT_RELU:
        *lo = 0.0f;
        *hi = FLT_MAX;
        break;
    case MCB_ACT_RELU6:
        *lo = 0.0f;
        *hi = 6.0f;
        break;
    case MCB_ACT_RELU_N1_TO_1:
        *lo = -1.0f;
        *hi = 1.0f;
        break;
    default: /* NONE, TANH, SIGN_BIT: the whole finite range (infinities are clamped) */
        *lo = -FLT_MAX;
        *hi = FLT_MAX;
        break;
    }
}

int32_t mcb_conv_bias(const uint8_t *bias, int32_t c)
{
    const uint8_t *b = &bias[4 * (size_t)c];
    return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24);
}

int64_t mcb_conv_bias64(const uint8_t *bias, int32_t c)
{
    const uint8_t *b = &bias[8 * (size_t)c];
    uint64_t v = 0;
    for (uint32_t i = 8; i-- > 0;) {
        v = v << 8 | b[i];
    }
    return (int64_t)v; /* two's complement on every target */
}

float mcb_conv_bias_f32(const uint8_t *bias, int32_t c)
{
    const uint32_t bits = (uint32_t)mcb_conv_bias(bias, c);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

int8_t mcb_conv_requantize(const mcb_conv_params *p, uint32_t acc, int32_t channel)
{
    int32_t v = mcb_multiply_by_quantized_multiplier(
        (int32_t)acc, p->channel_mult[channel], p->channel_mult[p->out_d + channel]);
    v = (int32_t)((uint32_t)v + (uint32_t)p->output_offset); /* wraps like TFLM's int32 add */
    v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
    return (int8_t)v;
}

int32_t mcb_multiply_by_quantized_multiplier_s64(uint64_t x, int32_t multiplier, int32_t shift)
{
    /* multiplier in [0, 2^31): rounded to 15 bits and a sign, saturating at 0x7FFF. */
    const int64_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int32_t total_shift = 15 - shift; /* 1..46 for shift in [-31, 14] */
    const uint64_t v = x * (uint64_t)reduced + (UINT64_C(1) << (total_shift - 1));
    /* >> on a negative int64 is arithmetic on every compiler we target (GCC, Clang). */
    return (int32_t)(uint32_t)(uint64_t)((int64_t)v >> total_shift);
}

int16_t mcb_requantize_16x8(uint64_t acc, bool acc32, int32_t multiplier, int32_t shift,
                            int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int32_t v = acc32 ? mcb_multiply_by_quantized_multiplier((int32_t)(uint32_t)acc, multiplier,
                                                             shift)
                      : mcb_multiply_by_quantized_multiplier_s64(acc, multiplier, shift);
    v = (int32_t)((uint32_t)v + (uint32_t)output_offset);
    v = v < act_min ? act_min : v > act_max ? act_max : v;
    return (int16_t)v;
}

mcb_status mcb_conv_io_get(mcb_interpreter *ctx, mcb_node *node, mcb_conv_io *io)
{
    io->p = node->user_data;
    io->in = mcb_kernel_input(ctx, node, MCB_CONV_IN_INPUT);
    io->filter = mcb_kernel_input(ctx, node, MCB_CONV_IN_FILTER);
    io->bias = mcb_kernel_input(ctx, node, MCB_CONV_IN_BIAS);
    io->out = mcb_kernel_output(ctx, node, 0);
    if (io->p == NULL || io->in == NULL || io->filter == NULL || io->out == NULL ||
        (io->bias == NULL && mcb_kernel_has_input(node, MCB_CONV_IN_BIAS))) {
        return MCB_ERR_STATE;
    }
    return MCB_OK;
}
