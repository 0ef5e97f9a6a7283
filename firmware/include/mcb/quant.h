/*
 * Requantisation arithmetic of TFLite Micro's integer kernels, bit for bit:
 * tensorflow/lite/kernels/internal/quantization_util.cc (QuantizeMultiplier),
 * common.h (MultiplyByQuantizedMultiplier) and kernel_util.cc
 * (CalculateActivationRangeQuantized). No libm: frexp and round are done on
 * the bits, so every toolchain gives the same multipliers.
 *
 * MCB_SINGLE_ROUNDING selects TFLM's TFLITE_SINGLE_ROUNDING variant; 0 (the
 * default) is the double-rounding one the tflite_micro wheel is built with
 * (tests/test_interpreter_native.py checks both against it).
 */
#ifndef MCB_QUANT_H
#define MCB_QUANT_H

#include <stdint.h>

#include "mcb/status.h"

#ifndef MCB_SINGLE_ROUNDING
#define MCB_SINGLE_ROUNDING 0
#endif

/* ActivationFunctionType of the schema. */
typedef enum {
    MCB_ACT_NONE = 0,
    MCB_ACT_RELU = 1,
    MCB_ACT_RELU_N1_TO_1 = 2,
    MCB_ACT_RELU6 = 3,
    MCB_ACT_TANH = 4,
    MCB_ACT_SIGN_BIT = 5,
} mcb_activation;

/*
 * real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) or 0, as
 * TFLM's QuantizeMultiplier: frexp, round half away from zero, shifts below
 * -31 flushed to 0. MCB_ERR_ARG for a NaN or infinite real; MCB_ERR_RANGE
 * for shift > 30 (TFLM's double-rounding multiply overflows there; its
 * single-rounding variant saturates, and so does ours).
 */
mcb_status mcb_quantize_multiplier(double real, int32_t *multiplier, int32_t *shift);

/* x * multiplier * 2^(shift - 31), rounded as TFLM rounds. */
int32_t mcb_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int32_t shift);

/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded to nearest. */
int32_t mcb_fx_srdhm(int32_t a, int32_t b);

/* gemmlowp's RoundingDivideByPOT: x / 2^exponent, ties away from zero; exponent 0..31. */
int32_t mcb_fx_rdbpot(int32_t x, int32_t exponent);

/*
 * [*act_min, *act_max]: the fused activation's range quantised with the
 * output's scale and zero point, within [qmin, qmax]. TANH and SIGN_BIT
 * give [qmin, qmax], as in TFLM. MCB_ERR_RANGE where TFLM's Quantize fails
 * (the bound does not fit an int32).
 */
mcb_status mcb_activation_range(mcb_activation act, float scale, int32_t zero_point, int32_t qmin,
                                int32_t qmax, int32_t *act_min, int32_t *act_max);

#endif
