/*
 * QUANTIZE: float32 -> int8 / int16, and requantisation between integer
 * types, exactly the pairs TFLM's quantize_common.cc evaluates:
 * int8 -> int8 / uint8 / int16 / int32, uint8 -> int8,
 * int16 -> int8 / int16 / int32, int32 -> int8 / int16.
 * Other pairs (float32 -> uint8, uint8 -> uint8, ...) fail in TFLM's Eval;
 * we reject them in prepare.
 *
 * As TFLM: the output must be quantised per tensor (one scale).
 * - float input (reference_ops::AffineQuantize): round(x / scale) in float,
 *   std::round's ties away from zero, plus the zero point, clamped to the
 *   output type. Where x / scale does not fit an int32, TFLM's float-to-int
 *   conversion is undefined (x86 gives INT32_MIN, so +huge -> -128); we
 *   saturate, as Arm's conversion does.
 * - integer input (reference_ops::Requantize): multiplier and shift from
 *   double(input scale) / double(output scale) (QuantizeMultiplier), then
 *   (x - input zero point) rescaled plus the output zero point, clamped. Its
 *   int8 <-> uint8 fast path (x ^ 0x80) gives the same bytes as the general
 *   formula, so it is not a separate case here.
 */
#include <float.h>

#include "elementwise_common.h"
#include "mcb/model_extra.h"
#include "mcb/quant.h"
#include "reference.h"

typedef struct {
    uint32_t count;
    int32_t in_type;  /* mcb_tensor_type */
    int32_t out_type;
    float scale;      /* float input: the output's scale */
    int32_t input_zero_point;
    int32_t output_zero_point;
    int32_t multiplier; /* integer input */
    int32_t shift;
} quantize_data;

static bool supported(mcb_tensor_type in, mcb_tensor_type out)
{
    switch (in) {
    case MCB_TYPE_FLOAT32:
        return out == MCB_TYPE_INT8 || out == MCB_TYPE_INT16;
    case MCB_TYPE_INT8:
        return out == MCB_TYPE_INT8 || out == MCB_TYPE_UINT8 || out == MCB_TYPE_INT16 ||
               out == MCB_TYPE_INT32;
    case MCB_TYPE_UINT8:
        return out == MCB_TYPE_INT8;
    case MCB_TYPE_INT16:
        return out == MCB_TYPE_INT8 || out == MCB_TYPE_INT16 || out == MCB_TYPE_INT32;
    case MCB_TYPE_INT32:
        return out == MCB_TYPE_INT8 || out == MCB_TYPE_INT16;
    default:
        return false;
    }
}

/* The integer type's range (int32 for anything else). */
static void type_range(int32_t type, int32_t *lo, int32_t *hi)
{
    switch (type) {
    case MCB_TYPE_INT8:
        *lo = INT8_MIN;
        *hi = INT8_MAX;
        break;
    case MCB_TYPE_UINT8:
        *lo = 0;
        *hi = UINT8_MAX;
        break;
    case MCB_TYPE_INT16:
        *lo = INT16_MIN;
        *hi = INT16_MAX;
        break;
    default:
        *lo = INT32_MIN;
        *hi = INT32_MAX;
        break;
    }
}

static bool zero_point_fits(int64_t zp, int32_t type)
{
    int32_t lo;
    int32_t hi;
    type_range(type, &lo, &hi);
    return zp >= lo && zp <= hi;
}

