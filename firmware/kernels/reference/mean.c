/*
 * MEAN of INT8, INT16 and FLOAT32 tensors, as TFLM's reduce.cc /
 * reduce_common.cc (PrepareMeanOrSumHelper, EvalMeanHelper) and
 * reference_ops::Mean / QuantizedMeanOrSum of micro's reduce.h:
 * - the axes: a negative one counts from the rank, repeats count once, one
 *   outside the rank is rejected here in prepare (TFLM fails the invoke for
 *   FLOAT32 and writes zeros for the integer types); the axis tensor must be
 *   INT32 (TFLM's check) and, here, constant; keep_dims only shapes the output,
 *   whose element count must be the kept dimensions' product;
 * - FLOAT32: a float sum per output, in the input's row-major order, divided
 *   by the element count as a float (TFLM's 4D keep_dims mean over axes 1
 *   and 2 sums in that same order and divides alike, so one path serves);
 * - INT8 / INT16, whatever the quantisation (TFLM no longer special-cases
 *   equal input and output parameters): QuantizeMultiplier(in_scale /
 *   out_scale), with 1 / count folded in: shift_n = min(floor(log2 count),
 *   32, 31 + shift), multiplier = (multiplier << shift_n) / count, shift -=
 *   shift_n; each output is MultiplyByQuantizedMultiplier(sum - in_zp *
 *   count) + out_zp, clamped.
 * No scratch: each output sums its own elements, in TFLM's order.
 */
#include "mcb/model_extra.h"
#include "mcb/quant.h"
#include "reference.h"
#include "shape_common.h"

#define OPTIONS_REDUCER 27 /* BuiltinOptions.ReducerOptions */
#define MAX_AXES 16u

typedef struct {
    uint32_t n_kept;    /* dimensions kept: one output element per index */
    uint32_t n_reduced; /* dimensions summed over */
    int32_t kept_count[MCB_SHAPE_MAX_RANK];
    int32_t kept_step[MCB_SHAPE_MAX_RANK];
    int32_t reduced_count[MCB_SHAPE_MAX_RANK];
    int32_t reduced_step[MCB_SHAPE_MAX_RANK];
    uint32_t n_reduce; /* elements per output */
    int32_t multiplier; /* in_scale / out_scale / n_reduce */
    int32_t shift;
    int32_t input_zero_point;
    int32_t output_zero_point;
} mean_data;

mcb_status mcb_mean_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    mcb_tensor_info axis_info;

    if (node->n_inputs != 2u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 1, &axis_info) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs two inputs and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_REDUCER) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if ((in.type != MCB_TYPE_INT8 && in.type != MCB_TYPE_INT16 && in.type != MCB_TYPE_FLOAT32) ||
        out.type != in.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u (FLOAT32, INT8 or "
                                 "INT16, alike)", in.type, out.type, 0);
    }
    if (axis_info.type != MCB_TYPE_INT32) {
        return mcb_kernel_reject(ctx, node, "axis type %u, INT32 expected", axis_info.type, 0, 0);
    }
    int32_t axes[MAX_AXES];
    uint32_t n_axes = 0;
    if (mcb_shape_const_i32(ctx, node, 1, axes, MAX_AXES, &n_axes) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "the axis must be constant, at most %u values",
                                 MAX_AXES, 0, 0);
    }
    /* ResolveAxis: a scalar input has no axes to resolve. */
    uint32_t reduced = 0;
    for (uint32_t i = 0; i < n_axes && in.rank > 0u; i++) {
        const int32_t a = axes[i] < 0 ? axes[i] + (int32_t)in.rank : axes[i];
        if (a < 0 || a >= (int32_t)in.rank) {
            return mcb_kernel_reject(ctx, node, "axis %d outside the input's rank %u",
                                     (uint32_t)axes[i], in.rank, 0);
        }
        reduced |= 1u << a;
    }
    const uint32_t n_in = mcb_tensor_elements(&in);
    if (n_in == 0u) {
        return mcb_kernel_reject(ctx, node, "empty input", 0, 0, 0);
    }

    mean_data md;
    int32_t strides[MCB_SHAPE_MAX_RANK];
    mcb_shape_strides(in.shape, in.rank, strides);
    md.n_kept = 0;
    md.n_reduced = 0;
    md.n_reduce = 1;
    uint32_t n_out = 1;
    for (uint32_t d = 0; d < in.rank; d++) {
        if ((reduced >> d & 1u) != 0u) {
            md.reduced_count[md.n_reduced] = in.shape[d];
            md.reduced_step[md.n_reduced++] = strides[d];
            md.n_reduce *= (uint32_t)in.shape[d];
        } else {
            md.kept_count[md.n_kept] = in.shape[d];
            md.kept_step[md.n_kept++] = strides[d];
            n_out *= (uint32_t)in.shape[d];
        }
    }
    if (mcb_tensor_elements(&out) != n_out) {
        return mcb_kernel_reject(ctx, node, "output has %u elements, the mean %u",
                                 mcb_tensor_elements(&out), n_out, 0);
    }
    md.multiplier = 0;
    md.shift = 0;
    md.input_zero_point = 0;
    md.output_zero_point = 0;
    if (in.type != MCB_TYPE_FLOAT32) {
        const float in_scale = mcb_quant_scale(&in.quant, 0);
        const float out_scale = mcb_quant_scale(&out.quant, 0);
        const int64_t in_zp = mcb_quant_zero_point(&in.quant, 0);
        const int64_t out_zp = mcb_quant_zero_point(&out.quant, 0);
        const int64_t lim = in.type == MCB_TYPE_INT8 ? 128 : 32768;
        int32_t multiplier = 0;
        int32_t shift = 0;
        if (!(in_scale > 0.0f && out_scale > 0.0f) || in_zp < -lim || in_zp >= lim ||
            out_zp < -lim || out_zp >= lim ||
            mcb_quantize_multiplier((double)in_scale / (double)out_scale, &multiplier,
                                    &shift) != MCB_OK) {
            return mcb_kernel_reject(ctx, node,
                                     "needs positive scales of ratio below 2^30 and zero "
                                     "points in range", 0, 0, 0);
        }
        /* Fold 1 / n_reduce in, as QuantizedMeanOrSum does. */
        int32_t shift_n = 0;
        while (shift_n < 32 && (UINT64_C(2) << shift_n) <= md.n_reduce) {
            shift_n++; /* floor(log2(n_reduce)) */
        }
        shift_n = shift_n < 31 + shift ? shift_n : 31 + shift;
        md.multiplier = (int32_t)(((int64_t)multiplier << shift_n) / (int64_t)md.n_reduce);
        md.shift = shift - shift_n;
        md.input_zero_point = (int32_t)in_zp;
        md.output_zero_point = (int32_t)out_zp;
    }

    mean_data *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    *d = md;
    node->user_data = d;
    return MCB_OK;
}

