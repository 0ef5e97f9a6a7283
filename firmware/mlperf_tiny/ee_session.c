/* An MLPerf Tiny benchmark session over the runtime (ee_session.h, docs/mlperf_tiny.md). */
#include "ee_session.h"

#include <string.h>

#include "mcb/model_extra.h"
#include "mcb/msg.h"
#include "mcb/version.h"

#define ARENA_ALIGN 16u
#define DB_PRINT_PER_LINE 8u  /* bytes per m-buffer- line, as the reference prints them */
#define FLOAT_DECIMALS 6u     /* float32 outputs: no scale to derive a precision from */
#define RESULTS_FLUSH_AT 96u  /* characters of m-results-[...] gathered before a write */
#define ECHO_MAX 32u          /* characters of an unknown command repeated in the error */
#define ERROR_MAX 240u        /* characters of an error message */

/* The reference harness's firmware version string: what m-profile-[...] reports. */
static const char ee_fw_version[] = "ULPMark for tinyML Firmware V0.0.1";

/* ---- output -------------------------------------------------------------- */

static void put(const mcb_ee_session *s, const char *text, size_t len)
{
    if (len > 0u) {
        (void)s->cfg.write(s->cfg.write_user, (const uint8_t *)text, len);
    }
}

static void put_str(const mcb_ee_session *s, const char *text)
{
    put(s, text, strlen(text));
}

/* One reply line: the message's text and CR LF, as the reference ends every line. */
static void put_line(const mcb_ee_session *s, const mcb_msg *m)
{
    put(s, m->text, m->len);
    put_str(s, "\r\n");
}

static void put_text_line(const mcb_ee_session *s, const char *text)
{
    put_str(s, text);
    put_str(s, "\r\n");
}

/* e-[text]; brackets and control characters in text become '?' (model names may hold them). */
static void put_error(const mcb_ee_session *s, const char *text)
{
    char line[ERROR_MAX + 8u];
    mcb_msg m;
    mcb_msg_init(&m, line, sizeof line);
    mcb_msg_str(&m, "e-[");
    mcb_ee_msg_sanitized(&m, text, (uint32_t)strlen(text), ERROR_MAX);
    mcb_msg_char(&m, ']');
    put_line(s, &m);
}

/* ---- time ---------------------------------------------------------------- */

/*
 * Counter ticks to microseconds. ticks * 1e6 would overflow 64 bits after
 * 1.8e13 ticks, so whole seconds and the remainder are scaled apart; the
 * remainder is < hz < 2^32, so rem * 1e6 < 2^52.
 */
static uint64_t ticks_to_us(uint64_t ticks, uint32_t hz)
{
    if (hz == 0u) {
        return ticks;
    }
    return (ticks / hz) * 1000000u + (ticks % hz) * 1000000u / hz;
}

/* m-lap-us-N: the message the reference's th_timestamp prints in performance mode. */
static void put_lap(const mcb_ee_session *s, uint64_t ticks)
{
    char text[40];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-lap-us-");
    mcb_ee_msg_u64(&m, ticks_to_us(ticks, s->cfg.counter_hz));
    put_line(s, &m);
}

/* ---- setup --------------------------------------------------------------- */

static mcb_msg fail_msg(mcb_ee_session *s)
{
    mcb_msg m;
    mcb_msg_init(&m, s->fail, sizeof s->fail);
    return m;
}

/*
 * The MLPerf Tiny benchmark a model is, told by its one int8 input's shape
 * (the runner picks its data set by this name).
 */
static const char *detect_model_id(const mcb_model *model, const mcb_subgraph_info *sg)
{
    static const struct {
        const char *id;
        uint32_t rank;
        int32_t dims[4];
    } known[] = {
        {"kws01", 4u, {1, 49, 10, 1}}, /* 49 x 10 MFCCs */
        {"vww01", 4u, {1, 96, 96, 3}}, /* 96 x 96 RGB */
        {"ic01", 4u, {1, 32, 32, 3}},  /* 32 x 32 RGB */
        {"ad01", 2u, {1, 640, 0, 0}},  /* 640 features */
    };
    mcb_tensor_info t;
    if (sg->n_inputs != 1u || mcb_model_tensor(model, 0, (uint32_t)sg->inputs[0], &t) != MCB_OK ||
        t.type != MCB_TYPE_INT8) {
        return "unknown";
    }
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        bool same = t.rank == known[k].rank;
        for (uint32_t d = 0; same && d < t.rank; d++) {
            same = t.shape[d] == known[k].dims[d];
        }
        if (same) {
            return known[k].id;
        }
    }
    return "unknown";
}