mcb_status mcb_quantize_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    if (node->n_inputs != 1u || node->n_outputs != 1u ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs one input and one output", 0, 0, 0);
    }
    if (out.quant.n_scales != 1u) {
        return mcb_kernel_reject(ctx, node, "output must be quantised per tensor, has %u "
                                 "scales", out.quant.n_scales, 0, 0);
    }
    if (!supported(in.type, out.type)) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u not supported",
                                 in.type, out.type, 0);
    }
    const uint32_t count = mcb_tensor_elements(&in);
    if (count != mcb_tensor_elements(&out)) {
        return mcb_kernel_reject(ctx, node, "input has %u elements, output %u", count,
                                 mcb_tensor_elements(&out), 0);
    }
    const float out_scale = mcb_quant_scale(&out.quant, 0);
    const int64_t out_zp = mcb_quant_zero_point(&out.quant, 0);
    const int64_t in_zp = mcb_quant_zero_point(&in.quant, 0);
    if (!(out_scale > 0.0f && out_scale <= FLT_MAX)) {
        return mcb_kernel_reject(ctx, node, "output scale must be positive", 0, 0, 0);
    }
    if (!zero_point_fits(out_zp, out.type) ||
        (in.type != MCB_TYPE_FLOAT32 && !zero_point_fits(in_zp, in.type))) {
        return mcb_kernel_reject(ctx, node, "zero points %d (input), %d (output) out of their "
                                 "types' range", (uint32_t)in_zp, (uint32_t)out_zp, 0);
    }
    int32_t multiplier = 0;
    int32_t shift = 0;
    if (in.type != MCB_TYPE_FLOAT32) {
        const float in_scale = mcb_quant_scale(&in.quant, 0);
        if (!(in_scale >= 0.0f && in_scale <= FLT_MAX) ||
            mcb_quantize_multiplier((double)in_scale / (double)out_scale, &multiplier, &shift) !=
                MCB_OK) {
            return mcb_kernel_reject(ctx, node, "input scale / output scale out of range", 0, 0,
                                     0);
        }
    }
    quantize_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->count = count;
    d->in_type = (int32_t)in.type;
    d->out_type = (int32_t)out.type;
    d->scale = out_scale;
    d->input_zero_point = (int32_t)in_zp;
    d->output_zero_point = (int32_t)out_zp;
    d->multiplier = multiplier;
    d->shift = shift;
    node->user_data = d;
    return MCB_OK;
}

static int32_t load(const void *p, int32_t type, uint32_t i)
{
    switch (type) {
    case MCB_TYPE_INT8:
        return ((const int8_t *)p)[i];
    case MCB_TYPE_UINT8:
        return ((const uint8_t *)p)[i];
    case MCB_TYPE_INT16:
        return ((const int16_t *)p)[i];
    default:
        return ((const int32_t *)p)[i];
    }
}

static void store(void *p, int32_t type, uint32_t i, int32_t v)
{
    switch (type) {
    case MCB_TYPE_INT8:
        ((int8_t *)p)[i] = (int8_t)v;
        break;
    case MCB_TYPE_UINT8:
        ((uint8_t *)p)[i] = (uint8_t)v;
        break;
    case MCB_TYPE_INT16:
        ((int16_t *)p)[i] = (int16_t)v;
        break;
    default:
        ((int32_t *)p)[i] = v;
        break;
    }
}

mcb_status mcb_quantize_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const quantize_data *d = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    void *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || ((in == NULL || out == NULL) && d->count != 0u)) {
        return MCB_ERR_STATE;
    }
    int32_t lo;
    int32_t hi;
    type_range(d->out_type, &lo, &hi);
    if (d->in_type == MCB_TYPE_FLOAT32) {
        const float *x = in;
        for (uint32_t i = 0; i < d->count; i++) {
            const int64_t v = (int64_t)mcb_ew_round_to_i32(x[i] / d->scale) + d->output_zero_point;
            store(out, d->out_type, i, v < lo ? lo : v > hi ? hi : (int32_t)v);
        }
        return MCB_OK;
    }
    for (uint32_t i = 0; i < d->count; i++) {
        /* int32 arithmetic wrapping as TFLM's does, without UB */
        const int32_t x = (int32_t)((uint32_t)load(in, d->in_type, i) -
                                    (uint32_t)d->input_zero_point);
        const int32_t v = mcb_ew_add_wrap(
            mcb_multiply_by_quantized_multiplier(x, d->multiplier, d->shift),
            d->output_zero_point);
        store(out, d->out_type, i, mcb_ew_clamp(v, lo, hi));
    }
    return MCB_OK;
}
