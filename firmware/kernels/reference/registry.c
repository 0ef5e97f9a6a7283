/*
 * The reference kernel set: bit-exact with TFLite Micro's reference kernels.
 * One row per (operator, input type); mcb_kernel_find takes the first match,
 * so an optimized set lists its own rows and falls back to these.
 */
#include "mcb/builtin_ops.h"
#include "reference.h"

static const mcb_kernel kernels[] = {
    {MCB_OP_FULLY_CONNECTED, MCB_TYPE_INT8, "FULLY_CONNECTED", mcb_fully_connected_s8_prepare,
     mcb_fully_connected_s8_invoke},
    {MCB_OP_CONV_2D, MCB_TYPE_INT8, "CONV_2D", mcb_conv_s8_prepare, mcb_conv_s8_invoke},
    {MCB_OP_DEPTHWISE_CONV_2D, MCB_TYPE_INT8, "DEPTHWISE_CONV_2D", mcb_depthwise_conv_s8_prepare,
     mcb_depthwise_conv_s8_invoke},
    {MCB_OP_SOFTMAX, MCB_TYPE_INT8, "SOFTMAX", mcb_softmax_s8_prepare, mcb_softmax_s8_invoke},
    {MCB_OP_RESHAPE, MCB_KERNEL_ANY_TYPE, "RESHAPE", mcb_reshape_prepare, mcb_reshape_invoke},
    {MCB_OP_AVERAGE_POOL_2D, MCB_TYPE_INT8, "AVERAGE_POOL_2D", mcb_average_pool_s8_prepare,
     mcb_average_pool_s8_invoke},
    {MCB_OP_MAX_POOL_2D, MCB_TYPE_INT8, "MAX_POOL_2D", mcb_max_pool_s8_prepare,
     mcb_max_pool_s8_invoke},
    /* elementwise arithmetic and (de)quantisation */
    /* activations */
    /* shape and data movement */
    /* float32 and int16x8 */
    /* state: SVDF, resource variables, CALL_ONCE */
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
