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
mcb_status mcb_add_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_add_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_add_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_add_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_add_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_add_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_sub_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mul_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_quantize_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_quantize_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_dequantize_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_dequantize_invoke(mcb_interpreter *ctx, mcb_node *node);

/* activations */
mcb_status mcb_logistic_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_logistic_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_logistic_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_logistic_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_logistic_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_logistic_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_tanh_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_relu6_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_leaky_relu_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_hard_swish_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_hard_swish_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_hard_swish_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_hard_swish_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_softmax_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_softmax_f32_invoke(mcb_interpreter *ctx, mcb_node *node);

/* shape and data movement */
mcb_status mcb_mean_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mean_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mean_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_mean_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_pad_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_pad_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_concatenation_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_concatenation_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_strided_slice_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_strided_slice_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_split_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_split_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_split_v_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_split_v_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_squeeze_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_squeeze_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_transpose_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_transpose_invoke(mcb_interpreter *ctx, mcb_node *node);

/* float32 and int16x8 */
mcb_status mcb_fully_connected_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_fully_connected_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_fully_connected_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_fully_connected_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_conv_s16_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_s16_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_depthwise_conv_s16_invoke(mcb_interpreter *ctx, mcb_node *node);

/* state: SVDF, resource variables, CALL_ONCE */
mcb_status mcb_svdf_s8_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_svdf_s8_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_svdf_f32_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_svdf_f32_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_var_handle_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_var_handle_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_read_variable_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_read_variable_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_assign_variable_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_assign_variable_invoke(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_call_once_prepare(mcb_interpreter *ctx, mcb_node *node);
mcb_status mcb_call_once_invoke(mcb_interpreter *ctx, mcb_node *node);

#endif
