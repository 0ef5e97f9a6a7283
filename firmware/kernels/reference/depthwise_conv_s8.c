/*
 * DEPTHWISE_CONV_2D, int8 input and output, int8 filter [1, kh, kw, out_d]
 * with per-tensor or per-channel (dimension 3) scales, optional int32 bias;
 * depth multiplier (out_d = in_d * multiplier), strides, dilation, SAME /
 * VALID padding, fused activation.
 *
 * Bit-exact with TFLM's reference_integer_ops::DepthwiseConvPerChannel:
 * output channel m + in_c * multiplier reads input channel in_c only;
 * padding is skipped, the filter zero point ignored, the int32 accumulator
 * wraps (unsigned here, so no UB). Prepare: conv_common.c.
 */
#include "conv_common.h"
#include "reference.h"

mcb_status mcb_depthwise_conv_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_conv_prepare_s8(ctx, node, true);
}

mcb_status mcb_depthwise_conv_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_conv_io io;
    if (mcb_conv_io_get(ctx, node, &io) != MCB_OK) {
        return MCB_ERR_STATE;
    }
    const mcb_conv_params *p = io.p;
    const int8_t *in = io.in;
    const int8_t *filter = io.filter;
    const uint8_t *bias = io.bias;
    int8_t *out = io.out;
    for (int32_t b = 0; b < p->batches; b++) {
        const int8_t *in_b = &in[(size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_d];
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                int8_t *o = &out[(((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w +
                                  (size_t)ox) * (size_t)p->out_d];
                for (int32_t ic = 0; ic < p->in_d; ic++) {
                    for (int32_t m = 0; m < p->depth_multiplier; m++) {
                        const int32_t oc = m + ic * p->depth_multiplier;
                        uint32_t acc = 0;
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
                                acc += (uint32_t)(wv * (xv + p->input_offset));
                            }
                        }
                        if (bias != NULL) {
                            acc += (uint32_t)mcb_conv_bias(bias, oc);
                        }
                        o[oc] = mcb_conv_requantize(p, acc, oc);
                    }
                }
            }
        }
    }
    return MCB_OK;
}
