/*
 * MAX_POOL_2D, int8, NHWC: bit-exact with TFLM's
 * reference_integer_ops::MaxPool. The maximum of the window's part inside the
 * input (padding never wins), from -128, then the activation clamp.
 * Prepare and the loop nest: pool_s8.c.
 */
#include "pool_s8.h"
#include "reference.h"

mcb_status mcb_max_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_pool_s8_prepare(ctx, node);
}

mcb_status mcb_max_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_pool_s8_invoke(ctx, node, MCB_POOL_MAX);
}
