/*
 * Short human-readable messages without printf: error texts for protocol
 * ERROR responses and for model validation. The text lives in storage the
 * caller owns; whatever does not fit is cut, never overrun.
 */
#ifndef MCB_MSG_H
#define MCB_MSG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *text;  /* caller's storage; always NUL-terminated when cap > 0 */
    size_t cap;  /* characters that fit, excluding the terminating NUL */
    size_t len;  /* characters written so far */
} mcb_msg;

/*
 * Starts an empty message in storage[0..size): at most size - 1 characters
 * plus a NUL. size 0 is allowed (everything is dropped).
 */
void mcb_msg_init(mcb_msg *m, char *storage, size_t size);

void mcb_msg_char(mcb_msg *m, char c);
void mcb_msg_str(mcb_msg *m, const char *s);
void mcb_msg_u32(mcb_msg *m, uint32_t v);
void mcb_msg_i32(mcb_msg *m, int32_t v);

/* v's low byte as 0xNN. */
void mcb_msg_hex8(mcb_msg *m, uint32_t v);

/*
 * Appends fmt, replacing "%u" with the next argument in decimal, "%d" with
 * it read as an int32_t, and "%x" with its low byte as 0xNN. At most three
 * arguments; a fourth conversion is copied as text.
 */
void mcb_msg_fmt(mcb_msg *m, const char *fmt, uint32_t a, uint32_t b, uint32_t c);

#endif
