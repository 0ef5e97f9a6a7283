/*
 * AVERAGE_POOL_2D, int8, NHWC: bit-exact with TFLM's
 * reference_integer_ops::AveragePool. The mean of the window's part inside
 * the input (padding is not counted), rounded half away from zero as TFLM
 * does it: (sum +- count / 2) / count with C's truncating division, then the
 * activation clamp. Prepare and the loop nest: pool_s8.c.
 */
#include "pool_s8.h"
#include "reference.h"

mcb_status mcb_average_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_pool_s8_prepare(ctx, node);
}

mcb_status mcb_average_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_pool_s8_invoke(ctx, node, MCB_POOL_AVERAGE);
}
