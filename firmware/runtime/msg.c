/* printf-free message building (mcb/msg.h). */
#include "mcb/msg.h"

void mcb_msg_init(mcb_msg *m, char *storage, size_t size)
{
    m->text = storage;
    m->cap = size > 0 ? size - 1u : 0u;
    m->len = 0;
    if (size > 0) {
        storage[0] = '\0';
    }
}

void mcb_msg_char(mcb_msg *m, char c)
{
    if (m->len < m->cap) {
        m->text[m->len++] = c;
        m->text[m->len] = '\0';
    }
}

void mcb_msg_str(mcb_msg *m, const char *s)
{
    while (*s != '\0') {
        mcb_msg_char(m, *s++);
    }
}

void mcb_msg_u32(mcb_msg *m, uint32_t v)
{
    char digits[10];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    while (n > 0) {
        mcb_msg_char(m, digits[--n]);
    }
}

void mcb_msg_i32(mcb_msg *m, int32_t v)
{
    if (v < 0) {
        mcb_msg_char(m, '-');
        /* Negate in unsigned arithmetic: -INT32_MIN does not fit an int32_t. */
        mcb_msg_u32(m, 0u - (uint32_t)v);
    } else {
        mcb_msg_u32(m, (uint32_t)v);
    }
}

void mcb_msg_hex8(mcb_msg *m, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    mcb_msg_str(m, "0x");
    mcb_msg_char(m, hex[(v >> 4) & 0xFu]);
    mcb_msg_char(m, hex[v & 0xFu]);
}

void mcb_msg_fmt(mcb_msg *m, const char *fmt, uint32_t a, uint32_t b, uint32_t c)
{
    const uint32_t args[3] = {a, b, c};
    size_t next = 0;
    for (; *fmt != '\0'; fmt++) {
        const char conv = fmt[0] == '%' ? fmt[1] : '\0';
        if ((conv == 'u' || conv == 'd' || conv == 'x') && next < 3) {
            const uint32_t v = args[next++];
            if (conv == 'u') {
                mcb_msg_u32(m, v);
            } else if (conv == 'd') {
                /* v carries an int32_t's two's-complement bits. */
                if ((v & 0x80000000u) != 0) {
                    mcb_msg_char(m, '-');
                    mcb_msg_u32(m, 0u - v);
                } else {
                    mcb_msg_u32(m, v);
                }
            } else {
                mcb_msg_hex8(m, v);
            }
            fmt++;
        } else {
            mcb_msg_char(m, *fmt);
        }
    }
}
