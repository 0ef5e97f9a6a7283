/*
 * CONV_2D, float32 input, filter [out_d, kh, kw, in_d / groups], optional
 * bias and output; strides, dilation, SAME / VALID padding, fused
 * activation, groups.
 *
 * Bit-exact with TFLM's reference_ops::Conv (float): one float accumulator
 * per output, the products added in its loop order (filter row, column,
 * input channel; padding skipped), then total + bias (0.0f without one) and
 * the clamp of CalculateActivationRange<float>. The product is its own
 * statement so that no compiler contracts it with the sum into an FMA
 * (TFLM's x86-64 build has none; GCC in ISO C mode does not contract
 * across statements, Clang's default only within one). Prepare:
 * conv_common.c.
 */
#include "conv_common.h"
#include "reference.h"

mcb_status mcb_conv_f32_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_conv_prepare_f32(ctx, node, false);
}

mcb_status mcb_conv_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_conv_io io;
    if (mcb_conv_io_get(ctx, node, &io) != MCB_OK) {
        return MCB_ERR_STATE;
    }
    const mcb_conv_params *p = io.p;
    const float *in = io.in;
    const float *filter = io.filter;
    float *out = io.out;
    const int32_t fd = p->filter_in_d;
    for (int32_t b = 0; b < p->batches; b++) {
        const float *in_b = &in[(size_t)b * (size_t)p->in_h * (size_t)p->in_w * (size_t)p->in_d];
        for (int32_t oy = 0; oy < p->out_h; oy++) {
            const int32_t y0 = oy * p->stride_h - p->pad_h;
            for (int32_t ox = 0; ox < p->out_w; ox++) {
                const int32_t x0 = ox * p->stride_w - p->pad_w;
                for (int32_t oc = 0; oc < p->out_d; oc++) {
                    const int32_t in_c0 = (oc / p->filters_per_group) * fd; /* the group's first channel */
                    const float *w = &filter[(size_t)oc * (size_t)p->k_h * (size_t)p->k_w * (size_t)fd];
                    float total = 0.0f;
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
                            const float *xv =
                                &in_b[((size_t)y * (size_t)p->in_w + (size_t)x) * (size_t)p->in_d +
                                      (size_t)in_c0];
                            const float *wv = &w[((size_t)ky * (size_t)p->k_w + (size_t)kx) * (size_t)fd];
                            for (int32_t ic = 0; ic < fd; ic++) {
                                const float product = xv[ic] * wv[ic];
                                total += product;
                            }
                        }
                    }
                    const float bias = io.bias != NULL ? mcb_conv_bias_f32(io.bias, oc) : 0.0f;
                    out[(((size_t)b * (size_t)p->out_h + (size_t)oy) * (size_t)p->out_w + (size_t)ox) *
                            (size_t)p->out_d + (size_t)oc] =
                        mcb_clamp_f32(total + bias, p->f_act_min, p->f_act_max);
                }
            }
        }
    }
    return MCB_OK;
}
