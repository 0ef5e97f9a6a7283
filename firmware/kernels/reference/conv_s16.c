/*
 * CONV_2D, int16 input and output, int8 filter [out_d, kh, kw, in_d / groups]
 * with per-tensor or per-channel (dimension 0) scales, optional int64 or
 * int32 bias; strides, dilation, SAME / VALID padding, fused activation,
 * groups (TFLM's 16x8 path).
 *
 * Bit-exact with TFLM's reference_integer_ops::ConvPerChannel for int16:
 * the loops run in its order, padding is skipped; no zero point enters the
 * arithmetic (input, filter and output ones are all ignored, as TFLM does).
 * The accumulator is int64 with an int64 bias or none, requantised by the
 * int64 MultiplyByQuantizedMultiplier; int32 (wrapping) with an int32 bias,
 * requantised by the int32 one. Kept in a uint64: its low 32 bits are the
 * int32 sum. Prepare: conv_common.c.
 */
#include "conv_common.h"
#include "reference.h"

mcb_status mcb_conv_s16_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_conv_prepare_s16(ctx, node, false);
}

mcb_status mcb_conv_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_conv_io io;
    if (mcb_conv_io_get(ctx, node, &io) != MCB_OK) {
        return MCB_ERR_STATE;
    }
    const mcb_conv_params *p = io.p;
    const int16_t *in = io.in;
    const int8_t *filter = io.filter;
    int16_t *out = io.out;
    const int32_t fd = p->filter_in_d;
    for (int32_t b = 0; b < p->batches; b++) {
        const int16_t *in_b = &in[(size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_d];
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->out_d; oc++) {
                    const int32_t in_c0 = (oc / p->filters_per_group) * fd; /* the group's first channel */
                    const int8_t *w = &filter[(size_t)oc * (size_t)p->k_h * (size_t)p->k_w * (size_t)fd];
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
                            const int16_t *xv =
                                &in_b[((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)p->in_d +
                                      (size_t)in_c0];
                            const int8_t *wv = &w[((size_t)ky * (size_t)p->k_w + (size_t)kx) * (size_t)fd];
                            for (int32_t ic = 0; ic < fd; ic++) {
                                acc += (uint64_t)(int64_t)(wv[ic] * xv[ic]); /* |product| < 2^22 */
                            }
                        }
                    }
                    if (io.bias != NULL) {
                        acc += p->acc32 ? (uint64_t)(int64_t)mcb_conv_bias(io.bias, oc)
                                        : (uint64_t)mcb_conv_bias64(io.bias, oc);
                    }
                    out[(((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w + (size_t)ox) *
                            (size_t)p->out_d + (size_t)oc] =
                        mcb_requantize_16x8(acc, p->acc32 != 0, p->channel_mult[oc],
                                            p->channel_mult[p->out_d + oc], 0, p->act_min,
                                            p->act_max);
                }
            }
        }
    }
    return MCB_OK;
}
