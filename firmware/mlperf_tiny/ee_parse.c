/* MLPerf Tiny command text: assembly, parsing, number formatting (ee_parse.h). */
#include "ee_parse.h"

#include <string.h>

#define MAX_WORDS 5u    /* one more than any command takes, to notice extra words */
#define ECHO_MAX 24u    /* characters of a bad word repeated in an error */
#define DECIMALS_MAX 9u /* 10^9 < 2^30: scaled values stay exact in 64 bits */

/* ---- command assembly ---------------------------------------------------- */

void mcb_ee_line_init(mcb_ee_line *l)
{
    memset(l, 0, sizeof *l);
}

mcb_ee_line_event mcb_ee_line_feed(mcb_ee_line *l, uint8_t byte)
{
    if (l->done) {
        l->len = 0;
        l->total = 0;
        l->done = false;
    }
    if (byte == '\r' || byte == '\n') {
        return MCB_EE_LINE_MORE;
    }
    if (byte == '%') {
        l->done = true;
        return l->total > MCB_EE_LINE_MAX ? MCB_EE_LINE_TOO_LONG : MCB_EE_LINE_COMMAND;
    }
    if (l->len < MCB_EE_LINE_MAX) {
        l->buf[l->len++] = (char)byte;
    }
    if (l->total <= MCB_EE_LINE_MAX) {
        l->total++; /* stops just past the limit: only "too long" matters beyond it */
    }
    return MCB_EE_LINE_MORE;
}

/* ---- words and numbers --------------------------------------------------- */

