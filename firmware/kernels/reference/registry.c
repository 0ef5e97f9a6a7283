/*
 * The reference kernel set: bit-exact with TFLite Micro's reference kernels.
 * One row per (operator, input type); mcb_kernel_find takes the first match,
 * so an optimized set lists its own rows and falls back to these.
 */
#include "reference.h"

#define OP_FULLY_CONNECTED 9

static const mcb_kernel kernels[] = {
    {OP_FULLY_CONNECTED, MCB_TYPE_INT8, "FULLY_CONNECTED", mcb_fully_connected_s8_prepare,
     mcb_fully_connected_s8_invoke},
};

static const mcb_kernel_registry reference = {
    "reference",
    kernels,
    sizeof kernels / sizeof kernels[0],
};

const mcb_kernel_registry *mcb_kernels_reference(void)
{
    return &reference;
}
