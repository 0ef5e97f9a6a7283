/*
 * The text side of the EEMBC / MLPerf Tiny benchmark UART protocol
 * (docs/mlperf_tiny.md), without any I/O: assembling '%'-terminated commands
 * from received bytes, parsing them, and the number formatting the replies
 * need. Nothing here touches a port, the model or global state, so it is
 * unit-tested natively (tests/test_mlperf_tiny.py loads it with ctypes).
 */
#ifndef MCB_EE_PARSE_H
#define MCB_EE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/msg.h"

/*
 * Characters of one command kept before its '%'. The reference harness keeps
 * 80 and the official runner sends at most 65 ("db " + 31 bytes as hex); a
 * longer command is dropped whole and answered with an error.
 */
#define MCB_EE_LINE_MAX 256u

/* Largest N of "infer N W" and of W: a command is a promise to be busy, keep it finite. */
#define MCB_EE_INFER_MAX 100000u

/* Storage for a parse error message (NUL included). */
#define MCB_EE_MSG_SIZE 80u

/* Assembles commands byte by byte; treat as opaque. */
typedef struct {
    char buf[MCB_EE_LINE_MAX];
    uint32_t len;   /* characters kept */
    uint32_t total; /* characters of the current command, kept or not */
    bool done;      /* the last byte ended a command: the next one starts a new one */
} mcb_ee_line;

typedef enum {
    MCB_EE_LINE_MORE = 0, /* no complete command yet */
    MCB_EE_LINE_COMMAND,  /* buf[0..len) is a command (without its '%') */
    MCB_EE_LINE_TOO_LONG, /* a command of total > MCB_EE_LINE_MAX characters ended; dropped */
} mcb_ee_line_event;

void mcb_ee_line_init(mcb_ee_line *l);

/*
 * Feeds one received byte. CR and LF are ignored (a terminal user may type
 * them), so they neither end nor count towards a command.
 */
mcb_ee_line_event mcb_ee_line_feed(mcb_ee_line *l, uint8_t byte);

typedef enum {
    MCB_EE_CMD_EMPTY = 0, /* "%" alone: the runner's way of flushing; answer m-ready only */
    MCB_EE_CMD_NAME,
    MCB_EE_CMD_PROFILE,
    MCB_EE_CMD_TIMESTAMP,
    MCB_EE_CMD_HELP,
    MCB_EE_CMD_DB_LOAD,   /* n: bytes to expect */
    MCB_EE_CMD_DB_DATA,   /* arg: an even number of hex digits (checked) */
    MCB_EE_CMD_DB_PRINT,  /* has_n: n bytes; has_w: from offset w; neither: the whole buffer */
    MCB_EE_CMD_INFER,     /* n inferences (>= 1) after w warmups */
    MCB_EE_CMD_RESULTS,
    MCB_EE_CMD_UNKNOWN,   /* arg: the command word */
    MCB_EE_CMD_BAD,       /* a known command with bad arguments: message says why */
} mcb_ee_cmd_kind;

typedef struct {
    mcb_ee_cmd_kind kind;
    uint32_t n;
    uint32_t w;
    bool has_n;
    bool has_w;
    const char *arg; /* into the parsed line; not NUL-terminated */
    uint32_t arg_len;
    char message[MCB_EE_MSG_SIZE]; /* BAD: one line, no brackets */
} mcb_ee_command;

/*
 * Parses one command: words separated by spaces or tabs. Unlike the reference
 * harness (atoi), numbers must be plain decimal digits that fit, and extra
 * words are an error rather than ignored. "infer" alone means "infer 1 10",
 * as in the reference.
 */
void mcb_ee_parse(const char *line, uint32_t len, mcb_ee_command *out);

/* 0..15 for a hex digit (either case), -1 otherwise. */
int mcb_ee_hex_value(char c);

/* Decodes 2 * n checked hex digits into out[0..n). */
void mcb_ee_hex_decode(const char *hex, uint32_t n, uint8_t *out);

/*
 * Appends text with anything that could break a reply line or its brackets
 * ('[', ']', control and non-ASCII bytes) replaced by '?', cut to max
 * characters with "..." after.
 */
void mcb_ee_msg_sanitized(mcb_msg *m, const char *text, uint32_t len, uint32_t max);

void mcb_ee_msg_u64(mcb_msg *m, uint64_t v);
void mcb_ee_msg_i64(mcb_msg *m, int64_t v);

/*
 * Appends v in fixed point with `decimals` digits after the point (0..9),
 * correctly rounded from v's exact binary value, ties to even: the same text
 * as C's printf("%.*f") and Python's f"{v:.{decimals}f}", for every float.
 * "-" for a negative v (also when it rounds to zero); "nan", "inf", "-inf".
 */
void mcb_ee_msg_fixed(mcb_msg *m, float v, uint32_t decimals);

/*
 * Decimals that keep every quantisation step apart in mcb_ee_msg_fixed: the
 * smallest d in 3..9 with 2 * 10^-d <= scale, so neighbouring values (scale
 * apart) print differently and round(printed / scale) recovers the integer.
 * 3 (the reference's "%0.3f") for scales of 0.002 and up; 9 for tiny, zero,
 * negative or NaN scales.
 */
uint32_t mcb_ee_decimals_for_scale(float scale);

#endif
