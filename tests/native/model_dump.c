/*
 * Native test tool: opens a .tflite file with the firmware's model reader and
 * prints a JSON summary of everything the accessors return, or the error.
 *
 *   model_dump [--misalign] FILE
 *
 * Exit status: 0 summary printed, 1 model rejected (error JSON printed),
 * 2 usage or I/O error. --misalign hands the reader a buffer one byte off
 * 4-byte alignment (it must refuse). tests/test_model_reader_c.py builds this
 * with ASan/UBSan and compares the JSON with the Python flatbuffers reader.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcb/crc.h"
#include "mcb/model.h"

static void json_bytes(const char *s, uint32_t len)
{
    putchar('"');
    for (uint32_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c >= 0x20 && c < 0x7F) {
            putchar(c);
        } else {
            printf("\\u%04x", c); /* one code point per byte: Python reads it as latin-1 */
        }
    }
    putchar('"');
}

static void json_string(const mcb_fb_string *s)
{
    if (s->data == NULL) {
        printf("null");
    } else {
        json_bytes(s->data, s->len);
    }
}

static void json_i32s(const int32_t *v, uint32_t n)
{
    putchar('[');
    for (uint32_t i = 0; i < n; i++) {
        printf("%s%" PRId32, i > 0 ? ", " : "", v[i]);
    }
    putchar(']');
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    return n > 0 ? mcb_crc32_update(MCB_CRC32_INIT, p, n) : 0u;
}

/* Offset of a pointer into the model, or -1 for NULL. */
static long long where(const uint8_t *base, const void *p)
{
    return p == NULL ? -1LL : (long long)((const uint8_t *)p - base);
}

/* Any accessor failing on a model that opened is a reader bug: exit 3. */
static void must(mcb_status st, const char *what)
{
    if (st != MCB_OK) {
        fflush(stdout);
        fprintf(stderr, "model_dump: %s failed (%d) on a validated model\n", what, (int)st);
        exit(3);
    }
}

static void dump_tensor(const mcb_model *m, const uint8_t *base, uint32_t sg, uint32_t t)
{
    mcb_tensor_info ti;
    must(mcb_model_tensor(m, sg, t, &ti), "mcb_model_tensor");
    const mcb_quant_info *q = &ti.quant;
    printf("{\"name\": ");
    json_string(&ti.name);
    printf(", \"type\": %d, \"shape\": ", (int)ti.type);
    json_i32s(ti.shape, ti.rank);
    printf(", \"buffer\": %" PRIu32 ", \"buffer_bytes\": %" PRIu32 ", \"data_offset\": %lld"
           ", \"data_crc32\": %" PRIu32 ", \"is_variable\": %s",
           ti.buffer, ti.data_bytes, where(base, ti.data), crc(ti.data, ti.data_bytes),
           ti.is_variable ? "true" : "false");
    uint32_t scale0 = 0;
    if (q->n_scales > 0) {
        const float f = mcb_quant_scale(q, 0);
        memcpy(&scale0, &f, sizeof scale0);
    }
    printf(", \"n_scales\": %" PRIu32 ", \"n_zero_points\": %" PRIu32 ", \"scale0_bits\": %" PRIu32
           ", \"zero_point0\": %" PRId64 ", \"scales_crc32\": %" PRIu32
           ", \"zero_points_crc32\": %" PRIu32 ", \"quantized_dimension\": %" PRId32 "}",
           q->n_scales, q->n_zero_points, scale0, mcb_quant_zero_point(q, 0),
           crc(q->scale, 4u * (size_t)q->n_scales), crc(q->zero_point, 8u * (size_t)q->n_zero_points),
           q->quantized_dimension);
}

static void dump_operator(const mcb_model *m, uint32_t sg, uint32_t i)
{
    mcb_operator_info op;
    mcb_fb_string custom;
    must(mcb_model_operator(m, sg, i, &op), "mcb_model_operator");
    must(mcb_model_custom_name(m, sg, i, &custom), "mcb_model_custom_name");
    printf("{\"opcode_index\": %" PRIu32 ", \"builtin_code\": %" PRId32 ", \"custom\": ",
           op.opcode_index, op.builtin_code);
    json_string(&custom);
    printf(", \"inputs\": ");
    json_i32s(op.inputs, op.n_inputs);
    printf(", \"outputs\": ");
    json_i32s(op.outputs, op.n_outputs);
    printf(", \"intermediates\": ");
    json_i32s(op.intermediates, op.n_intermediates);
    printf(", \"options_type\": %u, \"options_offset\": %lld, \"options2_type\": %u"
           ", \"options2_offset\": %lld}",
           op.options_type,
           mcb_fb_table_present(&op.options) ? (long long)op.options.pos : -1LL,
           op.options2_type,
           mcb_fb_table_present(&op.options2) ? (long long)op.options2.pos : -1LL);
}

