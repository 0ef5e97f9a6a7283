/*
 * What AVERAGE_POOL_2D and MAX_POOL_2D (int8) share: Pool2DOptions, the
 * output size and padding of TFLM's ComputePaddingHeightWidth (padding.h),
 * the activation range. pool_s8.c; the kernels are average_pool_s8.c and
 * max_pool_s8.c.
 */
#ifndef MCB_KERNELS_POOL_S8_H
#define MCB_KERNELS_POOL_S8_H

#include "mcb/kernel.h"

typedef struct {
    int32_t batches;
    int32_t in_h;
    int32_t in_w;
    int32_t out_h;
    int32_t out_w;
    int32_t depth;
    int32_t stride_h;
    int32_t stride_w;
    int32_t filter_h;
    int32_t filter_w;
    int32_t pad_h; /* top / left padding */
    int32_t pad_w;
    int32_t act_min;
    int32_t act_max;
} mcb_pool_s8;

typedef enum { MCB_POOL_AVERAGE, MCB_POOL_MAX } mcb_pool_kind;

/* Checks the node as TFLM's PoolingPrepare does and fills node->user_data. */
mcb_status mcb_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node);

/* TFLM's reference_integer_ops::AveragePool or MaxPool over the prepared node. */
mcb_status mcb_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node, mcb_pool_kind kind);

#endif
