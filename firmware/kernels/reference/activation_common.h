/*
 * Shared by the activation kernels (LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU,
 * HARD_SWISH, float SOFTMAX): operand checks, TFLM's parameter preparation
 * and the gemmlowp fixed-point logistic / tanh on int32 (Q4.27 in, Q0.31 out)
 * that TFLM's int8 LOGISTIC and TANH use.
 */
#ifndef MCB_KERNELS_ACTIVATION_COMMON_H
#define MCB_KERNELS_ACTIVATION_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/kernel.h"

/*
 * One input and one output of the same type and element count (*n); for
 * INT8 / INT16 both must be quantised (per tensor: scale 0 is taken). Rejects
 * the node otherwise.
 */
mcb_status mcb_act_io(mcb_interpreter *ctx, const mcb_node *node, mcb_tensor_info *in,
                      mcb_tensor_info *out, uint32_t *n);

/* Scale and zero point 0 of a quantised tensor. */
float mcb_act_scale(const mcb_tensor_info *t);
int32_t mcb_act_zero_point(const mcb_tensor_info *t);

/* ---- int8 LOGISTIC / TANH ---------------------------------------------------------- */

typedef struct {
    int32_t zero_point; /* input's */
    int32_t radius;     /* |input - zero point| >= radius saturates */
    int32_t multiplier; /* input -> Q4.27 */
    int32_t shift;
    uint32_t n;
} mcb_act_q4;

/*
 * TFLM's int8 LOGISTIC / TANH prepare: input scale * 2^27 split by frexp into
 * a multiplier and a left shift, and CalculateInputRadius(4, shift, 31).
 * Rejects input scales TFLM mishandles (a negative shift shifts by a negative
 * amount; from 2^35 on the radius overflows).
 */
mcb_status mcb_act_q4_prepare(mcb_interpreter *ctx, const mcb_node *node,
                              const mcb_tensor_info *in, uint32_t n, mcb_act_q4 *p);

/* Input value (zero point removed) -> Q4.27, as MultiplyByQuantizedMultiplier. */
int32_t mcb_act_q4_rescale(const mcb_act_q4 *p, int32_t x);

/* gemmlowp's logistic and tanh: Q4.27 in, Q0.31 out. */
int32_t mcb_fx_logistic_q4(int32_t a);
int32_t mcb_fx_tanh_q4(int32_t a);

/* ---- int16 LOGISTIC / TANH (sigmoid table) ------------------------------------------ */

typedef struct {
    int32_t multiplier; /* input * multiplier >> shift indexes the table */
    int32_t shift;
    uint32_t n;
} mcb_act_lut16;

/*
 * TFLM's int16 LOGISTIC / TANH prepare: zero points 0, output scale 2^-15,
 * a power-of-two input scale taken exactly (2^-12 for LOGISTIC, 2^-12 or
 * 2^-11 for TANH), any other rescaled to 1 / (3 * 4096) with a multiplier
 * up to 32767 and a right shift.
 */
mcb_status mcb_act_lut16_prepare(mcb_interpreter *ctx, const mcb_node *node,
                                 const mcb_tensor_info *in, const mcb_tensor_info *out, uint32_t n,
                                 bool tanh, mcb_act_lut16 *p);

/* sigmoid(i / 24) in unsigned Q0.16, i = 0..255 (TFLM's sigmoid_table_uint16). */
extern const uint16_t mcb_act_sigmoid_table[256];

/* ---- RELU / RELU6, int8 and int16 ---------------------------------------------------- */

typedef struct {
    int32_t in_zero_point;
    int32_t out_zero_point;
    int32_t multiplier; /* RELU: input scale / output scale */
    int32_t shift;
    int32_t act_min;    /* RELU: output clamp; RELU6: the input's 0 and 6 */
    int32_t act_max;
    uint32_t n;
} mcb_act_relu;

/*
 * TFLM's ReluPrepare / Relu6Prepare for a type of range [qmin, qmax]:
 * - RELU requantises (QuantizeMultiplier of input / output scale) and clamps
 *   below at the output zero point; int16 wants zero points 0;
 * - RELU6 clamps the input to [its zero point, FloatToQuantizedType(6)] and
 *   never requantises: TFLM ignores the output's scale and zero point.
 */
mcb_status mcb_act_relu_prepare(mcb_interpreter *ctx, const mcb_node *node, bool relu6,
                                int32_t qmin, int32_t qmax, mcb_act_relu *p);

/* One element, in the output's type range. */
int32_t mcb_act_relu_value(const mcb_act_relu *p, int32_t x);
int32_t mcb_act_relu6_value(const mcb_act_relu *p, int32_t x);

/* ---- LEAKY_RELU ---------------------------------------------------------------------- */

typedef struct {
    int32_t in_zero_point;
    int32_t out_zero_point;
    int32_t identity_multiplier; /* input scale / output scale, for x >= 0 */
    int32_t identity_shift;
    int32_t alpha_multiplier;    /* |input scale * alpha / output scale|, for x < 0 */
    int32_t alpha_shift;
    bool alpha_negative;
    int32_t qmin;
    int32_t qmax;
    uint32_t n;
} mcb_act_leaky;

/* The alpha option (LeakyReluOptions, default 0). */
mcb_status mcb_act_leaky_alpha(mcb_interpreter *ctx, const mcb_node *node, float *alpha);

/* TFLM's CalculateOpDataLeakyRelu for a type of range [qmin, qmax]. */
mcb_status mcb_act_leaky_prepare(mcb_interpreter *ctx, const mcb_node *node, int32_t qmin,
                                 int32_t qmax, mcb_act_leaky *p);

/* reference_ops::QuantizeLeakyRelu on one element. */
int32_t mcb_act_leaky_value(const mcb_act_leaky *p, int32_t x);

/* std::round for floats: half away from zero, no libm. */
float mcb_act_roundf(float v);

/* ---- float --------------------------------------------------------------------------- */

/*
 * expf / tanhf of the C library, as TFLM calls std::exp / std::tanh on float.
 * Bit-exact with tflite_micro where both use the same libm (glibc, natively);
 * on a board, picolibc's may differ in the last bit.
 */
float mcb_act_expf(float x);
float mcb_act_tanhf(float x);

#endif