/* Bytes of one tensor from the model, or false (with s->fail) if it has no fixed size. */
static bool tensor_bytes(mcb_ee_session *s, const mcb_tensor_info *t, const char *what, uint32_t i,
                         uint64_t *out)
{
    const uint32_t bits = mcb_tensor_type_bits(t->type);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < t->rank && elements <= UINT32_MAX; d++) {
        elements *= (uint64_t)t->shape[d];
    }
    if (bits == 0u || bits % 8u != 0u || elements > UINT32_MAX) {
        mcb_msg m = fail_msg(s);
        mcb_msg_str(&m, what);
        mcb_msg_fmt(&m, " %u (", i, 0, 0);
        mcb_msg_str(&m, mcb_tensor_type_name((int32_t)t->type));
        mcb_msg_str(&m, ") has no fixed byte size");
        return false;
    }
    *out = elements * (bits / 8u);
    return true;
}

/* Whether m-results-[...] can print this output, and how many values it adds. */
static bool check_output(mcb_ee_session *s, uint32_t i, const mcb_tensor_info *t,
                         uint64_t *values)
{
    uint64_t bytes = 0;
    switch (t->type) {
    case MCB_TYPE_INT8:
    case MCB_TYPE_UINT8:
    case MCB_TYPE_INT16:
    case MCB_TYPE_INT32:
    case MCB_TYPE_INT64:
    case MCB_TYPE_BOOL:
    case MCB_TYPE_FLOAT32:
        break;
    default: {
        mcb_msg m = fail_msg(s);
        mcb_msg_fmt(&m, "output %u is ", i, 0, 0);
        mcb_msg_str(&m, mcb_tensor_type_name((int32_t)t->type));
        mcb_msg_str(&m, ": results print INT8, UINT8, INT16, INT32, INT64, BOOL and FLOAT32");
        return false;
    }
    }
    if (t->quant.n_scales > 1u) {
        mcb_msg m = fail_msg(s);
        mcb_msg_fmt(&m, "output %u is quantised per channel: results need one scale", i, 0, 0);
        return false;
    }
    if (!tensor_bytes(s, t, "output", i, &bytes)) {
        return false;
    }
    *values = bytes / (mcb_tensor_type_bits(t->type) / 8u);
    return true;
}

/* Sizes the inputs and outputs from the model; false with s->fail set if unusable. */
static bool size_io(mcb_ee_session *s, const mcb_subgraph_info *sg)
{
    uint64_t in_total = 0;
    uint64_t out_total = 0;
    for (uint32_t i = 0; i < sg->n_inputs; i++) {
        mcb_tensor_info t;
        uint64_t bytes = 0;
        if (mcb_model_tensor(&s->model, 0, (uint32_t)sg->inputs[i], &t) != MCB_OK ||
            !tensor_bytes(s, &t, "input", i, &bytes)) {
            if (s->fail[0] == '\0') {
                mcb_msg m = fail_msg(s);
                mcb_msg_fmt(&m, "input %u cannot be read from the model", i, 0, 0);
            }
            return false;
        }
        in_total += bytes;
    }
    for (uint32_t i = 0; i < sg->n_outputs; i++) {
        mcb_tensor_info t;
        uint64_t values = 0;
        if (mcb_model_tensor(&s->model, 0, (uint32_t)sg->outputs[i], &t) != MCB_OK ||
            !check_output(s, i, &t, &values)) {
            return false;
        }
        out_total += values;
    }
    if (sg->n_inputs == 0u || sg->n_outputs == 0u || in_total == 0u) {
        mcb_msg m = fail_msg(s);
        mcb_msg_fmt(&m, "the model has %u inputs (%u bytes) and %u outputs: nothing to load",
                    sg->n_inputs, (uint32_t)in_total, sg->n_outputs);
        return false;
    }
    if (in_total > s->cfg.pool_bytes || out_total > UINT32_MAX) {
        mcb_msg m = fail_msg(s);
        mcb_msg_fmt(&m, "the model's inputs take %u bytes; the board has %u bytes of RAM",
                    (uint32_t)(in_total > UINT32_MAX ? UINT32_MAX : in_total),
                    s->cfg.pool_bytes, 0);
        return false;
    }
    s->input_bytes = (uint32_t)in_total;
    s->output_values = (uint32_t)out_total;
    return true;
}

