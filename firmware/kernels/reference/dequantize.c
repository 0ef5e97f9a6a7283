/*
 * DEQUANTIZE: int8, uint8 or int16 -> float32.
 *
 * As TFLM's dequantize_common.cc and reference_ops::Dequantize: with the
 * input's first scale and zero point (a per-channel input is dequantised
 * with channel 0's, as TFLM does), each output is
 * float(double(scale) * double(x - zero point)): the product in double,
 * rounded to float once. Other types fail TFLM's Prepare, and ours.
 */
#include "mcb/model_extra.h"
#include "reference.h"

typedef struct {
    double scale;
    uint32_t count;
    int32_t type;       /* mcb_tensor_type of the input */
    int32_t zero_point;
} dequantize_data;

mcb_status mcb_dequantize_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (in.type != MCB_TYPE_INT8 && in.type != MCB_TYPE_UINT8 && in.type != MCB_TYPE_INT16) {
        return mcb_kernel_reject(ctx, node, "input type %u not supported", in.type, 0, 0);
    }
    if (out.type != MCB_TYPE_FLOAT32) {
        return mcb_kernel_reject(ctx, node, "output type %u, FLOAT32 expected", out.type, 0, 0);
    }
    const uint32_t count = mcb_tensor_elements(&in);
    if (count != mcb_tensor_elements(&out)) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, output %u", count,
                                 mcb_tensor_elements(&out), 0);
    }
    const int64_t zp = mcb_quant_zero_point(&in.quant, 0);
    const bool is16 = in.type == MCB_TYPE_INT16;
    const int64_t zp_min = is16 ? INT16_MIN : in.type == MCB_TYPE_INT8 ? INT8_MIN : 0;
    const int64_t zp_max = is16 ? INT16_MAX : in.type == MCB_TYPE_INT8 ? INT8_MAX : UINT8_MAX;
    if (zp < zp_min || zp > zp_max) {
        return mcb_kernel_reject(ctx, node, "zero point %d out of the input type's range",
                                 (uint32_t)zp, 0, 0);
    }
    dequantize_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->scale = (double)mcb_quant_scale(&in.quant, 0);
    d->count = count;
    d->type = (int32_t)in.type;
    d->zero_point = (int32_t)zp;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_dequantize_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const dequantize_data *d = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->count != 0u)) {
        return MCB_ERR_STATE;
    }
    for (uint32_t i = 0; i < d->count; i++) {
        int32_t x;
        if (d->type == MCB_TYPE_INT8) {
            x = ((const int8_t *)in)[i];
        } else if (d->type == MCB_TYPE_UINT8) {
            x = ((const uint8_t *)in)[i];
        } else {
            x = ((const int16_t *)in)[i];
        }
        out[i] = (float)(d->scale * (double)(x - d->zero_point));
    }
    return MCB_OK;
}