static void dump(const mcb_model *m, const uint8_t *base, size_t len)
{
    printf("{\"ok\": true, \"bytes\": %zu, \"operator_codes\": [", len);
    for (uint32_t i = 0; i < mcb_model_opcode_count(m); i++) {
        mcb_opcode_info oc;
        must(mcb_model_opcode(m, i, &oc), "mcb_model_opcode");
        printf("%s{\"builtin_code\": %" PRId32 ", \"version\": %" PRId32 ", \"custom\": ",
               i > 0 ? ", " : "", oc.builtin_code, oc.version);
        json_string(&oc.custom_name);
        putchar('}');
    }
    printf("],\n \"buffers\": [");
    for (uint32_t i = 0; i < mcb_model_buffer_count(m); i++) {
        const uint8_t *data;
        uint32_t bytes;
        must(mcb_model_buffer(m, i, &data, &bytes), "mcb_model_buffer");
        printf("%s{\"bytes\": %" PRIu32 ", \"data_offset\": %lld}", i > 0 ? ", " : "", bytes,
               where(base, data));
    }
    printf("],\n \"subgraphs\": [");
    for (uint32_t sg = 0; sg < mcb_model_subgraph_count(m); sg++) {
        mcb_subgraph_info si;
        must(mcb_model_subgraph(m, sg, &si), "mcb_model_subgraph");
        printf("%s{\"name\": ", sg > 0 ? ",\n  " : "\n  ");
        json_string(&si.name);
        printf(", \"inputs\": ");
        json_i32s(si.inputs, si.n_inputs);
        printf(", \"outputs\": ");
        json_i32s(si.outputs, si.n_outputs);
        printf(",\n   \"tensors\": [");
        for (uint32_t t = 0; t < si.n_tensors; t++) {
            printf("%s", t > 0 ? ",\n    " : "\n    ");
            dump_tensor(m, base, sg, t);
        }
        printf("],\n   \"operators\": [");
        for (uint32_t i = 0; i < si.n_operators; i++) {
            printf("%s", i > 0 ? ",\n    " : "\n    ");
            dump_operator(m, sg, i);
        }
        printf("]}");
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    bool misalign = false;
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "--misalign") == 0) {
        misalign = true;
        argi++;
    }
    if (argi + 1 != argc) {
        fprintf(stderr, "usage: model_dump [--misalign] FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[argi], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        perror(argv[argi]);
        return 2;
    }
    const long size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(argv[argi]);
        return 2;
    }
    /*
     * Exactly size bytes after the (aligned) start, so ASan flags any read
     * past the end; malloc(0) may return NULL, hence the + 1 when empty.
     */
    const size_t off = misalign ? 1u : 0u;
    uint8_t *mem = malloc((size_t)size + off + (size == 0 ? 1u : 0u));
    if (mem == NULL || fread(mem + off, 1, (size_t)size, f) != (size_t)size) {
        perror(argv[argi]);
        return 2;
    }
    fclose(f);
    const uint8_t *buf = mem + off;

    mcb_model model;
    mcb_model_error err;
    const mcb_status st = mcb_model_open(&model, buf, (size_t)size, &err);
    int rc = 0;
    if (st == MCB_OK) {
        dump(&model, buf, (size_t)size);
    } else {
        printf("{\"ok\": false, \"status\": %d, \"code\": \"%s\", \"code_value\": %d, "
               "\"subgraph\": %" PRId32 ", \"operator\": %" PRId32 ", \"tensor\": %" PRId32
               ", \"message\": ",
               (int)st, mcb_model_error_name(err.code), (int)err.code, err.subgraph, err.op,
               err.tensor);
        json_bytes(err.message, (uint32_t)strlen(err.message));
        printf("}\n");
        rc = 1;
    }
    free(mem);
    return rc;
}
