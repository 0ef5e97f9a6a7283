/*
 * A ring of fixed-size records in caller memory, for the log service
 * (docs/protocol.md, "Logging"). No I/O: the service fills the records and
 * answers LOG_READ from them.
 *
 * Records are numbered by seq, from 0, modulo 2^32. Pushing always succeeds:
 * once the ring is full, it overwrites the oldest record, whether or not
 * anyone read it; a reader learns what was lost from mcb_log_ring_oldest.
 *
 * Header-only (static inline): scripts/fuzz builds the service from a fixed
 * list of sources, and the ring is small.
 */
#ifndef MCB_LOG_RING_H
#define MCB_LOG_RING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mcb/status.h"

typedef struct {
    uint8_t *mem;          /* capacity * record_bytes bytes */
    uint32_t record_bytes;
    uint32_t capacity;     /* records mem holds */
    uint32_t next_seq;     /* seq the next push gets */
    uint32_t held;         /* records held: min(pushes, capacity) */
    uint32_t slot;         /* where the next push goes */
} mcb_log_ring;

/* An empty ring of capacity records in mem. MCB_ERR_ARG on NULL mem or a zero size. */
static inline mcb_status mcb_log_ring_init(mcb_log_ring *r, uint8_t *mem, uint32_t record_bytes,
                                           uint32_t capacity)
{
    if (r == NULL || mem == NULL || record_bytes == 0u || capacity == 0u) {
        return MCB_ERR_ARG;
    }
    r->mem = mem;
    r->record_bytes = record_bytes;
    r->capacity = capacity;
    r->next_seq = 0;
    r->held = 0;
    r->slot = 0;
    return MCB_OK;
}

/* The oldest seq held (next_seq when empty). */
static inline uint32_t mcb_log_ring_oldest(const mcb_log_ring *r)
{
    return r->next_seq - r->held;
}

/* The record for seq next_seq, which then advances; the oldest goes if the ring is full. */
static inline uint8_t *mcb_log_ring_push(mcb_log_ring *r)
{
    uint8_t *const record = r->mem + (size_t)r->slot * r->record_bytes;
    r->slot = r->slot + 1u == r->capacity ? 0u : r->slot + 1u;
    r->held += r->held < r->capacity ? 1u : 0u;
    r->next_seq++;
    return record;
}

/*
 * Copies up to max records, from seq from_seq on (or from the oldest held,
 * if from_seq was overwritten), into dst (max * record_bytes bytes): *first
 * is the first one's seq, *n how many. MCB_ERR_RANGE if from_seq is past
 * next_seq. Seqs compare as RFC 1982 serial numbers: up to 2^31 - 1 ahead
 * of next_seq is the future, anything else not held is the past.
 */
static inline mcb_status mcb_log_ring_copy(const mcb_log_ring *r, uint32_t from_seq, uint32_t max,
                                           uint8_t *dst, uint32_t *first, uint32_t *n)
{
    const uint32_t ahead = from_seq - r->next_seq;
    if (ahead != 0u && ahead < 0x80000000u) {
        return MCB_ERR_RANGE;
    }
    uint32_t back = r->next_seq - from_seq; /* records from from_seq to the newest */
    back = back < r->held ? back : r->held;
    *first = r->next_seq - back;
    *n = back < max ? back : max;
    /* The slot of the record pushed back pushes ago, then up to two runs (the ring wraps). */
    uint32_t slot = r->slot >= back ? r->slot - back : r->slot + r->capacity - back;
    uint32_t left = *n;
    while (left > 0u) {
        const uint32_t run = left < r->capacity - slot ? left : r->capacity - slot;
        const size_t bytes = (size_t)run * r->record_bytes;
        memcpy(dst, r->mem + (size_t)slot * r->record_bytes, bytes);
        dst += bytes;
        left -= run;
        slot = 0;
    }
    return MCB_OK;
}

#endif
