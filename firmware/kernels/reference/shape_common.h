/*
 * Helpers of the shape and data-movement kernels (MEAN, PAD, CONCATENATION,
 * STRIDED_SLICE, SPLIT, SPLIT_V, SQUEEZE, TRANSPOSE): element sizes, constant
 * int32 parameter tensors, row-major strides, and one strided copy that
 * moves elements of any fixed size between two index spaces.
 */
#ifndef MCB_KERNELS_SHAPE_COMMON_H
#define MCB_KERNELS_SHAPE_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/kernel.h"

#define MCB_SHAPE_MAX_RANK MCB_MODEL_MAX_RANK

/* A set of tensor types, for mcb_shape_type_bytes. */
#define MCB_SHAPE_TYPE(t) (UINT32_C(1) << (uint32_t)(t))

/* Bytes per element if type is in the set and a whole number of bytes; 0 otherwise. */
uint32_t mcb_shape_type_bytes(mcb_tensor_type type, uint32_t set);

/* True if t's elements of elem_bytes take more than 2^31 - 1 bytes. */
bool mcb_shape_too_big(const mcb_tensor_info *t, uint32_t elem_bytes);

/*
 * Input i as constant int32 data: up to max values into out, their number
 * in *count. MCB_ERR_ARG if the input is absent, not INT32, not constant or
 * has more than max elements.
 */
mcb_status mcb_shape_const_i32(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                               int32_t *out, uint32_t max, uint32_t *count);

/* Row-major strides of shape[0..rank), in elements. */
void mcb_shape_strides(const int32_t *shape, uint32_t rank, int32_t *strides);

/*
 * Odometer: advances idx[0..n) (last dimension fastest) and *offset by
 * step[]; returns false once every index has been visited (idx back to
 * zeros, *offset back to where it started).
 */
bool mcb_shape_next(uint32_t n, const int32_t *count, const int32_t *step, int32_t *idx,
                    int32_t *offset);

/*
 * A strided copy: for every index i of the box count[0..rank),
 * out[out_base + sum(i * out_step)] = in[in_base + sum(i * in_step)], in
 * elements of elem_bytes (1, 2, 4 or 8); steps may be negative. The caller
 * guarantees every such offset is inside its tensor.
 */
typedef struct {
    uint32_t rank; /* 0 copies a single element */
    uint32_t elem_bytes;
    int32_t count[MCB_SHAPE_MAX_RANK];
    int32_t in_step[MCB_SHAPE_MAX_RANK];
    int32_t out_step[MCB_SHAPE_MAX_RANK];
    int32_t in_base;
    int32_t out_base;
} mcb_shape_copy;

void mcb_shape_copy_run(const mcb_shape_copy *c, const void *in, void *out);

/* Invoke of a kernel whose user_data is an mcb_shape_copy from input 0 to output 0. */
mcb_status mcb_shape_copy_invoke(mcb_interpreter *ctx, mcb_node *node);

#endif
