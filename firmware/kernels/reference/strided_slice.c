/*
 * STRIDED_SLICE of FLOAT32, INT8, INT16, INT32 and BOOL tensors, rank up to
 * 4, as TFLM's strided_slice_common.cc (Prepare) and
 * reference_ops::StridedSlice with strided_slice_logic.h (Eval):
 * - begin, end and strides must be constant INT32 tensors (TFLM's Prepare);
 *   the first rank values of each are used; no stride may be 0;
 * - per axis: a negative begin / end counts from the dimension's size, then
 *   is clamped to [0, size] (stride > 0) or [-1, size - 1] (stride < 0);
 *   begin_mask / end_mask take the whole axis in the stride's direction;
 *   shrink_axis_mask keeps the single element at begin and drops the axis;
 * - TFLM micro ignores ellipsis_mask, new_axis_mask and offset (it builds
 *   its parameters without them), and so do we;
 * - the model's output shape must equal the computed one (TFLM's
 *   CheckOutputSize).
 * A shrunk axis whose begin is outside the dimension, or whose stride is
 * negative, makes TFLM copy nothing into the output: rejected here.
 */
#include "reference.h"
#include "shape_common.h"

#define OPTIONS_STRIDED_SLICE 32 /* BuiltinOptions.StridedSliceOptions */
#define OPT_BEGIN_MASK MCB_FB_SLOT(0)
#define OPT_END_MASK MCB_FB_SLOT(1)
#define OPT_SHRINK_AXIS_MASK MCB_FB_SLOT(4)
#define MAX_RANK 4u

#define SLICE_TYPES                                                                     \
    (MCB_SHAPE_TYPE(MCB_TYPE_FLOAT32) | MCB_SHAPE_TYPE(MCB_TYPE_INT8) |                 \
     MCB_SHAPE_TYPE(MCB_TYPE_INT16) | MCB_SHAPE_TYPE(MCB_TYPE_INT32) |                  \
     MCB_SHAPE_TYPE(MCB_TYPE_BOOL))

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* StridedSliceStartForAxis */
static int32_t start_for_axis(int32_t begin, int32_t size, int32_t stride, bool masked)
{
    if (masked) {
        return stride > 0 ? 0 : size - 1;
    }
    if (begin < 0) {
        begin += size;
    }
    return stride > 0 ? clamp(begin, 0, size) : clamp(begin, -1, size - 1);
}

/* StridedSliceEndForAxis, without shrinking (and without offset, as TFLM micro) */
static int32_t end_for_axis(int32_t end, int32_t size, int32_t stride, bool masked)
{
    if (masked) {
        return stride > 0 ? size : -1;
    }
    if (end < 0) {
        end += size;
    }
    return stride > 0 ? clamp(end, 0, size) : clamp(end, -1, size - 1);
}