/* Every input a writable tensor of the size the model says, once the interpreter is ready. */
static bool check_inputs(mcb_ee_session *s)
{
    uint64_t total = 0;
    const uint32_t n = mcb_interpreter_input_count(&s->interpreter);
    for (uint32_t i = 0; i < n; i++) {
        mcb_tensor_view v;
        const int32_t t = mcb_interpreter_input(&s->interpreter, i);
        if (t < 0 || mcb_interpreter_tensor(&s->interpreter, (uint32_t)t, &v) != MCB_OK ||
            v.data == NULL) {
            mcb_msg m = fail_msg(s);
            mcb_msg_fmt(&m, "input %u is not a writable tensor", i, 0, 0);
            return false;
        }
        total += v.bytes;
    }
    if (total != s->input_bytes) {
        mcb_msg m = fail_msg(s);
        mcb_msg_fmt(&m, "inputs take %u bytes in the arena, %u in the model", (uint32_t)total,
                    s->input_bytes, 0);
        return false;
    }
    return true;
}

static void setup_model(mcb_ee_session *s)
{
    const mcb_ee_config *c = &s->cfg;
    if (c->model == NULL || c->model_bytes == 0u) {
        mcb_msg m = fail_msg(s);
        mcb_msg_str(&m, "no model in this firmware: build it with mcubench build --board ");
        mcb_msg_str(&m, c->board);
        mcb_msg_str(&m, " --app mlperf-tiny --model M");
        return;
    }
    mcb_model_error merr;
    if (mcb_model_open(&s->model, c->model, c->model_bytes, &merr) != MCB_OK) {
        mcb_msg m = fail_msg(s);
        mcb_msg_str(&m, "the embedded model is invalid: ");
        mcb_msg_str(&m, merr.message);
        return;
    }
    mcb_subgraph_info sg;
    if (mcb_model_subgraph(&s->model, 0, &sg) != MCB_OK || !size_io(s, &sg)) {
        if (s->fail[0] == '\0') {
            mcb_msg m = fail_msg(s);
            mcb_msg_str(&m, "the embedded model has no subgraph 0");
        }
        return;
    }
    s->model_id = detect_model_id(&s->model, &sg);
    const uint32_t arena_at =
        s->input_bytes + (ARENA_ALIGN - s->input_bytes % ARENA_ALIGN) % ARENA_ALIGN;
    const uint32_t arena_bytes = arena_at < c->pool_bytes ? c->pool_bytes - arena_at : 0u;
    s->db = c->pool;
    mcb_interp_error err;
    if (mcb_interpreter_init(&s->interpreter, &s->model, c->pool + arena_at, arena_bytes,
                             c->kernels, &err) != MCB_OK) {
        mcb_msg m = fail_msg(s);
        mcb_msg_str(&m, "the embedded model cannot run: ");
        mcb_msg_str(&m, err.message);
        return;
    }
    (void)check_inputs(s);
}

mcb_status mcb_ee_session_init(mcb_ee_session *s, const mcb_ee_config *cfg)
{
    if (s == NULL || cfg == NULL || cfg->write == NULL || cfg->counter == NULL) {
        return MCB_ERR_ARG;
    }
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.board == NULL) {
        s->cfg.board = "unknown";
    }
    s->model_id = "unknown";
    mcb_ee_line_init(&s->line);
    if (s->cfg.kernels == NULL || (s->cfg.pool == NULL && s->cfg.pool_bytes > 0u)) {
        mcb_msg m = fail_msg(s);
        mcb_msg_str(&m, "firmware misconfigured: no kernels or no RAM pool");
    } else {
        setup_model(s);
    }
    return MCB_OK;
}

/* ---- commands ------------------------------------------------------------ */