typedef struct {
    const char *p;
    uint32_t len;
} word;

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Splits line into words[0..MAX_WORDS); returns how many there are (at most MAX_WORDS). */
static uint32_t split(const char *line, uint32_t len, word words[MAX_WORDS])
{
    uint32_t n = 0;
    uint32_t i = 0;
    while (i < len && n < MAX_WORDS) {
        while (i < len && is_space(line[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        const uint32_t start = i;
        while (i < len && !is_space(line[i])) {
            i++;
        }
        words[n].p = &line[start];
        words[n].len = i - start;
        n++;
    }
    return n;
}

static bool word_is(word w, const char *s)
{
    const size_t n = strlen(s);
    return w.len == n && memcmp(w.p, s, n) == 0;
}

/* Plain decimal digits, no sign, at most UINT32_MAX. */
static bool parse_u32(word w, uint32_t *out)
{
    if (w.len == 0 || w.len > 10u) {
        return false;
    }
    uint64_t v = 0;
    for (uint32_t i = 0; i < w.len; i++) {
        const char c = w.p[i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10u + (uint64_t)(c - '0');
    }
    if (v > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

/* ---- parsing ------------------------------------------------------------- */

static mcb_msg bad(mcb_ee_command *out)
{
    mcb_msg m;
    out->kind = MCB_EE_CMD_BAD;
    mcb_msg_init(&m, out->message, sizeof out->message);
    return m;
}

static void bad_text(mcb_ee_command *out, const char *text)
{
    mcb_msg m = bad(out);
    mcb_msg_str(&m, text);
}

/* "<what>: '<word>' is not a number" */
static void bad_number(mcb_ee_command *out, const char *what, word w)
{
    mcb_msg m = bad(out);
    mcb_msg_str(&m, what);
    mcb_msg_str(&m, ": '");
    mcb_ee_msg_sanitized(&m, w.p, w.len, ECHO_MAX);
    mcb_msg_str(&m, "' is not a number");
}

static void parse_db_load(const word *words, uint32_t n, mcb_ee_command *out)
{
    if (n < 3u) {
        bad_text(out, "Command 'db load' requires the # of bytes");
    } else if (n > 3u) {
        bad_text(out, "db load takes one number: db load N");
    } else if (!parse_u32(words[2], &out->n)) {
        bad_number(out, "db load N", words[2]);
    } else if (out->n == 0u) {
        bad_text(out, "Command 'db load' must be >0 bytes");
    } else {
        out->kind = MCB_EE_CMD_DB_LOAD;
        out->has_n = true;
    }
}

static void parse_db_print(const word *words, uint32_t n, mcb_ee_command *out)
{
    out->kind = MCB_EE_CMD_DB_PRINT;
    if (n > 4u) {
        bad_text(out, "db print takes at most two numbers: db print N offset");
        return;
    }
    if (n > 2u) {
        if (!parse_u32(words[2], &out->n)) {
            bad_number(out, "db print N", words[2]);
            return;
        }
        out->has_n = true;
    }
    if (n > 3u) {
        if (!parse_u32(words[3], &out->w)) {
            bad_number(out, "db print N offset", words[3]);
            return;
        }
        out->has_w = true;
    }
}

static void parse_db_data(const word *words, uint32_t n, mcb_ee_command *out)
{
    const word hex = words[1];
    if (n > 2u) {
        bad_text(out, "db takes one run of hex digits, without spaces");
        return;
    }
    for (uint32_t i = 0; i < hex.len; i++) {
        if (mcb_ee_hex_value(hex.p[i]) < 0) {
            mcb_msg m = bad(out);
            mcb_msg_str(&m, "Invalid hex digit '");
            mcb_ee_msg_sanitized(&m, &hex.p[i], 1u, 1u);
            mcb_msg_fmt(&m, "' at position %u", i, 0, 0);
            return;
        }
    }
    if (hex.len % 2u != 0u) {
        mcb_msg m = bad(out);
        mcb_msg_fmt(&m, "Odd number of hex digits (%u): two per byte", hex.len, 0, 0);
        return;
    }
    out->kind = MCB_EE_CMD_DB_DATA;
    out->arg = hex.p;
    out->arg_len = hex.len;
}

static void parse_infer(const word *words, uint32_t n, mcb_ee_command *out)
{
    out->n = 1u; /* the reference's defaults */
    out->w = 10u;
    if (n > 3u) {
        bad_text(out, "infer takes at most two numbers: infer N W");
        return;
    }
    if (n > 1u) {
        if (!parse_u32(words[1], &out->n)) {
            bad_number(out, "infer N", words[1]);
            return;
        }
        if (out->n == 0u) {
            bad_text(out, "Inference iterations must be >0");
            return;
        }
        out->has_n = true;
    }
    if (n > 2u) {
        if (!parse_u32(words[2], &out->w)) {
            bad_number(out, "infer N W", words[2]);
            return;
        }
        out->has_w = true;
    }
    if (out->n > MCB_EE_INFER_MAX || out->w > MCB_EE_INFER_MAX) {
        mcb_msg m = bad(out);
        mcb_msg_fmt(&m, "infer N W: at most %u each", MCB_EE_INFER_MAX, 0, 0);
        return;
    }
    out->kind = MCB_EE_CMD_INFER;
}

void mcb_ee_parse(const char *line, uint32_t len, mcb_ee_command *out)
{
    static const struct {
        const char *name;
        mcb_ee_cmd_kind kind;
    } plain[] = {
        {"name", MCB_EE_CMD_NAME},
        {"profile", MCB_EE_CMD_PROFILE},
        {"timestamp", MCB_EE_CMD_TIMESTAMP},
        {"help", MCB_EE_CMD_HELP},
        {"results", MCB_EE_CMD_RESULTS},
    };
    word words[MAX_WORDS];
    const uint32_t n = split(line, len, words);

    memset(out, 0, sizeof *out);
    if (n == 0u) {
        out->kind = MCB_EE_CMD_EMPTY;
        return;
    }
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (word_is(words[0], plain[i].name)) {
            if (n > 1u) {
                mcb_msg m = bad(out);
                mcb_msg_str(&m, plain[i].name);
                mcb_msg_str(&m, " takes no arguments");
            } else {
                out->kind = plain[i].kind;
            }
            return;
        }
    }
    if (word_is(words[0], "db")) {
        if (n == 1u) {
            bad_text(out, "Command 'db' requires a subcommand: load N, print, or hex bytes");
        } else if (word_is(words[1], "load")) {
            parse_db_load(words, n, out);
        } else if (word_is(words[1], "print")) {
            parse_db_print(words, n, out);
        } else {
            parse_db_data(words, n, out);
        }
        return;
    }
    if (word_is(words[0], "infer")) {
        parse_infer(words, n, out);
        return;
    }
    out->kind = MCB_EE_CMD_UNKNOWN;
    out->arg = words[0].p;
    out->arg_len = words[0].len;
}

/* ---- hex ----------------------------------------------------------------- */

int mcb_ee_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

void mcb_ee_hex_decode(const char *hex, uint32_t n, uint8_t *out)
{
    for (uint32_t i = 0; i < n; i++) {
        const int hi = mcb_ee_hex_value(hex[2u * i]);
        const int lo = mcb_ee_hex_value(hex[2u * i + 1u]);
        out[i] = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
    }
}

/* ---- text ---------------------------------------------------------------- */

void mcb_ee_msg_sanitized(mcb_msg *m, const char *text, uint32_t len, uint32_t max)
{
    for (uint32_t i = 0; i < len && i < max; i++) {
        const char c = text[i];
        const bool plain = c >= ' ' && c <= '~' && c != '[' && c != ']';
        mcb_msg_char(m, plain ? c : '?');
    }
    if (len > max) {
        mcb_msg_str(m, "...");
    }
}

void mcb_ee_msg_u64(mcb_msg *m, uint64_t v)
{
    char digits[20];
    uint32_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (n > 0u) {
        mcb_msg_char(m, digits[--n]);
    }
}

void mcb_ee_msg_i64(mcb_msg *m, int64_t v)
{
    if (v < 0) {
        mcb_msg_char(m, '-');
        mcb_ee_msg_u64(m, 0u - (uint64_t)v); /* -INT64_MIN does not fit an int64_t */
    } else {
        mcb_ee_msg_u64(m, (uint64_t)v);
    }
}

static uint64_t pow10_u64(uint32_t d)
{
    uint64_t p = 1;
    while (d-- > 0u) {
        p *= 10u;
    }
    return p;
}

/*
 * m * 2^e (e >= 0, m < 2^24: an integer below 2^128) in decimal, by long
 * division of a four-word number.
 */
static void msg_big_integer(mcb_msg *m, uint32_t mant, uint32_t e)
{
    uint32_t w[4] = {0, 0, 0, 0}; /* little-endian 32-bit words */
    const uint32_t word_i = e / 32u;
    const uint32_t bit = e % 32u;
    const uint64_t shifted = (uint64_t)mant << bit;
    w[word_i] = (uint32_t)shifted;
    if (word_i + 1u < 4u) {
        w[word_i + 1u] = (uint32_t)(shifted >> 32);
    }
    char digits[40]; /* 2^128 has 39 digits */
    uint32_t n = 0;
    bool nonzero = true;
    while (nonzero && n < sizeof digits) {
        uint64_t rem = 0;
        nonzero = false;
        for (int i = 3; i >= 0; i--) {
            const uint64_t cur = rem << 32 | w[i];
            w[i] = (uint32_t)(cur / 10u);
            rem = cur % 10u;
            nonzero = nonzero || w[i] != 0u;
        }
        digits[n++] = (char)('0' + rem);
    }
    while (n > 0u) {
        mcb_msg_char(m, digits[--n]);
    }
}

void mcb_ee_msg_fixed(mcb_msg *m, float v, uint32_t decimals)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    const uint32_t biased = bits >> 23 & 0xFFu;
    const uint32_t frac = bits & 0x7FFFFFu;
    const uint32_t d = decimals > DECIMALS_MAX ? DECIMALS_MAX : decimals;
    if (biased == 0xFFu) {
        mcb_msg_str(m, frac != 0u ? "nan" : (bits >> 31 != 0u ? "-inf" : "inf"));
        return;
    }
    if (bits >> 31 != 0u) {
        mcb_msg_char(m, '-');
    }
    /* |v| = mant * 2^e exactly */
    const uint32_t mant = biased == 0u ? frac : (frac | 0x800000u);
    const int32_t e = biased == 0u ? -149 : (int32_t)biased - 150;
    const uint64_t scale = pow10_u64(d);
    uint64_t q; /* round(|v| * 10^d), ties to even */
    if (e >= 0) {
        /* An integer: no rounding, and it may not fit 64 bits. */
        msg_big_integer(m, mant, (uint32_t)e);
        if (d > 0u) {
            mcb_msg_char(m, '.');
            for (uint32_t i = 0; i < d; i++) {
                mcb_msg_char(m, '0');
            }
        }
        return;
    }
    /* |v| * 10^d = mant * 5^d * 2^(e + d), and mant * 5^d < 2^24 * 5^9 < 2^45. */
    const uint64_t big = (uint64_t)mant * (scale >> d);
    const int32_t s = e + (int32_t)d;
    if (s >= 0) {
        q = big << s; /* s <= 8 here: fits */
    } else if (s <= -64) {
        q = 0; /* below 2^45 / 2^64: rounds to 0 */
    } else {
        const uint32_t sh = (uint32_t)-s;
        q = big >> sh;
        const uint64_t rem = big - (q << sh);
        const uint64_t half = (uint64_t)1 << (sh - 1u);
        if (rem > half || (rem == half && (q & 1u) != 0u)) {
            q++;
        }
    }
    mcb_ee_msg_u64(m, q / scale);
    if (d > 0u) {
        mcb_msg_char(m, '.');
        const uint64_t f = q % scale;
        for (uint64_t p = scale / 10u; p > 0u; p /= 10u) {
            mcb_msg_char(m, (char)('0' + f / p % 10u));
        }
    }
}

uint32_t mcb_ee_decimals_for_scale(float scale)
{
    /* scale * 10^d is exact in double (24-bit mantissa times 5^d < 2^21): no edge rounding. */
    for (uint32_t d = 3u; d < DECIMALS_MAX; d++) {
        if ((double)scale * (double)pow10_u64(d) >= 2.0) {
            return d;
        }
    }
    return DECIMALS_MAX;
}
