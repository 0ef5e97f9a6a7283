/*
 * A model linked into the firmware: `mcubench build --board B --model M`
 * generates the definitions (16-byte aligned, in flash) and defines
 * MCB_EMBEDDED_MODEL for the whole build.
 */
#ifndef MCB_EMBEDDED_MODEL_H
#define MCB_EMBEDDED_MODEL_H

#include <stdint.h>

#ifdef MCB_EMBEDDED_MODEL
extern const uint8_t mcb_embedded_model[];
extern const uint32_t mcb_embedded_model_bytes;
#endif

#endif