mcb_status mcb_strided_slice_prepare(mcb_interpreter *ctx, mcb_node *node)
{
    mcb_operator_info op;
    mcb_tensor_info in;
    mcb_tensor_info out;
    int32_t begin_mask = 0;
    int32_t end_mask = 0;
    int32_t shrink_mask = 0;

    if (node->n_inputs != 4u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &op) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &in) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs four inputs and one output", 0, 0, 0);
    }
    if (op.options_type != 0 && op.options_type != OPTIONS_STRIDED_SLICE) {
        return mcb_kernel_reject(ctx, node, "options of type %u", op.options_type, 0, 0);
    }
    if (mcb_fb_i32(&op.options, OPT_BEGIN_MASK, 0, &begin_mask) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_END_MASK, 0, &end_mask) != MCB_OK ||
        mcb_fb_i32(&op.options, OPT_SHRINK_AXIS_MASK, 0, &shrink_mask) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (in.type != out.type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u", in.type, out.type,
                                 0);
    }
    const uint32_t size = mcb_shape_type_bytes(in.type, SLICE_TYPES);
    if (size == 0u) {
        return mcb_kernel_reject(ctx, node, "type %u not supported", in.type, 0, 0);
    }
    if (in.rank > MAX_RANK) {
        return mcb_kernel_reject(ctx, node, "input rank %u, TFLM supports up to %u", in.rank,
                                 MAX_RANK, 0);
    }
    if (mcb_shape_too_big(&in, size)) {
        return mcb_kernel_reject(ctx, node, "input too large", 0, 0, 0);
    }
    int32_t begin[MCB_SHAPE_MAX_RANK];
    int32_t end[MCB_SHAPE_MAX_RANK];
    int32_t strides[MCB_SHAPE_MAX_RANK];
    uint32_t nb = 0;
    uint32_t ne = 0;
    uint32_t ns = 0;
    if (mcb_shape_const_i32(ctx, node, 1, begin, MCB_SHAPE_MAX_RANK, &nb) != MCB_OK ||
        mcb_shape_const_i32(ctx, node, 2, end, MCB_SHAPE_MAX_RANK, &ne) != MCB_OK ||
        mcb_shape_const_i32(ctx, node, 3, strides, MCB_SHAPE_MAX_RANK, &ns) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "begin, end and strides must be constant INT32", 0,
                                 0, 0);
    }
    if (nb < in.rank || ne < in.rank || ns < in.rank) {
        return mcb_kernel_reject(ctx, node, "begin, end and strides need %u values", in.rank, 0,
                                 0);
    }

    mcb_shape_copy cp;
    int32_t in_strides[MCB_SHAPE_MAX_RANK];
    mcb_shape_strides(in.shape, in.rank, in_strides);
    cp.rank = in.rank;
    cp.elem_bytes = size;
    cp.in_base = 0;
    cp.out_base = 0;
    uint32_t o = 0;
    for (uint32_t d = 0; d < in.rank; d++) {
        const int32_t dim = in.shape[d];
        const int32_t stride = strides[d];
        const bool shrink = ((uint32_t)shrink_mask >> d & 1u) != 0u;
        if (stride == 0) {
            return mcb_kernel_reject(ctx, node, "stride of axis %u is 0", d, 0, 0);
        }
        const int32_t start =
            start_for_axis(begin[d], dim, stride, ((uint32_t)begin_mask >> d & 1u) != 0u);
        int64_t count = 0;
        if (shrink) {
            if (stride < 0 || start < 0 || start >= dim) {
                return mcb_kernel_reject(ctx, node,
                                         "shrunk axis %u: begin %d outside the dimension or "
                                         "negative stride",
                                         d, (uint32_t)begin[d], 0);
            }
            count = 1;
        } else {
            const int32_t stop =
                end_for_axis(end[d], dim, stride, ((uint32_t)end_mask >> d & 1u) != 0u);
            const int64_t span = stride > 0 ? (int64_t)stop - start : (int64_t)start - stop;
            const int64_t step = stride > 0 ? (int64_t)stride : -(int64_t)stride;
            count = span > 0 ? (span + step - 1) / step : 0;
            if (o >= out.rank || out.shape[o] != count) {
                return mcb_kernel_reject(ctx, node, "output dimension %u should be %u", o,
                                         (uint32_t)count, 0);
            }
            o++;
        }
        cp.count[d] = (int32_t)count;
        /* A single element needs no step (and a huge stride would overflow it). */
        cp.in_step[d] = count > 1 ? stride * in_strides[d] : 0;
        cp.in_base += count > 0 ? start * in_strides[d] : 0;
    }
    if (o != out.rank) {
        return mcb_kernel_reject(ctx, node, "output rank %u, the slice has %u", out.rank, o, 0);
    }
    mcb_shape_strides(cp.count, cp.rank, cp.out_step);
    mcb_shape_copy *c = mcb_kernel_alloc_persistent(ctx, sizeof *c);
    if (c == NULL) {
        return MCB_ERR_RANGE;
    }
    *c = cp;
    node->user_data = c;
    return MCB_OK;
}

mcb_status mcb_strided_slice_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    return mcb_shape_copy_invoke(ctx, node);
}
