/*
 * A small zero-copy flatbuffer reader that trusts nothing in the buffer.
 *
 * Every position is a byte offset into one buffer of at most
 * MCB_FB_MAX_SIZE bytes, and every read is checked against it: a table's
 * vtable (offset, alignment, size), a field against its table's inline size,
 * an offset's target, a vector's or string's length times its element size.
 * Alignment is checked relative to the buffer start, as the flatbuffers
 * verifier does; scalars are assembled byte by byte (little endian), so the
 * buffer itself may sit at any address.
 *
 * Nothing recurses: a caller walks the schema it knows, one level per call.
 * Fields are named by their vtable offset: field i of the schema (counting
 * from 0 in declaration order, union fields taking two slots: type then
 * value) is MCB_FB_SLOT(i).
 *
 * Functions return MCB_OK, MCB_ERR_ARG (NULL pointer, misused call) or
 * MCB_ERR_RANGE (the buffer's content points outside the buffer, outside a
 * table, or is misaligned). On error the outputs are left empty.
 */
#ifndef MCB_FLATBUF_H
#define MCB_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/status.h"

/* Flatbuffers' own limit (offsets are signed 32-bit in places). */
#define MCB_FB_MAX_SIZE 0x7FFFFFFFu

/* vtable offset of schema field i. */
#define MCB_FB_SLOT(i) ((uint16_t)(4u + 2u * (unsigned)(i)))

/*
 * A table whose vtable has been checked. vt_size == 0 is the empty table (an
 * absent sub-table or union value): all of its fields read as absent.
 */
typedef struct {
    const uint8_t *buf;
    uint32_t len;     /* buffer size */
    uint32_t pos;     /* table start (its soffset to the vtable) */
    uint32_t vt;      /* vtable start */
    uint16_t vt_size; /* vtable bytes, 0 for the empty table */
    uint16_t size;    /* table bytes, inline fields included */
} mcb_fb_table;

/* A vector whose length fits the buffer. count == 0 for an absent vector. */
typedef struct {
    const uint8_t *buf;
    uint32_t len;       /* buffer size */
    uint32_t pos;       /* first element (after the u32 length) */
    uint32_t count;     /* elements */
    uint32_t elem_size; /* bytes per element, as asked for */
} mcb_fb_vector;

/* A string: len bytes at data, not necessarily NUL-terminated. */
typedef struct {
    const char *data; /* NULL when absent */
    uint32_t len;
} mcb_fb_string;

/* True if buf[4..8) equals id[0..4) (the file identifier). */
bool mcb_fb_has_identifier(const uint8_t *buf, size_t len, const char id[4]);

/* The root table (u32 offset at position 0). */
mcb_status mcb_fb_root(const uint8_t *buf, size_t len, mcb_fb_table *out);

/* The table at pos: alignment, vtable and inline size checked. */
mcb_status mcb_fb_table_at(const uint8_t *buf, uint32_t len, uint32_t pos, mcb_fb_table *out);

/* The empty table (see mcb_fb_table). */
void mcb_fb_table_empty(mcb_fb_table *out);

/* False for the empty table. */
bool mcb_fb_table_present(const mcb_fb_table *t);

/*
 * Position of a field of size bytes: *pos = 0 if the field is absent (its
 * vtable entry is missing or 0); MCB_ERR_RANGE if it does not lie inside the
 * table. Building block for the typed readers below.
 */
mcb_status mcb_fb_field(const mcb_fb_table *t, uint16_t voff, uint32_t size, uint32_t *pos);

/* True if the field has a vtable entry (checking nothing else). */
bool mcb_fb_has_field(const mcb_fb_table *t, uint16_t voff);

/* Scalars: *out = the stored value, or dflt when the field is absent. */
mcb_status mcb_fb_u8(const mcb_fb_table *t, uint16_t voff, uint8_t dflt, uint8_t *out);
mcb_status mcb_fb_i8(const mcb_fb_table *t, uint16_t voff, int8_t dflt, int8_t *out);
mcb_status mcb_fb_bool(const mcb_fb_table *t, uint16_t voff, bool dflt, bool *out);
mcb_status mcb_fb_u16(const mcb_fb_table *t, uint16_t voff, uint16_t dflt, uint16_t *out);
mcb_status mcb_fb_i16(const mcb_fb_table *t, uint16_t voff, int16_t dflt, int16_t *out);
mcb_status mcb_fb_u32(const mcb_fb_table *t, uint16_t voff, uint32_t dflt, uint32_t *out);
mcb_status mcb_fb_i32(const mcb_fb_table *t, uint16_t voff, int32_t dflt, int32_t *out);
mcb_status mcb_fb_u64(const mcb_fb_table *t, uint16_t voff, uint64_t dflt, uint64_t *out);
mcb_status mcb_fb_i64(const mcb_fb_table *t, uint16_t voff, int64_t dflt, int64_t *out);
mcb_status mcb_fb_f32(const mcb_fb_table *t, uint16_t voff, float dflt, float *out);

/* A sub-table field; absent -> the empty table. */
mcb_status mcb_fb_table_field(const mcb_fb_table *t, uint16_t voff, mcb_fb_table *out);

/*
 * A vector field of elem_size-byte elements (1..16; 4 for tables and
 * strings). Absent -> count 0.
 */
mcb_status mcb_fb_vector_field(const mcb_fb_table *t, uint16_t voff, uint32_t elem_size,
                               mcb_fb_vector *out);

/* A string field; absent -> data NULL, len 0. */
mcb_status mcb_fb_string_field(const mcb_fb_table *t, uint16_t voff, mcb_fb_string *out);

/*
 * A union: the u8 type at type_voff and the table at value_voff. Type 0
 * (NONE) or an absent value give the empty table; the value is not even
 * looked at when the type is NONE. The caller checks the type's range.
 */
mcb_status mcb_fb_union_field(const mcb_fb_table *t, uint16_t type_voff, uint16_t value_voff,
                              uint8_t *type, mcb_fb_table *value);

/* Element i of a vector; MCB_ERR_ARG if i >= count or the element size differs. */
mcb_status mcb_fb_vec_u8(const mcb_fb_vector *v, uint32_t i, uint8_t *out);
mcb_status mcb_fb_vec_u32(const mcb_fb_vector *v, uint32_t i, uint32_t *out);
mcb_status mcb_fb_vec_i32(const mcb_fb_vector *v, uint32_t i, int32_t *out);
mcb_status mcb_fb_vec_i64(const mcb_fb_vector *v, uint32_t i, int64_t *out);
mcb_status mcb_fb_vec_f32(const mcb_fb_vector *v, uint32_t i, float *out);
mcb_status mcb_fb_vec_table(const mcb_fb_vector *v, uint32_t i, mcb_fb_table *out);
mcb_status mcb_fb_vec_string(const mcb_fb_vector *v, uint32_t i, mcb_fb_string *out);

/* First byte of a vector's elements; NULL when count == 0. */
const uint8_t *mcb_fb_vec_data(const mcb_fb_vector *v);

/* Little-endian loads from any address. */
uint16_t mcb_fb_load_u16(const uint8_t *p);
uint32_t mcb_fb_load_u32(const uint8_t *p);
uint64_t mcb_fb_load_u64(const uint8_t *p);

#endif
