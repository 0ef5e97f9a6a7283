/*
 * What CONV_2D and DEPTHWISE_CONV_2D share across input types (int8,
 * int16 with int8 filters, float32): their prepare, which reads the
 * options, checks the shapes, computes TFLM's padding and the per-channel
 * requantisation or the float clamp, and the parameters it leaves for
 * invoke; and the 16x8 requantisation, which FULLY_CONNECTED int16 uses too.
 * The counterpart of TFLM's conv_common.cc / depthwise_conv_common.cc.
 */
#ifndef MCB_KERNELS_REFERENCE_CONV_COMMON_H
#define MCB_KERNELS_REFERENCE_CONV_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/kernel.h"

#define MCB_CONV_IN_INPUT 0u
#define MCB_CONV_IN_FILTER 1u
#define MCB_CONV_IN_BIAS 2u

/*
 * All int32 and in range: every index invoke forms (in_y, in_x and the
 * flat offsets) fits an int32, checked in prepare.
 */
typedef struct {
    int32_t input_offset;  /* int8: -input zero point (int16 and float32: 0) */
    int32_t output_offset; /* int8: output zero point (int16 and float32: 0) */
    int32_t act_min;       /* int8 and int16: the quantised clamp */
    int32_t act_max;
    float f_act_min;       /* float32: the clamp */
    float f_act_max;
    int32_t acc32;         /* int16: 1 with an int32 bias (int32 accumulator), else int64 */
    int32_t batches;
    int32_t in_h, in_w, in_d;
    int32_t out_h, out_w, out_d;
    int32_t k_h, k_w;
    int32_t stride_h, stride_w;
    int32_t dil_h, dil_w;
    int32_t pad_h, pad_w;
    int32_t filter_in_d;      /* CONV_2D: filter dim 3 (in_d / groups) */
    int32_t filters_per_group; /* CONV_2D: out_d / groups */
    int32_t depth_multiplier; /* DEPTHWISE_CONV_2D */
    int32_t channel_mult[];   /* int8, int16: out_d multipliers, then out_d shifts */
} mcb_conv_params;

/*
 * Prepare of CONV_2D (depthwise false) or DEPTHWISE_CONV_2D for an int8,
 * int16 (int8 filter) or float32 input; node->user_data is an mcb_conv_params.
 */
mcb_status mcb_conv_prepare_s8(mcb_interpreter *ctx, mcb_node *node, bool depthwise);
mcb_status mcb_conv_prepare_s16(mcb_interpreter *ctx, mcb_node *node, bool depthwise);
mcb_status mcb_conv_prepare_f32(mcb_interpreter *ctx, mcb_node *node, bool depthwise);

/*
 * A prepared node's parameters and tensors; bias is NULL only where the node
 * has none. in, filter and out point to the input type's elements (int8_t,
 * int16_t / int8_t, float).
 */
typedef struct {
    const mcb_conv_params *p;
    const void *in;
    const void *filter;
    const uint8_t *bias; /* little endian, possibly unaligned */
    void *out;
} mcb_conv_io;

/* Fills io for invoke; MCB_ERR_STATE if the node was not prepared or a tensor is missing. */
mcb_status mcb_conv_io_get(mcb_interpreter *ctx, mcb_node *node, mcb_conv_io *io);

/* Bias of channel c, read bytewise: constants need not be 4- or 8-byte aligned. */
int32_t mcb_conv_bias(const uint8_t *bias, int32_t c);
int64_t mcb_conv_bias64(const uint8_t *bias, int32_t c);
float mcb_conv_bias_f32(const uint8_t *bias, int32_t c);

/* acc (wrapped int32) requantised, offset and clamped as TFLM's reference kernels do. */
int8_t mcb_conv_requantize(const mcb_conv_params *p, uint32_t acc, int32_t channel);

/*
 * TFLM's MultiplyByQuantizedMultiplier for an int64 x: the multiplier
 * rounded to 16 bits, one rounding shift by 15 - shift (shift <= 14), the
 * result truncated to int32. x is two's complement in a uint64 (TFLM's
 * int64 arithmetic wraps in practice; this wraps without UB).
 */
int32_t mcb_multiply_by_quantized_multiplier_s64(uint64_t x, int32_t multiplier, int32_t shift);

/*
 * The 16x8 output: acc (two's complement in a uint64) requantised with the
 * int32 MultiplyByQuantizedMultiplier if acc32 (its low 32 bits: TFLM's
 * int32 accumulator with an int32 bias), else with the int64 one; plus
 * output_offset (wrapping like TFLM's int32 add: 0 for the convolutions,
 * which ignore the zero points); clamped.
 */
int16_t mcb_requantize_16x8(uint64_t acc, bool acc32, int32_t multiplier, int32_t shift,
                            int32_t output_offset, int32_t act_min, int32_t act_max);

/* Largest shift the int64 multiply takes (TFLM's shift by 15 - shift - 1 needs >= 0). */
#define MCB_S64_SHIFT_MAX 14

/* The float clamp of TFLM's ActivationFunctionWithMinMax: std::max, then std::min. */
static inline float mcb_clamp_f32(float v, float lo, float hi)
{
    v = v < lo ? lo : v;
    return hi < v ? hi : v;
}

/* TFLM's CalculateActivationRange<float>: NONE, TANH, SIGN_BIT give [lowest, max]. */
void mcb_activation_range_f32(uint8_t act, float *lo, float *hi);

#endif