/* One output of the integer kernels from its int32 sum. */
static int32_t integer_mean(const mean_data *d, int32_t sum, int32_t qmin, int32_t qmax)
{
    /* int32 minus an int64 product, back to int32 as TFLM's static_cast does */
    const int32_t shifted =
        (int32_t)((int64_t)sum - (int64_t)d->input_zero_point * (int64_t)d->n_reduce);
    /* + out_zp wraps in TFLM's int32 (in practice; never for sane scales): here too */
    int32_t v = (int32_t)((uint32_t)mcb_multiply_by_quantized_multiplier(shifted, d->multiplier,
                                                                         d->shift) +
                          (uint32_t)d->output_zero_point);
    v = v < qmin ? qmin : v > qmax ? qmax : v;
    return v;
}

/*
 * Sums of the input's elements per output, in TFLM's order: one loop body per
 * element type, around an odometer over the kept dimensions and one over the
 * reduced ones.
 */
#define MEAN_LOOP(d, SUM_T, ADD, EMIT)                                                      \
    do {                                                                                    \
        int32_t kept_idx[MCB_SHAPE_MAX_RANK] = {0};                                         \
        int32_t base = 0;                                                                   \
        uint32_t o = 0;                                                                     \
        do {                                                                                \
            int32_t red_idx[MCB_SHAPE_MAX_RANK] = {0};                                      \
            int32_t off = base;                                                             \
            SUM_T sum = 0;                                                                  \
            do {                                                                            \
                ADD;                                                                        \
            } while (mcb_shape_next((d)->n_reduced, (d)->reduced_count, (d)->reduced_step,  \
                                    red_idx, &off));                                        \
            EMIT;                                                                           \
            o++;                                                                            \
        } while (mcb_shape_next((d)->n_kept, (d)->kept_count, (d)->kept_step, kept_idx,     \
                                &base));                                                    \
    } while (0)

mcb_status mcb_mean_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mean_data *d = node->user_data;
    const int8_t *in = mcb_kernel_input(ctx, node, 0);
    int8_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    /* int32 sums wrap as TFLM's do (never, below 2^24 elements) */
    MEAN_LOOP(d, uint32_t, sum += (uint32_t)(int32_t)in[off],
              out[o] = (int8_t)integer_mean(d, (int32_t)sum, INT8_MIN, INT8_MAX));
    return MCB_OK;
}

mcb_status mcb_mean_s16_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mean_data *d = node->user_data;
    const int16_t *in = mcb_kernel_input(ctx, node, 0);
    int16_t *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    MEAN_LOOP(d, uint32_t, sum += (uint32_t)(int32_t)in[off],
              out[o] = (int16_t)integer_mean(d, (int32_t)sum, INT16_MIN, INT16_MAX));
    return MCB_OK;
}

mcb_status mcb_mean_f32_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mean_data *d = node->user_data;
    const float *in = mcb_kernel_input(ctx, node, 0);
    float *out = mcb_kernel_output(ctx, node, 0);
    if (d == NULL || in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    MEAN_LOOP(d, float, sum += in[off], out[o] = sum / (float)d->n_reduce);
    return MCB_OK;
}
