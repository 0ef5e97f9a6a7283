/*
 * DEPTHWISE_CONV_2D, int16 input and output, int8 filter [1, kh, kw, out_d]
 * with per-tensor or per-channel (dimension 3) scales, optional int64 bias;
 * depth multiplier (out_d = in_d * multiplier), strides, dilation, SAME /
 * VALID padding, fused activation (TFLM's 16x8 path).
 *
 * Bit-exact with TFLM's reference_integer_ops::DepthwiseConvPerChannel for
 * int16: output channel m + in_c * multiplier reads input channel in_c
 * only; padding is skipped; no zero point enters the arithmetic; an int64
 * accumulator (kept in a uint64, wrapping without UB) requantised by the
 * int64 MultiplyByQuantizedMultiplier. TFLM reads the bias as int64 whatever
 * its type, so prepare (conv_common.c) takes INT64 only.
 */
#include "conv_common.h"
#include "reference.h"

mcb_status mcb_depthwise_conv_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_conv_prepare_s16(ctx, node, true);
}

mcb_status mcb_depthwise_conv_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_conv_io io;
    if (mcb_conv_io_get(ctx, node, &io) != MCB_OK) {
        return MCB_ERR_STATE;
    }
    const mcb_conv_params *p = io.p;
    const int16_t *in = io.in;
    const int8_t *filter = io.filter;
    int16_t *out = io.out;
    for (int32_t b = 0; b < p->batches; b++) {
        const int16_t *in_b = &in[(size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_d];
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int16_t *o = &out[(((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w +
                                   (size_t)ox) * (size_t)p->out_d];
                for (int32_t ic = 0; ic < p->in_d; ic++) {
                    for (int32_t m = 0; m < p->depth_multiplier; m++) {
                        const int32_t oc = m + ic * p->depth_multiplier;
                        uint64_t acc = 0;
                        for (int32_t ky = 0; ky < p->k_h; ky++) {
                            const int32_t y = y0 + p->dil_h * ky;
                            if (y < 0 || y >= p->in_h) {
                                continue; /* zero padding: the term is left out */
                            }
                            for (int32_t kx = 0; kx < p->k_w; kx++) {
                                const int32_t x = x0 + p->dil_w * kx;
                                if (x < 0 || x >= p->in_w) {
                                    continue;
                                }
                                const int32_t xv =
                                    in_b[((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)p->in_d +
                                         (size_t)ic];
                                const int32_t wv =
                                    filter[((size_t)ky * (size_t)p->k_w + (size_t)kx) * (size_t)p->out_d +
                                           (size_t)oc];
                                acc += (uint64_t)(int64_t)(wv * xv);
                            }
                        }
                        if (io.bias != NULL) {
                            acc += (uint64_t)mcb_conv_bias64(io.bias, oc);
                        }
                        o[oc] = mcb_requantize_16x8(acc, false, p->channel_mult[oc],
                                                    p->channel_mult[p->out_d + oc], 0,
                                                    p->act_min, p->act_max);
                    }
                }
            }
        }
    }
    return MCB_OK;
}
