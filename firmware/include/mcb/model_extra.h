/*
 * Additions to the model reader (mcb/model.h) that the interpreter needs:
 * kept apart so the reader stays one engineer's file.
 */
#ifndef MCB_MODEL_EXTRA_H
#define MCB_MODEL_EXTRA_H

#include <stdint.h>

#include "mcb/model.h"

/* Largest BuiltinOperator value mcb_builtin_name knows (schema of tflite_micro). */
#define MCB_BUILTIN_NAMES_MAX 209

/* "FULLY_CONNECTED" for 9, ...; "?" for a code outside 0..MCB_BUILTIN_NAMES_MAX. */
const char *mcb_builtin_name(int32_t code);

/* "INT8" etc. (the TensorType name); "?" for an unknown type. */
const char *mcb_tensor_type_name(int32_t type);

/* Elements in t's shape; mcb_model_open keeps every tensor below 2^31 of them. */
uint32_t mcb_tensor_elements(const mcb_tensor_info *t);

#endif
