/*
 * Bounds-checked flatbuffer reading (mcb/flatbuf.h). Positions are u32 and
 * the buffer is at most MCB_FB_MAX_SIZE bytes, so pos + small constants never
 * wrap; ranges are still checked as "n <= len - pos", never "pos + n <= len".
 */
#include "mcb/flatbuf.h"

#include <string.h>

uint16_t mcb_fb_load_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

uint32_t mcb_fb_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

uint64_t mcb_fb_load_u64(const uint8_t *p)
{
    return (uint64_t)mcb_fb_load_u32(p) | ((uint64_t)mcb_fb_load_u32(p + 4) << 32);
}

/* Reinterpret bits: memcpy is defined for every value, a cast is not. */
static int32_t as_i32(uint32_t u)
{
    int32_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* buf[pos..pos+n) lies inside buf[0..len). */
static bool in_buf(uint32_t len, uint32_t pos, uint32_t n)
{
    return pos <= len && n <= len - pos;
}

bool mcb_fb_has_identifier(const uint8_t *buf, size_t len, const char id[4])
{
    return buf != NULL && id != NULL && len >= 8 && memcmp(&buf[4], id, 4) == 0;
}

void mcb_fb_table_empty(mcb_fb_table *out)
{
    memset(out, 0, sizeof *out);
}

bool mcb_fb_table_present(const mcb_fb_table *t)
{
    return t != NULL && t->vt_size != 0;
}

mcb_status mcb_fb_table_at(const uint8_t *buf, uint32_t len, uint32_t pos, mcb_fb_table *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table_empty(out);
    if (buf == NULL) {
        return MCB_ERR_ARG;
    }
    if (len > MCB_FB_MAX_SIZE || (pos & 3u) != 0 || !in_buf(len, pos, 4)) {
        return MCB_ERR_RANGE;
    }
    /* The vtable sits at pos - soffset, before or after the table. */
    const int64_t vt = (int64_t)pos - as_i32(mcb_fb_load_u32(&buf[pos]));
    if (vt < 0 || vt > (int64_t)len || (vt & 1) != 0 || !in_buf(len, (uint32_t)vt, 4)) {
        return MCB_ERR_RANGE;
    }
    const uint16_t vt_size = mcb_fb_load_u16(&buf[vt]);
    const uint16_t size = mcb_fb_load_u16(&buf[vt + 2]);
    if (vt_size < 4 || (vt_size & 1u) != 0 || !in_buf(len, (uint32_t)vt, vt_size) || size < 4 ||
        !in_buf(len, pos, size)) {
        return MCB_ERR_RANGE;
    }
    out->buf = buf;
    out->len = len;
    out->pos = pos;
    out->vt = (uint32_t)vt;
    out->vt_size = vt_size;
    out->size = size;
    return MCB_OK;
}

mcb_status mcb_fb_root(const uint8_t *buf, size_t len, mcb_fb_table *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table_empty(out);
    if (buf == NULL) {
        return MCB_ERR_ARG;
    }
    if (len < 4 || len > MCB_FB_MAX_SIZE) {
        return MCB_ERR_RANGE;
    }
    return mcb_fb_table_at(buf, (uint32_t)len, mcb_fb_load_u32(buf), out);
}

bool mcb_fb_has_field(const mcb_fb_table *t, uint16_t voff)
{
    return t != NULL && (uint32_t)voff + 2u <= t->vt_size &&
           mcb_fb_load_u16(&t->buf[t->vt + voff]) != 0;
}

mcb_status mcb_fb_field(const mcb_fb_table *t, uint16_t voff, uint32_t size, uint32_t *pos)
{
    if (pos == NULL) {
        return MCB_ERR_ARG;
    }
    *pos = 0;
    if (t == NULL || voff < 4 || (voff & 1u) != 0) {
        return MCB_ERR_ARG;
    }
    if (!mcb_fb_has_field(t, voff)) {
        return MCB_OK; /* vtables may be shorter than the schema: newer fields absent */
    }
    const uint32_t off = mcb_fb_load_u16(&t->buf[t->vt + voff]);
    /* Bytes 0..4 of a table are its soffset, never a field. */
    if (off < 4 || !in_buf(t->size, off, size)) {
        return MCB_ERR_RANGE;
    }
    *pos = t->pos + off;
    return MCB_OK;
}

/*
 * Follows the u32 offset stored at pos (which is inside the buffer). Offsets
 * point forward, so no chain of them can loop; 0 (pointing at itself) is
 * never written by a builder and is rejected.
 */
static mcb_status deref(const uint8_t *buf, uint32_t len, uint32_t pos, uint32_t *target)
{
    const uint32_t off = mcb_fb_load_u32(&buf[pos]);
    if (off == 0 || off >= len - pos) {
        return MCB_ERR_RANGE;
    }
    *target = pos + off;
    return MCB_OK;
}

static mcb_status vector_at(const uint8_t *buf, uint32_t len, uint32_t pos, uint32_t elem_size,
                            mcb_fb_vector *out)
{
    if ((pos & 3u) != 0 || !in_buf(len, pos, 4)) {
        return MCB_ERR_RANGE;
    }
    const uint32_t count = mcb_fb_load_u32(&buf[pos]);
    const uint32_t start = pos + 4;
    if (count > (len - start) / elem_size) {
        return MCB_ERR_RANGE;
    }
    out->buf = buf;
    out->len = len;
    out->pos = start;
    out->count = count;
    out->elem_size = elem_size;
    return MCB_OK;
}

static mcb_status string_at(const uint8_t *buf, uint32_t len, uint32_t pos, mcb_fb_string *out)
{
    mcb_fb_vector v;
    const mcb_status st = vector_at(buf, len, pos, 1, &v);
    if (st != MCB_OK) {
        return st;
    }
    out->data = (const char *)&buf[v.pos];
    out->len = v.count;
    return MCB_OK;
}

/* Reads a scalar field of n bytes into a u64 (little endian); dflt if absent. */
static mcb_status scalar(const mcb_fb_table *t, uint16_t voff, uint32_t n, uint64_t dflt,
                         uint64_t *out)
{
    uint32_t pos;
    const mcb_status st = mcb_fb_field(t, voff, n, &pos);
    *out = dflt;
    if (st != MCB_OK || pos == 0) {
        return st;
    }
    uint64_t v = 0;
    for (uint32_t i = n; i > 0; i--) {
        v = (v << 8) | t->buf[pos + i - 1];
    }
    *out = v;
    return MCB_OK;
}

mcb_status mcb_fb_u8(const mcb_fb_table *t, uint16_t voff, uint8_t dflt, uint8_t *out)
{
    uint64_t v;
    const mcb_status st = scalar(t, voff, 1, dflt, &v);
    *out = (uint8_t)v;
    return st;
}

mcb_status mcb_fb_i8(const mcb_fb_table *t, uint16_t voff, int8_t dflt, int8_t *out)
{
    uint8_t u;
    const mcb_status st = mcb_fb_u8(t, voff, (uint8_t)dflt, &u);
    memcpy(out, &u, 1);
    return st;
}

mcb_status mcb_fb_bool(const mcb_fb_table *t, uint16_t voff, bool dflt, bool *out)
{
    uint8_t u;
    const mcb_status st = mcb_fb_u8(t, voff, dflt ? 1u : 0u, &u);
    *out = u != 0;
    return st;
}

mcb_status mcb_fb_u16(const mcb_fb_table *t, uint16_t voff, uint16_t dflt, uint16_t *out)
{
    uint64_t v;
    const mcb_status st = scalar(t, voff, 2, dflt, &v);
    *out = (uint16_t)v;
    return st;
}

mcb_status mcb_fb_i16(const mcb_fb_table *t, uint16_t voff, int16_t dflt, int16_t *out)
{
    uint16_t u;
    const mcb_status st = mcb_fb_u16(t, voff, (uint16_t)dflt, &u);
    memcpy(out, &u, 2);
    return st;
}

mcb_status mcb_fb_u32(const mcb_fb_table *t, uint16_t voff, uint32_t dflt, uint32_t *out)
{
    uint64_t v;
    const mcb_status st = scalar(t, voff, 4, dflt, &v);
    *out = (uint32_t)v;
    return st;
}

mcb_status mcb_fb_i32(const mcb_fb_table *t, uint16_t voff, int32_t dflt, int32_t *out)
{
    uint32_t u;
    const mcb_status st = mcb_fb_u32(t, voff, (uint32_t)dflt, &u);
    *out = as_i32(u);
    return st;
}

mcb_status mcb_fb_u64(const mcb_fb_table *t, uint16_t voff, uint64_t dflt, uint64_t *out)
{
    return scalar(t, voff, 8, dflt, out);
}

mcb_status mcb_fb_i64(const mcb_fb_table *t, uint16_t voff, int64_t dflt, int64_t *out)
{
    uint64_t u;
    const mcb_status st = scalar(t, voff, 8, (uint64_t)dflt, &u);
    memcpy(out, &u, 8);
    return st;
}

mcb_status mcb_fb_f32(const mcb_fb_table *t, uint16_t voff, float dflt, float *out)
{
    uint32_t bits;
    memcpy(&bits, &dflt, 4);
    const mcb_status st = mcb_fb_u32(t, voff, bits, &bits);
    memcpy(out, &bits, 4);
    return st;
}

/* Position the offset field at voff points to; 0 if absent. */
static mcb_status offset_field(const mcb_fb_table *t, uint16_t voff, uint32_t *target)
{
    uint32_t pos;
    *target = 0;
    const mcb_status st = mcb_fb_field(t, voff, 4, &pos);
    if (st != MCB_OK || pos == 0) {
        return st;
    }
    return deref(t->buf, t->len, pos, target);
}

mcb_status mcb_fb_table_field(const mcb_fb_table *t, uint16_t voff, mcb_fb_table *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table_empty(out);
    uint32_t target;
    const mcb_status st = offset_field(t, voff, &target);
    if (st != MCB_OK || target == 0) {
        return st;
    }
    return mcb_fb_table_at(t->buf, t->len, target, out);
}

mcb_status mcb_fb_vector_field(const mcb_fb_table *t, uint16_t voff, uint32_t elem_size,
                               mcb_fb_vector *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    memset(out, 0, sizeof *out);
    out->elem_size = elem_size;
    if (elem_size == 0 || elem_size > 16) {
        return MCB_ERR_ARG;
    }
    uint32_t target;
    const mcb_status st = offset_field(t, voff, &target);
    if (st != MCB_OK || target == 0) {
        return st;
    }
    return vector_at(t->buf, t->len, target, elem_size, out);
}

mcb_status mcb_fb_string_field(const mcb_fb_table *t, uint16_t voff, mcb_fb_string *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    out->data = NULL;
    out->len = 0;
    uint32_t target;
    const mcb_status st = offset_field(t, voff, &target);
    if (st != MCB_OK || target == 0) {
        return st;
    }
    return string_at(t->buf, t->len, target, out);
}

mcb_status mcb_fb_union_field(const mcb_fb_table *t, uint16_t type_voff, uint16_t value_voff,
                              uint8_t *type, mcb_fb_table *value)
{
    if (type == NULL || value == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table_empty(value);
    const mcb_status st = mcb_fb_u8(t, type_voff, 0, type);
    if (st != MCB_OK || *type == 0) {
        return st;
    }
    return mcb_fb_table_field(t, value_voff, value);
}

/* Position of element i, after checking i and the element size. */
static mcb_status element(const mcb_fb_vector *v, uint32_t i, uint32_t elem_size, uint32_t *pos)
{
    if (v == NULL || i >= v->count || v->elem_size != elem_size) {
        return MCB_ERR_ARG;
    }
    *pos = v->pos + i * elem_size; /* < len: the whole vector was checked */
    return MCB_OK;
}

mcb_status mcb_fb_vec_u8(const mcb_fb_vector *v, uint32_t i, uint8_t *out)
{
    uint32_t pos;
    const mcb_status st = element(v, i, 1, &pos);
    *out = st == MCB_OK ? v->buf[pos] : 0u;
    return st;
}

mcb_status mcb_fb_vec_u32(const mcb_fb_vector *v, uint32_t i, uint32_t *out)
{
    uint32_t pos;
    const mcb_status st = element(v, i, 4, &pos);
    *out = st == MCB_OK ? mcb_fb_load_u32(&v->buf[pos]) : 0u;
    return st;
}

mcb_status mcb_fb_vec_i32(const mcb_fb_vector *v, uint32_t i, int32_t *out)
{
    uint32_t u;
    const mcb_status st = mcb_fb_vec_u32(v, i, &u);
    *out = as_i32(u);
    return st;
}

mcb_status mcb_fb_vec_i64(const mcb_fb_vector *v, uint32_t i, int64_t *out)
{
    uint32_t pos;
    const mcb_status st = element(v, i, 8, &pos);
    const uint64_t u = st == MCB_OK ? mcb_fb_load_u64(&v->buf[pos]) : 0u;
    memcpy(out, &u, 8);
    return st;
}

mcb_status mcb_fb_vec_f32(const mcb_fb_vector *v, uint32_t i, float *out)
{
    uint32_t u;
    const mcb_status st = mcb_fb_vec_u32(v, i, &u);
    memcpy(out, &u, 4);
    return st;
}

mcb_status mcb_fb_vec_table(const mcb_fb_vector *v, uint32_t i, mcb_fb_table *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    mcb_fb_table_empty(out);
    uint32_t pos;
    uint32_t target;
    mcb_status st = element(v, i, 4, &pos);
    if (st == MCB_OK) {
        st = deref(v->buf, v->len, pos, &target);
    }
    return st == MCB_OK ? mcb_fb_table_at(v->buf, v->len, target, out) : st;
}

mcb_status mcb_fb_vec_string(const mcb_fb_vector *v, uint32_t i, mcb_fb_string *out)
{
    if (out == NULL) {
        return MCB_ERR_ARG;
    }
    out->data = NULL;
    out->len = 0;
    uint32_t pos;
    uint32_t target;
    mcb_status st = element(v, i, 4, &pos);
    if (st == MCB_OK) {
        st = deref(v->buf, v->len, pos, &target);
    }
    return st == MCB_OK ? string_at(v->buf, v->len, target, out) : st;
}

const uint8_t *mcb_fb_vec_data(const mcb_fb_vector *v)
{
    return (v != NULL && v->count > 0) ? &v->buf[v->pos] : NULL;
}
