/*
 * What FULLY_CONNECTED float32 and int16 share: reading the options and
 * tensors, the type checks for the input type and TFLM's shape logic
 * (rows = output elements / units; keep_num_dims only shapes the output).
 */
#ifndef MCB_KERNELS_REFERENCE_FULLY_CONNECTED_COMMON_H
#define MCB_KERNELS_REFERENCE_FULLY_CONNECTED_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/kernel.h"

#define MCB_FC_IN_INPUT 0u
#define MCB_FC_IN_FILTER 1u
#define MCB_FC_IN_BIAS 2u

typedef struct {
    mcb_tensor_info in;
    mcb_tensor_info filter;
    mcb_tensor_info bias; /* valid if has_bias */
    mcb_tensor_info out;
    bool has_bias;
    uint8_t act;    /* fused activation, <= MCB_ACT_SIGN_BIT */
    uint32_t rows;  /* output elements / units */
    uint32_t depth; /* filter dim 1 */
    uint32_t units; /* filter dim 0 */
} mcb_fc_info;

/*
 * Fills f for a FULLY_CONNECTED whose input is in_type (FLOAT32: float
 * filter and bias; INT16: int8 filter, int32 or int64 bias). Rejects the
 * node (mcb_kernel_reject) on anything else.
 */
mcb_status mcb_fc_read(mcb_interpreter *ctx, mcb_node *node, mcb_tensor_type in_type,
                       mcb_fc_info *f);

#endif
