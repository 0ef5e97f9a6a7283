/*
 * AVERAGE_POOL_2D, int8, NHWC: bit-exact with TFLM's
 * reference_integer_ops::AveragePool. The mean of the window's part inside
 * the input (padding is not counted), rounded half away from zero as TFLM
 * does it: (sum +- count / 2) / count with C's truncating division, then the
 * activation clamp. Prepare: pool_s8.c.
 */
#include "pool_s8.h"
#include "reference.h"

mcb_status mcb_average_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_pool_s8_prepare(ctx, node);
}

mcb_status mcb_average_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
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
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (int32_t fy = fy_start; fy < fy_end; fy++) {
                        const size_t row = ((size_t)b * (size_t)d->in_h + (size_t)(y0 + fy)) *
                                           (size_t)d->in_w;
                        for (int32_t fx = fx_start; fx < fx_end; fx++) {
                            acc += in[(row + (size_t)(x0 + fx)) * (size_t)d->depth + (size_t)c];
                            count++;
                        }
                    }
                    if (count == 0) {
                        return MCB_ERR_STATE; /* TFLM's AveragePool returns false too */
                    }
                    /* TFLM's rounding: half away from zero, 0 counted as negative. */
                    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
                    acc = acc < d->act_min ? d->act_min : acc > d->act_max ? d->act_max : acc;
                    out[(((size_t)b * (size_t)d->out_h + (size_t)oy) * (size_t)d->out_w +
                         (size_t)ox) * (size_t)d->depth + (size_t)c] = (int8_t)acc;
                }
            }
        }
    }
    return MCB_OK;
}
