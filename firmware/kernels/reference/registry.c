/*
 * The reference kernel set: bit-exact with TFLite Micro's reference kernels.
 * One row per (operator, input type); mcb_kernel_find takes the first match,
 * so an optimized set lists its own rows and falls back to these.
 */
#include "reference.h"

#define OP_CONV_2D 3
#define OP_DEPTHWISE_CONV_2D 4
#define OP_FULLY_CONNECTED 9
#define OP_AVERAGE_POOL_2D 1
#define OP_MAX_POOL_2D 17
#define OP_RESHAPE 22
#define OP_SOFTMAX 25

static const mcb_kernel kernels[] = {
    {OP_FULLY_CONNECTED, MCB_TYPE_INT8, "FULLY_CONNECTED", mcb_fully_connected_s8_prepare,
     mcb_fully_connected_s8_invoke},
    {OP_CONV_2D, MCB_TYPE_INT8, "CONV_2D", mcb_conv_s8_prepare, mcb_conv_s8_invoke},
    {OP_DEPTHWISE_CONV_2D, MCB_TYPE_INT8, "DEPTHWISE_CONV_2D", mcb_depthwise_conv_s8_prepare,
     mcb_depthwise_conv_s8_invoke},
    {OP_SOFTMAX, MCB_TYPE_INT8, "SOFTMAX", mcb_softmax_s8_prepare, mcb_softmax_s8_invoke},
    {OP_RESHAPE, MCB_KERNEL_ANY_TYPE, "RESHAPE", mcb_reshape_prepare, mcb_reshape_invoke},
    {OP_AVERAGE_POOL_2D, MCB_TYPE_INT8, "AVERAGE_POOL_2D", mcb_average_pool_s8_prepare,
     mcb_average_pool_s8_invoke},
    {OP_MAX_POOL_2D, MCB_TYPE_INT8, "MAX_POOL_2D", mcb_max_pool_s8_prepare,
     mcb_max_pool_s8_invoke},
};

static const mcb_kernel_registry reference = {
    "reference",
    kernels,
    sizeof kernels / sizeof kernels[0],
};

const mcb_kernel_registry *mcb_kernels_reference(void)
{
    return &reference;
}