static void on_name(const mcb_ee_session *s)
{
    char text[96];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-name-dut-[mcubench ");
    mcb_ee_msg_sanitized(&m, s->cfg.board, (uint32_t)strlen(s->cfg.board), 40u);
    mcb_msg_char(&m, ']');
    put_line(s, &m);
}

static void on_profile(const mcb_ee_session *s)
{
    char text[160];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-profile-[");
    mcb_msg_str(&m, ee_fw_version);
    mcb_msg_char(&m, ']');
    put_line(s, &m);

    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-model-[");
    mcb_msg_str(&m, s->model_id);
    mcb_msg_char(&m, ']');
    put_line(s, &m);

    /* Not in the reference: what the scripted client checks uploads and laps against. */
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-mcubench-[firmware=" MCB_FIRMWARE_VERSION ",board=");
    mcb_ee_msg_sanitized(&m, s->cfg.board, (uint32_t)strlen(s->cfg.board), 40u);
    mcb_msg_fmt(&m, ",counter_hz=%u,input_bytes=%u,output_values=%u]", s->cfg.counter_hz,
                s->input_bytes, s->output_values);
    put_line(s, &m);
}

static void on_help(const mcb_ee_session *s)
{
    static const char *const lines[] = {
        ee_fw_version,
        "mcubench MLPerf Tiny mode (docs/mlperf_tiny.md); every command ends with %",
        "name          : m-name-dut-[...]",
        "profile       : m-profile-[...], m-model-[...]",
        "timestamp     : m-lap-us-N (device microseconds)",
        "db load N     : expect N input bytes",
        "db HH[HH]*    : input bytes as hex, until N",
        "db print [N [offset]] : the input buffer as hex",
        "infer N [W]   : W warmups (default 10), then N timed inferences (default 1)",
        "results       : m-results-[...] of the last infer",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        put_text_line(s, lines[i]);
    }
}

static void on_db_load(mcb_ee_session *s, const mcb_ee_command *c)
{
    char text[128];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    if (c->n > s->input_bytes) {
        mcb_msg_fmt(&m, "db load %u: the model's input takes %u bytes", c->n, s->input_bytes, 0);
        put_error(s, text);
        return;
    }
    s->db_size = c->n;
    s->db_pos = 0;
    mcb_msg_fmt(&m, "m-[Expecting %u bytes]", c->n, 0, 0);
    put_line(s, &m);
}

static void on_db_data(mcb_ee_session *s, const mcb_ee_command *c)
{
    char text[128];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    const uint32_t bytes = c->arg_len / 2u;
    if (s->db_size == 0u) {
        put_error(s, "db without db load: send db load N first");
        return;
    }
    const uint32_t left = s->db_size - s->db_pos;
    if (left == 0u) {
        mcb_msg_fmt(&m, "all %u bytes are loaded: db load N starts over", s->db_size, 0, 0);
        put_error(s, text);
        return;
    }
    if (bytes > left) {
        mcb_msg_fmt(&m, "db chunk of %u bytes: only %u of %u remain (nothing stored)", bytes, left,
                    s->db_size);
        put_error(s, text);
        return;
    }
    mcb_ee_hex_decode(c->arg, bytes, &s->db[s->db_pos]);
    s->db_pos += bytes;
    if (s->db_pos == s->db_size) {
        put_text_line(s, "m-load-done");
    }
}

static void on_db_print(const mcb_ee_session *s, const mcb_ee_command *c)
{
    static const char hex[] = "0123456789abcdef";
    char text[128];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    if (s->db_size == 0u) {
        put_error(s, "nothing to print: db load N first");
        return;
    }
    const uint32_t offset = c->has_w ? c->w : 0u;
    if (offset > s->db_size || (c->has_n && c->n > s->db_size - offset)) {
        mcb_msg_fmt(&m, "db print: bytes %u.. (%u of them) are outside the %u of db load", offset,
                    c->has_n ? c->n : 0u, s->db_size);
        put_error(s, text);
        return;
    }
    const uint32_t count = c->has_n ? c->n : s->db_size - offset;
    for (uint32_t i = 0; i < count; i++) {
        if (i % DB_PRINT_PER_LINE == 0u) {
            mcb_msg_init(&m, text, sizeof text);
            mcb_msg_str(&m, "m-buffer-");
        } else {
            mcb_msg_char(&m, '-');
        }
        const uint8_t b = s->db[offset + i];
        mcb_msg_char(&m, hex[b >> 4]);
        mcb_msg_char(&m, hex[b & 0xFu]);
        if ((i + 1u) % DB_PRINT_PER_LINE == 0u || i + 1u == count) {
            put_line(s, &m);
        }
    }
}

/* The input buffer into the input tensors (the arena may reuse their memory). */
static void copy_inputs(mcb_ee_session *s)
{
    uint32_t at = 0;
    const uint32_t n = mcb_interpreter_input_count(&s->interpreter);
    for (uint32_t i = 0; i < n; i++) {
        mcb_tensor_view v;
        (void)mcb_interpreter_tensor(&s->interpreter,
                                     (uint32_t)mcb_interpreter_input(&s->interpreter, i), &v);
        memcpy(v.data, &s->db[at], v.bytes);
        at += v.bytes;
    }
}

/* count inferences, each on a fresh copy of the input; false with e-[...] sent on failure. */
static bool run(mcb_ee_session *s, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        mcb_interp_error err;
        copy_inputs(s);
        if (mcb_interpreter_invoke(&s->interpreter, &err) != MCB_OK) {
            char text[MCB_INTERP_MSG_SIZE + 24];
            mcb_msg m;
            mcb_msg_init(&m, text, sizeof text);
            mcb_msg_str(&m, "inference failed: ");
            mcb_msg_str(&m, err.message);
            put_error(s, text);
            return false;
        }
    }
    return true;
}

/* One output value as results print it; see docs/mlperf_tiny.md, "Results". */
static void msg_value(mcb_msg *m, const mcb_tensor_view *v, const mcb_quant_info *q, uint32_t i)
{
    const uint8_t *p = v->cdata;
    int64_t iv = 0;
    switch (v->type) {
    case MCB_TYPE_FLOAT32: {
        float f;
        memcpy(&f, &p[4u * i], sizeof f);
        mcb_ee_msg_fixed(m, f, FLOAT_DECIMALS);
        return;
    }
    case MCB_TYPE_INT8:
        iv = (int8_t)p[i];
        break;
    case MCB_TYPE_UINT8:
    case MCB_TYPE_BOOL:
        iv = p[i];
        break;
    case MCB_TYPE_INT16: {
        int16_t x;
        memcpy(&x, &p[2u * i], sizeof x);
        iv = x;
        break;
    }
    case MCB_TYPE_INT32: {
        int32_t x;
        memcpy(&x, &p[4u * i], sizeof x);
        mcb_ee_msg_i64(m, x);
        return;
    }
    default: { /* INT64, the only other type check_output lets through */
        int64_t x;
        memcpy(&x, &p[8u * i], sizeof x);
        mcb_ee_msg_i64(m, x);
        return;
    }
    }
    if (v->type == MCB_TYPE_BOOL || q->n_scales != 1u) {
        mcb_ee_msg_i64(m, iv);
        return;
    }
    /* TFLM's DequantizeInt8ToFloat: (float)(q - zero_point) * scale, in single precision. */
    const float scale = mcb_quant_scale(q, 0);
    const float real = (float)(iv - mcb_quant_zero_point(q, 0)) * scale;
    mcb_ee_msg_fixed(m, real, mcb_ee_decimals_for_scale(scale));
}

static void put_results(const mcb_ee_session *s)
{
    char text[RESULTS_FLUSH_AT + 64u];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "m-results-[");
    bool first = true;
    const uint32_t n = mcb_interpreter_output_count(&s->interpreter);
    for (uint32_t o = 0; o < n; o++) {
        const int32_t t = mcb_interpreter_output(&s->interpreter, o);
        mcb_tensor_view v;
        mcb_tensor_info ti;
        (void)mcb_interpreter_tensor(&s->interpreter, (uint32_t)t, &v);
        (void)mcb_model_tensor(&s->model, 0, (uint32_t)t, &ti);
        const uint32_t count = v.bytes / (mcb_tensor_type_bits(v.type) / 8u);
        for (uint32_t i = 0; i < count; i++) {
            if (!first) {
                mcb_msg_char(&m, ',');
            }
            first = false;
            msg_value(&m, &v, &ti.quant, i);
            if (m.len >= RESULTS_FLUSH_AT) {
                put(s, m.text, m.len);
                mcb_msg_init(&m, text, sizeof text);
            }
        }
    }
    mcb_msg_char(&m, ']');
    put_line(s, &m);
}

static void on_infer(mcb_ee_session *s, const mcb_ee_command *c)
{
    char text[128];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    if (s->db_size != s->input_bytes || s->db_pos != s->db_size) {
        if (s->db_size == 0u) {
            mcb_msg_str(&m, "no input loaded: ");
        } else if (s->db_size != s->input_bytes) {
            mcb_msg_fmt(&m, "db load %u does not fit the model: ", s->db_size, 0, 0);
        } else {
            mcb_msg_fmt(&m, "input incomplete: %u of %u bytes loaded; ", s->db_pos, s->db_size,
                        0);
        }
        mcb_msg_fmt(&m, "the model takes %u bytes (db load %u, then db chunks)", s->input_bytes,
                    s->input_bytes, 0);
        put_error(s, text);
        return;
    }
    /* Each infer starts from the model's initial state, so a stateful model's results
       depend on this command only: W + N steps on the same input. */
    mcb_interp_error err;
    s->have_results = false;
    if (mcb_interpreter_reset(&s->interpreter, &err) != MCB_OK) {
        put_error(s, "interpreter reset failed");
        return;
    }
    mcb_msg_fmt(&m, "m-warmup-start-%u", c->w, 0, 0);
    put_line(s, &m);
    if (!run(s, c->w)) {
        return;
    }
    put_text_line(s, "m-warmup-done");
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_fmt(&m, "m-infer-start-%u", c->n, 0, 0);
    put_line(s, &m);
    /* Both laps are printed after the loop, so no UART time falls between them. */
    const uint64_t start = s->cfg.counter();
    const bool ok = run(s, c->n);
    const uint64_t end = s->cfg.counter();
    if (!ok) {
        return;
    }
    put_lap(s, start);
    put_lap(s, end);
    put_text_line(s, "m-infer-done");
    s->have_results = true;
    put_results(s);
}

static void on_unknown(const mcb_ee_session *s, const mcb_ee_command *c)
{
    char text[80];
    mcb_msg m;
    mcb_msg_init(&m, text, sizeof text);
    mcb_msg_str(&m, "Unknown command: ");
    mcb_ee_msg_sanitized(&m, c->arg, c->arg_len, ECHO_MAX);
    put_error(s, text);
}

/* The session cannot run its model: the reason, after the command word (so a client
   can tell its own command's answer from earlier output). */
static void on_failed(const mcb_ee_session *s, const char *line, uint32_t len)
{
    char text[MCB_EE_FAIL_SIZE + ECHO_MAX + 8u];
    mcb_msg m;
    uint32_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t')) {
        start++;
    }
    uint32_t end = start;
    while (end < len && line[end] != ' ' && line[end] != '\t') {
        end++;
    }
    mcb_msg_init(&m, text, sizeof text);
    mcb_ee_msg_sanitized(&m, &line[start], end - start, ECHO_MAX);
    mcb_msg_str(&m, ": ");
    mcb_msg_str(&m, s->fail);
    put_error(s, text);
}

void mcb_ee_session_command(mcb_ee_session *s, const char *line, uint32_t len)
{
    mcb_ee_command c;
    mcb_ee_parse(line, len, &c);
    if (c.kind != MCB_EE_CMD_EMPTY && s->fail[0] != '\0') {
        on_failed(s, line, len);
    } else {
        switch (c.kind) {
        case MCB_EE_CMD_EMPTY:
            break;
        case MCB_EE_CMD_NAME:
            on_name(s);
            break;
        case MCB_EE_CMD_PROFILE:
            on_profile(s);
            break;
        case MCB_EE_CMD_TIMESTAMP:
            put_lap(s, s->cfg.counter());
            break;
        case MCB_EE_CMD_HELP:
            on_help(s);
            break;
        case MCB_EE_CMD_DB_LOAD:
            on_db_load(s, &c);
            break;
        case MCB_EE_CMD_DB_DATA:
            on_db_data(s, &c);
            break;
        case MCB_EE_CMD_DB_PRINT:
            on_db_print(s, &c);
            break;
        case MCB_EE_CMD_INFER:
            on_infer(s, &c);
            break;
        case MCB_EE_CMD_RESULTS:
            if (s->have_results) {
                put_results(s);
            } else {
                put_error(s, "no results: run infer N W first");
            }
            break;
        case MCB_EE_CMD_UNKNOWN:
            on_unknown(s, &c);
            break;
        case MCB_EE_CMD_BAD:
        default:
            put_error(s, c.message);
            break;
        }
    }
    put_text_line(s, "m-ready");
}

void mcb_ee_session_feed(mcb_ee_session *s, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const mcb_ee_line_event ev = mcb_ee_line_feed(&s->line, data[i]);
        if (ev == MCB_EE_LINE_COMMAND) {
            mcb_ee_session_command(s, s->line.buf, s->line.len);
        } else if (ev == MCB_EE_LINE_TOO_LONG) {
            char text[80];
            mcb_msg m;
            mcb_msg_init(&m, text, sizeof text);
            mcb_msg_fmt(&m, "Command too long: more than %u characters", MCB_EE_LINE_MAX, 0, 0);
            mcb_msg_str(&m, " before %, ignored");
            put_error(s, text);
            put_text_line(s, "m-ready");
        }
    }
}

void mcb_ee_session_banner(mcb_ee_session *s)
{
    put_text_line(s, "m-timestamp-mode-performance");
    put_lap(s, s->cfg.counter());
    put_text_line(s, "m-init-done");
    if (s->fail[0] != '\0') {
        put_error(s, s->fail);
    }
    put_text_line(s, "m-ready");
}
