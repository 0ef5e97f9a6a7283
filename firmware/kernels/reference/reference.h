/* The reference kernels' entry points, listed in registry.c. */
#ifndef MCB_KERNELS_REFERENCE_H
#define MCB_KERNELS_REFERENCE_H

#include "mcb/kernel.h"

mcb_status mcb_fully_connected_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_fully_connected_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_s8_invoke(mcb_interpreter *ctx, mcb_node *node);

mcb_status mcb_softmax_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_softmax_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_reshape_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_reshape_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_average_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_average_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_max_pool_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_max_pool_s8_invoke(mcb_interpreter *ctx, mcb_node *node);

/* elementwise arithmetic and (de)quantisation */

/* activations */

/* shape and data movement */

/* float32 and int16x8 */

/* state: SVDF, resource variables, CALL_ONCE */

#endif
