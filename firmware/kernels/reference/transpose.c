/*
 * TRANSPOSE of FLOAT32, INT8 and INT16 tensors, rank up to 5, as TFLM's
 * transpose_common.cc and transpose.cc (INT32 and other types fail TFLM's
 * Eval, so they are rejected here in prepare).
 *
 * The permutation must be a constant rank-1 INT32 tensor with one entry per
 * input dimension, each in [0, rank) (TFLM's Prepare). A repeated entry, or
 * an output shape other than the permuted input's, TFLM does not check and
 * computes nonsense from: both are rejected. Output dimension j walks input
 * dimension perm[j].
 */
#include "reference.h"
#include "shape_common.h"

#define MAX_RANK 5u

#define TRANSPOSE_TYPES                                                                 \
    (MCB_SHAPE_TYPE(MCB_TYPE_FLOAT32) | MCB_SHAPE_TYPE(MCB_TYPE_INT8) |                 \
     MCB_SHAPE_TYPE(MCB_TYPE_INT16))

mcb_status mcb_transpose_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_tensor_info in;
    mcb_tensor_info out;
    mcb_tensor_info perm_info;

    if (node->n_inputs != 2u || node->n_outputs != 1u ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 1, &perm_info) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs two inputs and one output", 0, 0, 0);
    }
    if (in.rank > MAX_RANK) {
        return mcb_kernel_reject(ctx, node, "rank %u, TFLM supports 1 to %u", in.rank, MAX_RANK,
                                 0);
    }
    if (in.type != out.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in.type, out.type,
                                 0);
    }
    const uint32_t size = mcb_shape_type_bytes(in.type, TRANSPOSE_TYPES);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported (FLOAT32, INT8, INT16)",
                                 in.type, 0, 0);
    }
    int32_t perm[MCB_SHAPE_MAX_RANK];
    uint32_t n = 0;
    if (mcb_shape_const_i32(ctx, node, 1, perm, MCB_SHAPE_MAX_RANK, &n) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "the permutation must be a constant INT32 tensor", 0,
                                 0, 0);
    }
    if (perm_info.rank != 1u || n != in.rank) {
        return mcb_kernel_reject(ctx, node, "the permutation must list the %u dimensions",
                                 in.rank, 0, 0);
    }
    uint32_t seen = 0;
    for (uint32_t j = 0; j < n; j++) {
        if (perm[j] < 0 || perm[j] >= (int32_t)n || (seen & (1u << perm[j])) != 0u) {
            return mcb_kernel_reject(ctx, node, "permutation entry %u (%d) out of bounds or repeated",
                                     j, (uint32_t)perm[j], 0);
        }
        seen |= 1u << perm[j];
    }
    if (out.rank != in.rank) {
        return mcb_kernel_reject(ctx, node, "output rank %u, input rank %u", out.rank, in.rank,
                                 0);
    }
    for (uint32_t j = 0; j < n; j++) {
        if (out.shape[j] != in.shape[perm[j]]) {
            return mcb_kernel_reject(ctx, node, "output dimension %u is %d, the permuted input's %d",
                                     j, (uint32_t)out.shape[j], (uint32_t)in.shape[perm[j]]);
        }
    }
    if (mcb_shape_too_big(&in, size)) {
        return mcb_kernel_reject(ctx, node, "input too large", 0, 0, 0);
    }

    mcb_shape_copy *c = mcb_kernel_alloc_persistent(ctx, sizeof *c);
    if (c == NULL) {
        return MCB_ERR_RANGE;
    }
    int32_t in_strides[MCB_SHAPE_MAX_RANK];
    mcb_shape_strides(in.shape, in.rank, in_strides);
    mcb_shape_strides(out.shape, out.rank, c->out_step);
    c->rank = n;
    c->elem_bytes = size;
    c->in_base = 0;
    c->out_base = 0;
    for (uint32_t j = 0; j < n; j++) {
        c->count[j] = out.shape[j];
        c->in_step[j] = in_strides[perm[j]];
    }
    node->user_data = c;
    return MCB_OK;
}

mcb_status mcb_transpose_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_shape_copy_invoke(ctx, node);
}
