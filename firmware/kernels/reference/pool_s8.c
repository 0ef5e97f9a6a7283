/*
 * Prepare of the int8 pooling kernels, as TFLM's pooling_common.cc
 * (PoolingPrepare, CalculateOpDataPooling) and padding.h:
 * - output size: SAME ceil(in / stride), VALID (in - filter + stride) / stride;
 *   the model's output shape must agree (TFLM loops over the model's shape);
 * - padding: max(0, ((out - 1) * stride + filter - in) / 2), top / left;
 * - input and output scales within 1e-6, zero points equal (TFLM checks both);
 * - the fused activation as a clamp of the quantised output.
 */
#include "pool_s8.h"

#include "mcb/quant.h"

#define OPTIONS_POOL2D 5 /* BuiltinOptions.Pool2DOptions */
#define OPT_PADDING MCB_FB_SLOT(0)
#define OPT_STRIDE_W MCB_FB_SLOT(1)
#define OPT_STRIDE_H MCB_FB_SLOT(2)
#define OPT_FILTER_W MCB_FB_SLOT(3)
#define OPT_FILTER_H MCB_FB_SLOT(4)
#define OPT_ACTIVATION MCB_FB_SLOT(5)

#define PADDING_SAME 0
#define PADDING_VALID 1

/* ComputeOutSize; < 1 when the filter does not fit (VALID) */
static int32_t out_size(uint8_t padding, int32_t in, int32_t filter, int32_t stride)
{
    return padding == PADDING_SAME ? (in + stride - 1) / stride : (in + stride - filter) / stride;
}

/* ComputePadding with dilation 1 */
static int32_t pad_size(int32_t stride, int32_t in, int32_t filter, int32_t out)
{
    const int64_t p = ((int64_t)(out - 1) * stride + filter - in) / 2; /* may pass 2^31 */
    return p > 0 ? (int32_t)p : 0;
}

mcb_status mcb_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    uint8_t padding = 0;
    uint8_t act = 0;
    int32_t stride_w = 0;
    int32_t stride_h = 0;
    int32_t filter_w = 0;
    int32_t filter_h = 0;

    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (op.options_type != OPTIONS_POOL2D) {
        return mcb_kernel_reject(ctx, node, "options of type %u, Pool2DOptions expected",
                                 op.options_type, 0, 0);
    }
    if (mcb_fb_u8(&op.options, OPT_PADDING, 0, &padding) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_STRIDE_W, 0, &stride_w) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_STRIDE_H, 0, &stride_h) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_FILTER_W, 0, &filter_w) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_FILTER_H, 0, &filter_h) != MCB_OK ||
        mcb_fb_u8(&op.options, OPT_ACTIVATION, 0, &act) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (padding > PADDING_VALID) {
        return mcb_kernel_reject(ctx, node, "padding %u unknown", padding, 0, 0);
    }
    if (act > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", act, 0, 0);
    }
    /* Bounded so that no index arithmetic below can overflow. */
    if (stride_w < 1 || stride_h < 1 || filter_w < 1 || filter_h < 1 || stride_w > 0xFFFF ||
        stride_h > 0xFFFF || filter_w > 0xFFFF || filter_h > 0xFFFF) {
        return mcb_kernel_reject(ctx, node, "strides and filter sizes must be 1..65535", 0, 0, 0);
    }
    if ((int64_t)filter_w * filter_h > (INT64_C(1) << 24)) {
        /* a window sum of int8 would overflow TFLM's int32 accumulator */
        return mcb_kernel_reject(ctx, node, "filter of %u x %u elements too large",
                                 (uint32_t)filter_h, (uint32_t)filter_w, 0);
    }
    if (out.type != MCB_TYPE_INT8) {
        return mcb_kernel_reject(ctx, node, "output type %u, input INT8", out.type, 0, 0);
    }
    if (in.rank != 4u || out.rank != 4u) {
        return mcb_kernel_reject(ctx, node, "input and output must be 4-D (NHWC), ranks %u, %u",
                                 in.rank, out.rank, 0);
    }
    for (uint32_t i = 0; i < 4u; i++) {
        if (in.shape[i] > 0xFFFF || out.shape[i] > 0xFFFF) {
            return mcb_kernel_reject(ctx, node, "dimension over 65535", 0, 0, 0);
        }
    }
    if (in.shape[0] != out.shape[0] || in.shape[3] != out.shape[3]) {
        return mcb_kernel_reject(ctx, node, "batches and channels of input and output differ", 0,
                                 0, 0);
    }
    const int32_t oh = out_size(padding, in.shape[1], filter_h, stride_h);
    const int32_t ow = out_size(padding, in.shape[2], filter_w, stride_w);
    if (oh < 1 || ow < 1 || out.shape[1] != oh || out.shape[2] != ow) {
        return mcb_kernel_reject(ctx, node, "output must be %d x %d", (uint32_t)oh, (uint32_t)ow,
                                 0);
    }
    /* TFLM: same quantisation in and out (scales within 1e-6). */
    const double scale_diff =
        (double)mcb_quant_scale(&in.quant, 0) - (double)mcb_quant_scale(&out.quant, 0);
    if (!(scale_diff <= 1.0e-6 && scale_diff >= -1.0e-6) ||
        mcb_quant_zero_point(&in.quant, 0) != mcb_quant_zero_point(&out.quant, 0)) {
        return mcb_kernel_reject(ctx, node, "input and output quantisation differ", 0, 0, 0);
    }
    const int64_t zp = mcb_quant_zero_point(&out.quant, 0);
    if (zp < INT8_MIN || zp > INT8_MAX) {
        return mcb_kernel_reject(ctx, node, "zero point %d not int8", (uint32_t)zp, 0, 0);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)act, mcb_quant_scale(&out.quant, 0), (int32_t)zp,
                             INT8_MIN, INT8_MAX, &act_min, &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }

    mcb_pool_s8 *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->batches = in.shape[0];
    d->in_h = in.shape[1];
    d->in_w = in.shape[2];
    d->depth = in.shape[3];
    d->out_h = oh;
    d->out_w = ow;
    d->stride_h = stride_h;
    d->stride_w = stride_w;
    d->filter_h = filter_h;
    d->filter_w = filter_w;
    d->pad_h = pad_size(stride_h, in.shape[1], filter_h, oh);
    d->pad_w = pad_size(stride_w, in.shape[2], filter_w, ow);
    d->act_min = act_min;
    d->act_max = act_max;
    node->user_data = d;
    return MCB_OK;
}

