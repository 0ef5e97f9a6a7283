/*
 * Prepare of the int8 convolutions (conv_common.h), as TFLM's ConvPrepare /
 * DepthwiseConvPrepare + PopulateConvolutionQuantizationParams do it:
 * - padding from ComputePaddingHeightWidth (padding.h): the output size
 *   TFLM computes for SAME / VALID only sets the padding; the loops run over
 *   the output tensor's own height and width, as TFLM's do;
 * - one multiplier and shift per output channel from
 *   double(input_scale) * double(filter_scale) / double(output_scale), a
 *   per-tensor filter scale broadcast to every channel (so conv int8 is
 *   always the per-channel kernel, and the filter zero point is ignored);
 * - no bias-scale check: TFLM checks it only for uint8 inputs;
 * - the fused activation as a clamp of the quantised output.
 * What TFLM leaves to debug checks (ranks, matching batches and depths,
 * bias size, output depth = input depth * depth multiplier) is rejected
 * here, so a bad model cannot make invoke read or write out of bounds.
 */
#include <float.h>

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

/* Elements of a tensor, -1 past an int32. */
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

mcb_status mcb_conv_prepare_s8(mcb_interpreter *ctx, mcb_node *node, bool depthwise)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info filter;
    mcb_tensor_info bias;
    mcb_tensor_info out;
    conv_options o;
    const bool has_bias = mcb_kernel_has_input(node, MCB_CONV_IN_BIAS);

    if (node->n_outputs != 1 || node->n_inputs < 2 || node->n_inputs > 3 ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_CONV_IN_INPUT, &in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, MCB_CONV_IN_FILTER, &filter) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK ||
        (has_bias && mcb_kernel_input_info(ctx, node, MCB_CONV_IN_BIAS, &bias) != MCB_OK)) {
        return mcb_kernel_reject(ctx, node, "needs an input, a filter, an optional bias and "
                                 "one output", 0, 0, 0);
    }
    const uint8_t options_type = depthwise ? OPTIONS_DEPTHWISE_CONV_2D : OPTIONS_CONV_2D;
    if (op.options_type != 0 && op.options_type != options_type) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (read_options(&op, depthwise, &o) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (o.act > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", o.act, 0, 0);
    }
    if (o.padding != PADDING_SAME && o.padding != PADDING_VALID) {
        return mcb_kernel_reject(ctx, node, "padding %d unknown", (uint32_t)o.padding, 0, 0);
    }
    if (o.stride_w < 1 || o.stride_h < 1 || o.dil_w < 1 || o.dil_h < 1) {
        return mcb_kernel_reject(ctx, node, "strides and dilations must be >= 1", 0, 0, 0);
    }

    /* Types: TFLM's int8 path (int4 filters are not supported here). */
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

    /* Shapes: NHWC input and output; filter [out_d, kh, kw, in_d / groups] or [1, kh, kw, out_d]. */
    if (!rank4(&in) || !rank4(&filter) || !rank4(&out)) {
        return mcb_kernel_reject(ctx, node, "input, filter and output must be 4-D and "
                                 "non-empty", 0, 0, 0);
    }
    const int32_t in_d = in.shape[3];
    const int32_t out_d = out.shape[3];
    if (in.shape[0] != out.shape[0]) {
        return mcb_kernel_reject(ctx, node, "batches differ: input %u, output %u",
                                 (uint32_t)in.shape[0], (uint32_t)out.shape[0], 0);
    }
    int32_t filters_per_group = 0;
    if (depthwise) {
        if (filter.shape[0] != 1 || filter.shape[3] != out_d) {
            return mcb_kernel_reject(ctx, node, "filter must be [1, h, w, %u]", (uint32_t)out_d,
                                     0, 0);
        }
        if ((int64_t)o.depth_multiplier * in_d != out_d) {
            return mcb_kernel_reject(ctx, node, "output depth %u != input depth %u * depth "
                                     "multiplier %d", (uint32_t)out_d, (uint32_t)in_d,
                                     (uint32_t)o.depth_multiplier);
        }
    } else {
        if (filter.shape[0] != out_d) {
            return mcb_kernel_reject(ctx, node, "filter has %u output channels, output %u",
                                     (uint32_t)filter.shape[0], (uint32_t)out_d, 0);
        }
        /* Grouped convolution, as TFLM's kernel: groups = in_d / filter depth. */
        const int32_t groups = in_d / filter.shape[3];
        if (in_d % filter.shape[3] != 0 || out_d % groups != 0) {
            return mcb_kernel_reject(ctx, node, "groups: filter depth %u, input depth %u, "
                                     "output depth %u", (uint32_t)filter.shape[3], (uint32_t)in_d,
                                     (uint32_t)out_d);
        }
        filters_per_group = out_d / groups;
    }
    if (has_bias && (int64_t)mcb_tensor_elements(&bias) != out_d) {
        return mcb_kernel_reject(ctx, node, "bias must have %u elements", (uint32_t)out_d, 0, 0);
    }
    int32_t pad_h;
    int32_t pad_w;
    if (!axis_padding(o.padding, in.shape[1], filter.shape[1], o.stride_h, o.dil_h, out.shape[1],
                      &pad_h) ||
        !axis_padding(o.padding, in.shape[2], filter.shape[2], o.stride_w, o.dil_w, out.shape[2],
                      &pad_w)) {
        return mcb_kernel_reject(ctx, node, "strides, dilations or padding out of range", 0, 0,
                                 0);
    }

    /* Quantisation: input and filter must be quantised (TFLM's affine check). */
    const uint32_t n_scales = filter.quant.n_scales;
    if (in.quant.n_scales == 0 || n_scales == 0) {
        return mcb_kernel_reject(ctx, node, "input and filter must be quantised", 0, 0, 0);
    }
    if (n_scales > 1 && (n_scales != (uint32_t)out_d ||
                         filter.shape[filter.quant.quantized_dimension] != out_d)) {
        return mcb_kernel_reject(ctx, node, "%u filter scales for %u output channels", n_scales,
                                 (uint32_t)out_d, 0);
    }
    const float in_scale = mcb_quant_scale(&in.quant, 0);
    const float out_scale = mcb_quant_scale(&out.quant, 0);
    const int64_t in_zp = mcb_quant_zero_point(&in.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&out.quant, 0);
    if (!(out_scale > 0.0f && out_scale <= FLT_MAX)) {
        return mcb_kernel_reject(ctx, node, "output scale must be positive", 0, 0, 0);
    }
    if (!is_int8(in_zp) || !is_int8(out_zp)) {
        return mcb_kernel_reject(ctx, node, "zero points must be int8 (input %d, output %d)",
                                 (uint32_t)in_zp, (uint32_t)out_zp, 0);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)o.act, out_scale, (int32_t)out_zp, INT8_MIN,
                             INT8_MAX, &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    /* No scratch; all persistent memory in one request (mcb/kernel.h). */
    mcb_conv_params *p =
        mcb_kernel_alloc_persistent(ctx, sizeof *p + 2u * (size_t)out_d * sizeof(int32_t));
    if (p == NULL) {
        return MCB_ERR_RANGE;
    }
    p->input_offset = -(int32_t)in_zp;
    p->output_offset = (int32_t)out_zp;
    p->act_min = act_min;
    p->act_max = act_max;
    p->batches = in.shape[0];
    p->in_h = in.shape[1];
    p->in_w = in.shape[2];
    p->in_d = in_d;
    p->out_h = out.shape[1];
    p->out_w = out.shape[2];
    p->out_d = out_d;
    p->k_h = filter.shape[1];
    p->k_w = filter.shape[2];
    p->stride_h = o.stride_h;
    p->stride_w = o.stride_w;
    p->dil_h = o.dil_h;
    p->dil_w = o.dil_w;
    p->pad_h = pad_h;
    p->pad_w = pad_w;
    p->filter_in_d = filter.shape[3];
    p->filters_per_group = filters_per_group;
    p->depth_multiplier = o.depth_multiplier;
    for (int32_t c = 0; c < out_d; c++) {
        const float filter_scale = mcb_quant_scale(&filter.quant, n_scales > 1 ? (uint32_t)c : 0u);
        const double real = (double)in_scale * (double)filter_scale / (double)out_scale;
        if (mcb_quantize_multiplier(real, &p->channel_mult[c], &p->channel_mult[out_d + c]) !=
            MCB_OK) {
            return mcb_kernel_reject(ctx, node, "requantisation multiplier of channel %u out of "
                                     "range", (uint32_t)c, 0, 0);
        }
    }
    node->user_data = p;
    return MCB_OK;
}

int32_t mcb_conv_bias(const uint8_t *bias, int32_t c)
{
    const uint8_t *b = &bias[4 * (size_t)c];
    return (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                     (uint32_t)b[3] << 24);
}

int8_t mcb_conv_requantize(const mcb_conv_params *p, uint32_t acc, int32_t channel)
{
    int32_t v = mcb_multiply_by_quantized_multiplier(
        (int32_t)acc, p->channel_mult[channel], p->channel_mult[p->out_d + channel]);
    v = (int32_t)((uint32_t)v + (uint32_t)p->output_offset); /* wraps like TFLM's int32 add */
    v = v < p->act_min ? p->act_min : v > p->act_max ? p->act_max : v;
    return (int8_t)v;
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
