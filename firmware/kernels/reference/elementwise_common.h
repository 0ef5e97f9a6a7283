/*
 * What ADD, SUB and MUL (int8, int16, float32), QUANTIZE and DEQUANTIZE
 * share: the checks of a binary node and its broadcast loop nest, the
 * requantisation parameters of TFLM's add_common.cc / sub_common.cc /
 * mul_common.cc, the float clamp of a fused activation and float rounding.
 *
 * Broadcasting is numpy's, as TFLM's BroadcastBinaryOpSimple: shapes are
 * aligned at their last dimension, size-1 dimensions are repeated. Prepare
 * drops the output's size-1 dimensions and fuses neighbours that broadcast
 * alike, so invoke runs one loop nest over at most 8 dimensions whose
 * innermost one is a row: each op supplies a row function, called with
 * steps of 0 (a broadcast input) or 1 element.
 */
#ifndef MCB_KERNELS_REFERENCE_ELEMENTWISE_COMMON_H
#define MCB_KERNELS_REFERENCE_ELEMENTWISE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/kernel.h"
#include "mcb/model.h"
#include "mcb/quant.h"

#define MCB_EW_MAX_RANK MCB_MODEL_MAX_RANK

/* The loop nest: output extents, and each input's stride per dimension (0: broadcast). */
typedef struct {
    uint32_t rank;  /* >= 1 after fusing; the last dimension is the row */
    uint32_t count; /* output elements */
    uint32_t extent[MCB_EW_MAX_RANK];
    uint32_t stride1[MCB_EW_MAX_RANK]; /* in elements */
    uint32_t stride2[MCB_EW_MAX_RANK];
} mcb_ew_broadcast;

/* n outputs from a[i * a_step], b[i * b_step] (steps 0 or 1). */
typedef void (*mcb_ew_row_fn)(const void *params, const void *a, uint32_t a_step, const void *b,
                              uint32_t b_step, void *out, uint32_t n);

typedef enum { MCB_EW_ADD, MCB_EW_SUB, MCB_EW_MUL } mcb_ew_op;

/* A binary node as its prepare sees it, after mcb_ew_binary_check. */
typedef struct {
    mcb_tensor_info in1;
    mcb_tensor_info in2;
    mcb_tensor_info out;
    uint8_t activation; /* mcb_activation */
    mcb_ew_broadcast bc;
} mcb_ew_binary;

/* Requantised ADD / SUB (int8, int16): TFLM's OpDataAdd / OpDataSub. */
typedef struct {
    mcb_ew_broadcast bc;
    int32_t left_shift; /* 20 for int8, 15 for int16 */
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t input1_multiplier;
    int32_t input1_shift; /* <= 0 */
    int32_t input2_multiplier;
    int32_t input2_shift;
    int32_t output_multiplier;
    int32_t output_shift;
    int32_t act_min;
    int32_t act_max;
} mcb_ew_addsub_q;

/* Requantised MUL (int8, int16): TFLM's OpDataMul. */
typedef struct {
    mcb_ew_broadcast bc;
    int32_t input1_offset;
    int32_t input2_offset;
    int32_t output_offset;
    int32_t output_multiplier;
    int32_t output_shift; /* may be > 0 */
    int32_t act_min;
    int32_t act_max;
} mcb_ew_mul_q;

/* float32 ADD / SUB / MUL: the clamp of the fused activation. */
typedef struct {
    mcb_ew_broadcast bc;
    float act_min;
    float act_max;
} mcb_ew_float;

/*
 * Reads a binary node of op (two inputs, one output, its options), checks
 * that input 1, input 2 and the output all have type `type` and that the
 * output's shape is the inputs' broadcast shape. Returns MCB_OK or the
 * rejection (mcb_kernel_reject's MCB_ERR_ARG).
 */
mcb_status mcb_ew_binary_check(mcb_interpreter *ctx, const mcb_node *node, mcb_ew_op op,
                               mcb_tensor_type type, mcb_ew_binary *b);

/* ADD / SUB prepare for int8 or int16: the checks, then the parameters, in persistent memory. */
mcb_status mcb_ew_addsub_q_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_ew_op op,
                                   mcb_tensor_type type);

/* MUL prepare for int8 or int16. */
mcb_status mcb_ew_mul_q_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_tensor_type type);

/* ADD / SUB / MUL prepare for float32. */
mcb_status mcb_ew_float_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_ew_op op);

/*
 * Invoke of a binary node whose user_data starts with its mcb_ew_broadcast:
 * the loop nest over inputs 0 and 1 and output 0 (all of elem_size bytes),
 * row filling each innermost row.
 */
mcb_status mcb_ew_binary_invoke(mcb_interpreter *ctx, const mcb_node *node, size_t elem_size,
                                mcb_ew_row_fn row);

/* TFLM's ActivationFunctionWithMinMax: min(max(x, lo), hi) as std::min / std::max order it. */
static inline float mcb_ew_clamp_f(float x, float lo, float hi)
{
    const float y = x < lo ? lo : x;
    return hi < y ? hi : y;
}

/* int32 clamp. */
static inline int32_t mcb_ew_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* int32 addition wrapping as TFLM's does in practice, without UB. */
static inline int32_t mcb_ew_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/*
 * One requantised ADD (sub false) or SUB (sub true) element, int8 or int16:
 * TFLM's AddFunc / SubElementwise. The shifted inputs stay below 2^31
 * (255 << 20, 65535 << 15), and each rescaled one below half of that.
 */
static inline int32_t mcb_ew_addsub_element(const mcb_ew_addsub_q *p, int32_t x, int32_t y,
                                            bool sub)
{
    const int32_t a = (x + p->input1_offset) * (INT32_C(1) << p->left_shift);
    const int32_t b = (y + p->input2_offset) * (INT32_C(1) << p->left_shift);
    const int32_t sa = mcb_multiply_by_quantized_multiplier(a, p->input1_multiplier,
                                                            p->input1_shift);
    const int32_t sb = mcb_multiply_by_quantized_multiplier(b, p->input2_multiplier,
                                                            p->input2_shift);
    const int32_t v = mcb_multiply_by_quantized_multiplier(sub ? sa - sb : sa + sb,
                                                           p->output_multiplier,
                                                           p->output_shift) +
                      p->output_offset;
    return mcb_ew_clamp(v, p->act_min, p->act_max);
}

/*
 * One requantised MUL element, int8 or int16 (TFLM's MulElementwise): the
 * product of the offset inputs (below 2^31 in magnitude), rescaled, offset
 * (wrapping as TFLM's int32 does, without UB) and clamped.
 */
static inline int32_t mcb_ew_mul_element(const mcb_ew_mul_q *p, int32_t x, int32_t y)
{
    const int32_t prod = (x + p->input1_offset) * (y + p->input2_offset);
    const int32_t v = mcb_ew_add_wrap(
        mcb_multiply_by_quantized_multiplier(prod, p->output_multiplier, p->output_shift),
        p->output_offset);
    return mcb_ew_clamp(v, p->act_min, p->act_max);
}

/*
 * std::round on a float, then the conversion to int32, saturating where it
 * does not fit (as Arm's VCVT; NaN gives 0).
 */
int32_t mcb_ew_round_to_i32(float x);

#endif