/* One loop nest for both pools: the window's part inside the input, reduced by kind. */
mcb_status mcb_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node, mcb_pool_kind kind)
{
    const mcb_pool_s8 *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL) {
        return MCB_ERR_STATE;
    }
    if (d->batches == 0 || d->depth == 0) {
        return MCB_OK; /* nothing to pool; such tensors may have no data */
    }
    if (in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    for (int32_t b = 0; b < d->batches; b++) {
        for (int32_t oy = 0; oy < d->out_h; oy++) {
            const int32_t y0 = oy * d->stride_h - d->pad_h;
            const int32_t fy_start = y0 < 0 ? -y0 : 0;
            const int32_t fy_end =
                d->filter_h < d->in_h - y0 ? d->filter_h : d->in_h - y0;
            for (int32_t ox = 0; ox < d->out_w; ox++) {
                const int32_t x0 = ox * d->stride_w - d->pad_w;
                const int32_t fx_start = x0 < 0 ? -x0 : 0;
                const int32_t fx_end =
                    d->filter_w < d->in_w - x0 ? d->filter_w : d->in_w - x0;
                for (int32_t c = 0; c < d->depth; c++) {
                    /* Max starts from -128, so padding (never visited) never wins. */
                    int32_t acc = kind == MCB_POOL_MAX ? INT8_MIN : 0;
                    int32_t count = 0;
                    for (int32_t fy = fy_start; fy < fy_end; fy++) {
                        const size_t row = ((size_t)b * (size_t)d->in_h + (size_t)(y0 + fy)) *
                                           (size_t)d->in_w;
                        for (int32_t fx = fx_start; fx < fx_end; fx++) {
                            const int32_t v =
                                in[(row + (size_t)(x0 + fx)) * (size_t)d->depth + (size_t)c];
                            acc = kind == MCB_POOL_MAX ? (v > acc ? v : acc) : acc + v;
                            count++;
                        }
                    }
                    if (kind == MCB_POOL_AVERAGE) {
                        if (count == 0) {
                            return MCB_ERR_STATE; /* TFLM's AveragePool returns false too */
                        }
                        /* TFLM's rounding: half away from zero, 0 counted as negative. */
                        acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    }
                    acc = acc < d->act_min ? d->act_min : acc > d->act_max ? d->act_max : acc;
                    out[(((size_t)b * (size_t)d->out_h + (size_t)oy) * (size_t)d->out_w +
                         (size_t)ox) * (size_t)d->depth + (size_t)c] = (int8_t)acc;
                }
            }
        }
    }
    return MCB_OK;
}
