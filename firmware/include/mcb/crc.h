/*
 * Checksums of the serial protocol (docs/protocol.md, "Frame").
 *
 * CRC-32: IEEE 802.3 (reflected polynomial 0xEDB88320, init 0xFFFFFFFF,
 * xorout 0xFFFFFFFF), bit-identical to Python's zlib.crc32. The API follows
 * zlib: the running value is always a *finished* CRC, so there is no separate
 * final step. Start from MCB_CRC32_INIT (0) and chain calls:
 *
 *     uint32_t c = MCB_CRC32_INIT;
 *     c = mcb_crc32_update(c, a, a_len);
 *     c = mcb_crc32_update(c, b, b_len);   // == zlib.crc32(a + b)
 *
 * CRC-8: polynomial 0x07, init 0x00, no reflection, no xorout (CRC-8/SMBUS);
 * guards the frame header.
 */
#ifndef MCB_CRC_H
#define MCB_CRC_H

#include <stddef.h>
#include <stdint.h>

#define MCB_CRC32_INIT 0u

/* Returns the CRC-32 of (everything crc covered) followed by buf[0..len). */
uint32_t mcb_crc32_update(uint32_t crc, const uint8_t *buf, size_t len);

/* CRC-8 of buf[0..len). */
uint8_t mcb_crc8(const uint8_t *buf, size_t len);

#endif
