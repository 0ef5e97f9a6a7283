/* SVDF's checks shared by svdf_s8.c and svdf_f32.c (TFLM's PrepareSvdf). */
#ifndef MCB_SVDF_COMMON_H
#define MCB_SVDF_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/kernel.h"

#define MCB_SVDF_INPUT 0u
#define MCB_SVDF_FEATURE 1u /* weights_feature [filters, input_size] */
#define MCB_SVDF_TIME 2u    /* weights_time [filters, memory] */
#define MCB_SVDF_BIAS 3u    /* optional [units] */
#define MCB_SVDF_STATE 4u   /* variable [batch, memory * filters] */

typedef struct {
    mcb_tensor_info in;
    mcb_tensor_info feature;
    mcb_tensor_info time;
    mcb_tensor_info bias;
    mcb_tensor_info state;
    mcb_tensor_info out;
    bool has_bias;
    uint8_t activation; /* fused_activation_function */
    uint32_t rank;
    uint32_t batch;
    uint32_t input_size;
    uint32_t filters;
    uint32_t units;
    uint32_t memory;
} mcb_svdf_shape;

/*
 * Options and shapes as TFLM's PrepareSvdf checks them (types are the
 * caller's): rank > 0 dividing filters, input [batch, input_size], output
 * [batch, units], weights_feature [filters, input_size], weights_time
 * [filters, memory], bias [units] (required), state [batch, memory * filters] and a
 * variable, five inputs, one output. MCB_OK or the node rejected.
 */
mcb_status mcb_svdf_check(mcb_interpreter *ctx, const mcb_node *node, mcb_svdf_shape *s);

#endif
