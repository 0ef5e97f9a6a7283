/*
 * What CONV_2D and DEPTHWISE_CONV_2D (int8) share: their prepare, which
 * reads the options, checks the shapes, computes TFLM's padding and the
 * per-channel requantisation, and the parameters it leaves for invoke.
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
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* output zero point */
    int32_t act_min;
    int32_t act_max;
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
    int32_t channel_mult[];   /* out_d multipliers, then out_d shifts */
} mcb_conv_params;

/* Prepare of CONV_2D (depthwise false) or DEPTHWISE_CONV_2D; node->user_data is an mcb_conv_params. */
mcb_status mcb_conv_prepare_s8(mcb_interpreter *ctx, mcb_node *node, bool depthwise);

/* A prepared node's parameters and tensors; bias is NULL only where the node has none. */
typedef struct {
    const mcb_conv_params *p;
    const int8_t *in;
    const int8_t *filter;
    const uint8_t *bias; /* int32 little endian, possibly unaligned */
    int8_t *out;
} mcb_conv_io;

/* Fills io for invoke; MCB_ERR_STATE if the node was not prepared or a tensor is missing. */
mcb_status mcb_conv_io_get(mcb_interpreter *ctx, mcb_node *node, mcb_conv_io *io);

/* Bias of channel c, read bytewise: constants need not be 4-byte aligned. */
int32_t mcb_conv_bias(const uint8_t *bias, int32_t c);

/* acc (wrapped int32) requantised, offset and clamped as TFLM's reference kernels do. */
int8_t mcb_conv_requantize(const mcb_conv_params *p, uint32_t acc, int32_t channel);

#endif
