/* Helpers of the shape and data-movement kernels: see shape_common.h. */
#include "shape_common.h"

#include <string.h>

#include "mcb/model_extra.h"

uint32_t mcb_shape_type_bytes(mcb_tensor_type type, uint32_t set)
{
    if ((uint32_t)type >= 32u || (set & MCB_SHAPE_TYPE(type)) == 0u) {
        return 0u;
    }
    const uint32_t bits = mcb_tensor_type_bits(type);
    return bits % 8u == 0u ? bits / 8u : 0u;
}

bool mcb_shape_too_big(const mcb_tensor_info *t, uint32_t elem_bytes)
{
    return (uint64_t)mcb_tensor_elements(t) * elem_bytes > 0x7FFFFFFFu;
}

mcb_status mcb_shape_const_i32(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                               int32_t *out, uint32_t max, uint32_t *count)
{
    mcb_tensor_info t;
    *count = 0;
    if (mcb_kernel_input_info(ctx, node, i, &t) != MCB_OK || t.type != MCB_TYPE_INT32) {
        return MCB_ERR_ARG;
    }
    const uint32_t n = mcb_tensor_elements(&t);
    if (n > max || (n > 0u && (t.data == NULL || t.data_bytes < 4u * n))) {
        return MCB_ERR_ARG;
    }
    if (n > 0u) {
        memcpy(out, t.data, 4u * n); /* little endian, like the target */
    }
    *count = n;
    return MCB_OK;
}

void mcb_shape_strides(const int32_t *shape, uint32_t rank, int32_t *strides)
{
    int32_t s = 1;
    for (uint32_t d = rank; d-- > 0;) {
        strides[d] = s;
        s *= shape[d];
    }
}

bool mcb_shape_next(uint32_t n, const int32_t *count, const int32_t *step, int32_t *idx,
                    int32_t *offset)
{
    for (uint32_t d = n; d-- > 0;) {
        *offset += step[d];
        if (++idx[d] < count[d]) {
            return true;
        }
        *offset -= step[d] * count[d];
        idx[d] = 0;
    }
    return false;
}

/* n elements of size bytes, strided; a plain memcpy when both sides are contiguous. */
static void copy_row(uint8_t *out, int32_t out_step, const uint8_t *in, int32_t in_step,
                     int32_t n, uint32_t size)
{
    if (in_step == 1 && out_step == 1) {
        memcpy(out, in, (size_t)n * size);
        return;
    }
    const ptrdiff_t di = (ptrdiff_t)in_step * (ptrdiff_t)size;
    const ptrdiff_t dout = (ptrdiff_t)out_step * (ptrdiff_t)size;
    /* Constant sizes, so that each memcpy becomes a single load and store. */
    switch (size) {
    case 1:
        for (int32_t k = 0; k < n; k++) {
            out[k * dout] = in[k * di];
        }
        break;
    case 2:
        for (int32_t k = 0; k < n; k++) {
            memcpy(out + k * dout, in + k * di, 2);
        }
        break;
    case 4:
        for (int32_t k = 0; k < n; k++) {
            memcpy(out + k * dout, in + k * di, 4);
        }
        break;
    default:
        for (int32_t k = 0; k < n; k++) {
            memcpy(out + k * dout, in + k * di, size);
        }
        break;
    }
}

void mcb_shape_copy_run(const mcb_shape_copy *c, const void *in, void *out)
{
    const uint8_t *src = in;
    uint8_t *dst = out;
    const size_t size = c->elem_bytes;
    for (uint32_t d = 0; d < c->rank; d++) {
        if (c->count[d] == 0) {
            return;
        }
    }
    if (c->rank == 0u) {
        memcpy(dst + (ptrdiff_t)c->out_base * (ptrdiff_t)size,
               src + (ptrdiff_t)c->in_base * (ptrdiff_t)size, size);
        return;
    }
    /* The last dimension row by row; an odometer over the others, both offsets in step. */
    const uint32_t outer = c->rank - 1u;
    int32_t idx[MCB_SHAPE_MAX_RANK] = {0};
    int32_t io = c->in_base;
    int32_t oo = c->out_base;
    for (;;) {
        copy_row(dst + (ptrdiff_t)oo * (ptrdiff_t)size, c->out_step[outer],
                 src + (ptrdiff_t)io * (ptrdiff_t)size, c->in_step[outer], c->count[outer],
                 c->elem_bytes);
        uint32_t d = outer;
        for (;;) {
            if (d == 0u) {
                return;
            }
            d--;
            io += c->in_step[d];
            oo += c->out_step[d];
            if (++idx[d] < c->count[d]) {
                break;
            }
            io -= c->in_step[d] * c->count[d];
            oo -= c->out_step[d] * c->count[d];
            idx[d] = 0;
        }
    }
}

mcb_status mcb_shape_copy_invoke(mcb_interpreter *ctx, mcb_node *node)
{
    const mcb_shape_copy *c = node->user_data;
    const void *in = mcb_kernel_input(ctx, node, 0);
    void *out = mcb_kernel_output(ctx, node, 0);
    if (c == NULL) {
        return MCB_ERR_STATE;
    }
    for (uint32_t d = 0; d < c->rank; d++) {
        if (c->count[d] == 0) {
            return MCB_OK;
        }
    }
    if (in == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    mcb_shape_copy_run(c, in, out);
    return MCB_OK;
}
