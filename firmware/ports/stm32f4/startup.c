/*
 * Vector table for the STM32F405/407/446 (Cortex-M4F). Reset and fault
 * handling are shared with the other Cortex-M ports:
 * firmware/ports/cortex_m/cortex_m.c.
 */
#include <stdint.h>

#include "cortex_m.h"

/* External interrupts: 97 on the STM32F446 (RM0390), 82 on the F405/F407 (RM0090). */
#define CM_IRQ_COUNT 97
#define USART2_IRQN 38

void USART2_IRQHandler(void); /* port.c: UART receive ring */

/* Own section, first in flash: VTOR needs 512-byte alignment here. */
__attribute__((section(".vectors"), used)) const cm_vector cm_vectors[] = {
    CM_CORE_VECTORS,
    CM_DH32, CM_DH4, CM_DH2,                 /* IRQ 0..37 */
    [16 + USART2_IRQN] = {.handler = USART2_IRQHandler},
    CM_DH32, CM_DH16, CM_DH8, CM_DH2,        /* IRQ 39..96 */
};
_Static_assert(sizeof cm_vectors / sizeof cm_vectors[0] == 16 + CM_IRQ_COUNT,
               "recount the CM_DH lists");
