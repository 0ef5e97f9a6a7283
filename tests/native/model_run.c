/*
 * Native test tool: runs models with the firmware's interpreter and reference
 * kernels.
 *
 *   model_run [--arena BYTES] [--reset-every N] MODEL [INPUT_BIN OUTPUT_BIN]
 *             [MODEL INPUT_BIN OUTPUT_BIN]...
 *   model_run --plan MODEL
 *
 * For each MODEL: opens it, prepares it in an arena of BYTES (default 4 MiB,
 * malloc'd to the byte so ASan sees any overrun), and with INPUT_BIN and
 * OUTPUT_BIN runs it once per invocation in INPUT_BIN: INPUT_BIN holds, for
 * each invocation, the raw bytes of all of subgraph 0's inputs in order (a
 * model without inputs is invoked once on an empty file), and OUTPUT_BIN gets,
 * for each, all outputs' raw bytes in order. State carries over, except that
 * with --reset-every N the interpreter is reset (mcb_interpreter_reset) before
 * invocations N, 2N, ... (counting from 0). Prints one JSON line per
 * model: {"ok": true, "arena": {...}} or {"ok": false, "code": ..., "node": ...,
 * "message": ..., "arena_need": ..., "arena_need_exact": ...}.
 * --plan prints the planner's placement of every tensor and scratch buffer
 * (mcb_plan_model, no kernels).
 *
 * Exit status: 0 all ran, 1 a model was rejected, 2 usage or I/O error.
 * tests/test_interpreter_native.py builds this with ASan and UBSan.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcb/interpreter.h"
#include "mcb/planner.h"

#define DEFAULT_ARENA (4u << 20)

static void json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c >= 0x20 && c < 0x7F) {
            putchar(c);
        } else {
            printf("\\u%04x", c);
        }
    }
    putchar('"');
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    const long size = ftell(f);
    uint8_t *buf = size >= 0 ? malloc((size_t)size + 1u) : NULL; /* +1: never malloc(0) */
    if (buf == NULL || fseek(f, 0, SEEK_SET) != 0 ||
        fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

static void print_error(const mcb_interp_error *e)
{
    printf("{\"ok\": false, \"code\": \"%s\", \"node\": %" PRId32 ", \"message\": ",
           mcb_interp_error_name(e->code), e->node);
    json_string(e->message);
    printf(", \"arena_need\": %" PRIu32 ", \"arena_need_exact\": %s}\n", e->arena_need,
           e->arena_need_exact ? "true" : "false");
}

static void print_model_error(const mcb_model_error *e)
{
    printf("{\"ok\": false, \"code\": \"MODEL_%s\", \"node\": %" PRId32 ", \"message\": ",
           mcb_model_error_name(e->code), e->op);
    json_string(e->message);
    printf(", \"arena_need\": 0, \"arena_need_exact\": false}\n");
}

/* Sum of the sizes of subgraph 0's inputs (or outputs); -1 if one is not a plain tensor. */
static long io_bytes(const mcb_interpreter *it, bool inputs)
{
    const uint32_t n = inputs ? mcb_interpreter_input_count(it) : mcb_interpreter_output_count(it);
    long total = 0;
    for (uint32_t k = 0; k < n; k++) {
        mcb_tensor_view v;
        const int32_t t = inputs ? mcb_interpreter_input(it, k) : mcb_interpreter_output(it, k);
        if (t < 0 || mcb_interpreter_tensor(it, (uint32_t)t, &v) != MCB_OK ||
            (inputs ? v.data == NULL : v.cdata == NULL)) {
            return -1;
        }
        total += (long)v.bytes;
    }
    return total;
}

/*
 * in_buf holds K invocations' inputs, each all of subgraph 0's inputs in order;
 * writes K invocations' outputs, each all outputs in order. 0, 1 or 2 as run_one.
 */
static int run_invocations(mcb_interpreter *it, const char *model_path, const uint8_t *in_buf,
                           size_t in_len, const char *output_path, size_t reset_every,
                           mcb_interp_error *err)
{
    const long per_in = io_bytes(it, true);
    const long per_out = io_bytes(it, false);
    if (per_in < 0 || per_out < 0) {
        fprintf(stderr, "model_run: %s: an input or output has no data\n", model_path);
        return 2;
    }
    if ((per_in == 0 && in_len != 0) || (per_in > 0 && in_len % (size_t)per_in != 0)) {
        fprintf(stderr, "model_run: %s: %zu input bytes, one invocation takes %ld\n", model_path,
                in_len, per_in);
        return 2;
    }
    const size_t invocations = per_in > 0 ? in_len / (size_t)per_in : 1u;
    FILE *f = fopen(output_path, "wb");
    if (f == NULL) {
        fprintf(stderr, "model_run: cannot write %s\n", output_path);
        return 2;
    }
    int rc = 0;
    const uint8_t *src = in_buf;
    for (size_t k = 0; k < invocations && rc == 0; k++) {
        for (uint32_t i = 0; i < mcb_interpreter_input_count(it); i++) {
            mcb_tensor_view v;
            (void)mcb_interpreter_tensor(it, (uint32_t)mcb_interpreter_input(it, i), &v);
            memcpy(v.data, src, v.bytes);
            src += v.bytes;
        }
        if (reset_every > 0 && k > 0 && k % reset_every == 0 &&
            mcb_interpreter_reset(it, err) != MCB_OK) {
            print_error(err);
            rc = 1;
            break;
        }
        if (mcb_interpreter_invoke(it, err) != MCB_OK) {
            print_error(err);
            rc = 1;
            break;
        }
        for (uint32_t i = 0; i < mcb_interpreter_output_count(it); i++) {
            mcb_tensor_view v;
            (void)mcb_interpreter_tensor(it, (uint32_t)mcb_interpreter_output(it, i), &v);
            if (fwrite(v.cdata, 1, v.bytes, f) != v.bytes) {
                fprintf(stderr, "model_run: cannot write %s\n", output_path);
                rc = 2;
                break;
            }
        }
    }
    fclose(f);
    return rc;
}

/* 0 ran, 1 rejected, 2 I/O error. */
static int run_one(const char *model_path, const char *input_path, const char *output_path,
                   size_t arena_bytes, size_t reset_every)
{
    size_t model_len = 0;
    uint8_t *model_buf = read_file(model_path, &model_len);
    if (model_buf == NULL) {
        fprintf(stderr, "model_run: cannot read %s\n", model_path);
        return 2;
    }
    uint8_t *arena = malloc(arena_bytes > 0 ? arena_bytes : 1u);
    int rc = 0;
    mcb_model model;
    mcb_model_error merr;
    mcb_interpreter it;
    mcb_interp_error err;
    if (mcb_model_open(&model, model_buf, model_len, &merr) != MCB_OK) {
        print_model_error(&merr);
        rc = 1;
    } else if (mcb_interpreter_init(&it, &model, arena, arena_bytes, mcb_kernels_reference(),
                                    &err) != MCB_OK) {
        print_error(&err);
        rc = 1;
    } else if (input_path != NULL) {
        size_t in_len = 0;
        uint8_t *in_buf = read_file(input_path, &in_len);
        if (in_buf == NULL) {
            fprintf(stderr, "model_run: cannot read %s\n", input_path);
            rc = 2;
        } else {
            rc = run_invocations(&it, model_path, in_buf, in_len, output_path, reset_every,
                                 &err);
        }
        free(in_buf);
    }
    if (rc == 0) {
        mcb_arena_stats s;
        (void)mcb_interpreter_arena(&it, &s);
        printf("{\"ok\": true, \"arena\": {\"arena_bytes\": %" PRIu32
               ", \"nonpersistent_bytes\": %" PRIu32 ", \"scratch_bytes\": %" PRIu32
               ", \"persistent_bytes\": %" PRIu32 ", \"planner_bytes\": %" PRIu32
               ", \"required_bytes\": %" PRIu32 "}}\n",
               s.arena_bytes, s.nonpersistent_bytes, s.scratch_bytes, s.persistent_bytes,
               s.planner_bytes, s.required_bytes);
    }
    free(arena);
    free(model_buf);
    return rc;
}

static int plan_one(const char *model_path)
{
    size_t len = 0;
    uint8_t *buf = read_file(model_path, &len);
    mcb_model model;
    mcb_model_error merr;
    mcb_plan_error perr;
    mcb_plan_result plan;
    if (buf == NULL) {
        fprintf(stderr, "model_run: cannot read %s\n", model_path);
        return 2;
    }
    if (mcb_model_open(&model, buf, len, &merr) != MCB_OK) {
        print_model_error(&merr);
        free(buf);
        return 1;
    }
    const size_t work_bytes = mcb_plan_model_work_bytes(&model);
    void *work = malloc(work_bytes > 0 ? work_bytes : 1u);
    memset(&perr, 0, sizeof perr);
    if (mcb_plan_model(&model, work, work_bytes, &plan, &perr) != MCB_OK) {
        printf("{\"ok\": false, \"message\": ");
        json_string(perr.message);
        printf("}\n");
        free(work);
        free(buf);
        return 1;
    }
    printf("{\"ok\": true, \"peak\": %" PRIu32 ", \"buffers\": [", plan.peak);
    const char *sep = "";
    uint32_t sg = 0;
    uint32_t next_base = 0;
    uint32_t base = 0;
    for (uint32_t i = 0; i < plan.n_buffers; i++) {
        const mcb_plan_buffer *b = &plan.buffers[i];
        while (i < plan.n_tensors && i >= next_base) { /* which subgraph tensor i is in */
            base = next_base;
            next_base = mcb_plan_tensor_base(&model, sg + 1u);
            sg++;
        }
        if (b->size == 0) {
            continue;
        }
        if (i < plan.n_tensors) {
            printf("%s[%" PRIu32 ", %" PRIu32 ", null", sep, sg - 1u, i - base);
        } else {
            printf("%s[%u, null, %u", sep, (unsigned)b->subgraph, (unsigned)b->op);
        }
        printf(", %" PRIu32 ", %" PRId32 ", %" PRId32 ", %" PRIu32 "]", b->size, b->first,
               b->last, b->offset);
        sep = ", ";
    }
    printf("]}\n");
    free(work);
    free(buf);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: model_run [--arena BYTES] [--reset-every N] MODEL "
                    "[INPUT_BIN OUTPUT_BIN] ...\n"
                    "       model_run --plan MODEL\n");
    return 2;
}

int main(int argc, char **argv)
{
    size_t arena_bytes = DEFAULT_ARENA;
    size_t reset_every = 0;
    int i = 1;
    if (argc == 3 && strcmp(argv[1], "--plan") == 0) {
        return plan_one(argv[2]);
    }
    while (argc > i + 1 &&
           (strcmp(argv[i], "--arena") == 0 || strcmp(argv[i], "--reset-every") == 0)) {
        char *end;
        const size_t value = (size_t)strtoull(argv[i + 1], &end, 10);
        if (*end != '\0') {
            return usage();
        }
        *(strcmp(argv[i], "--arena") == 0 ? &arena_bytes : &reset_every) = value;
        i += 2;
    }
    if (i >= argc) {
        return usage();
    }
    if (argc - i == 1) {
        return run_one(argv[i], NULL, NULL, arena_bytes, reset_every);
    }
    if ((argc - i) % 3 != 0) {
        return usage();
    }
    int rc = 0;
    for (; i < argc; i += 3) {
        const int one = run_one(argv[i], argv[i + 1], argv[i + 2], arena_bytes, reset_every);
        rc = one > rc ? one : rc;
        fflush(stdout);
    }
    return rc;
}
