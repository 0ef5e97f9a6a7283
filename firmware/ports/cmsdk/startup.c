/*
 * Vector table for the MPS2/MPS3 images. Reset and fault handling are shared
 * with the other Cortex-M ports: firmware/ports/cortex_m/cortex_m.c.
 */
#include <stdint.h>

#include "cortex_m.h"

/* External interrupts in the table: enough for the AN505/AN547 maps (none is enabled). */
#define CM_IRQ_COUNT 96

/* Own section, first in the code region: VTOR needs 512-byte alignment here. */
__attribute__((section(".vectors"), used)) const cm_vector cm_vectors[] = {
    CM_CORE_VECTORS,
    CM_DH32, CM_DH32, CM_DH32, /* IRQ 0..95 */
};
_Static_assert(sizeof cm_vectors / sizeof cm_vectors[0] == 16 + CM_IRQ_COUNT,
               "recount the CM_DH list");
