/*
 * Serial protocol v1: the one definition of opcodes, error codes, INFO tags,
 * capability flags and frame constants. host/mcubench/protocol/codes.py mirrors
 * it, and tests/test_protocol_codes.py fails if the two disagree.
 * Layout and semantics: docs/protocol.md.
 */
#ifndef MCB_PROTOCOL_DEFS_H
#define MCB_PROTOCOL_DEFS_H

#define MCB_PROTOCOL_VERSION 1u

#define MCB_FRAME_SOF0 0xA5u
#define MCB_FRAME_SOF1 0x5Au
#define MCB_FRAME_HEADER_SIZE 7u  /* SOF0 SOF1 opcode seq len_lo len_hi hcrc8 */
#define MCB_FRAME_TRAILER_SIZE 4u /* CRC-32 little endian */
#define MCB_FRAME_OVERHEAD (MCB_FRAME_HEADER_SIZE + MCB_FRAME_TRAILER_SIZE)
#define MCB_RESPONSE_BIT 0x80u    /* response opcode = request opcode | this bit */

/* X(name, value): requests. The OK response to request R has opcode R | 0x80. */
#define MCB_OPCODES(X)     \
    X(HELLO, 0x01)         \
    X(INFO, 0x02)          \
    X(PING, 0x03)          \
    X(WRITE_BEGIN, 0x10)   \
    X(WRITE_DATA, 0x11)    \
    X(WRITE_END, 0x12)     \
    X(READ, 0x13)          \
    X(CRC, 0x14)           \
    X(MODEL_LOAD, 0x20)    \
    X(TENSOR_INFO, 0x21)   \
    X(INVOKE, 0x22)        \
    X(RESET, 0x23)         \
    X(PROFILE, 0x24)       \
    X(LOG_START, 0x28)     \
    X(LOG_READ, 0x29)      \
    X(LOG_STOP, 0x2A)

/* The only response that is not request | 0x80. */
#define MCB_OPCODE_ERROR 0xFFu

/* MODEL_LOAD sources. */
#define MCB_MODEL_SOURCE_POOL 0u     /* uploaded into the pool */
#define MCB_MODEL_SOURCE_EMBEDDED 1u /* linked into the firmware (mcubench build --model) */

/* TENSOR_INFO selectors and flags. */
#define MCB_TENSOR_SELECT_INPUT 0u
#define MCB_TENSOR_SELECT_OUTPUT 1u
#define MCB_TENSOR_SELECT_TENSOR 2u
#define MCB_TENSOR_FLAG_WRITABLE 0x01u /* lives in the arena: WRITE to it, READ from it */
#define MCB_TENSOR_FLAG_CONSTANT 0x02u /* data in the model */
#define MCB_TENSOR_FLAG_VARIABLE 0x04u
#define MCB_TENSOR_NOT_IN_POOL 0xFFFFFFFFu /* TENSOR_INFO pool offset of a tensor outside the pool */

/* X(name, value): codes carried by an ERROR response. */
#define MCB_ERRORS(X)            \
    X(BAD_CRC, 1)                \
    X(FRAME_TOO_LARGE, 2)        \
    X(UNKNOWN_OPCODE, 3)         \
    X(BAD_LENGTH, 4)             \
    X(OUT_OF_RANGE, 5)           \
    X(SEQUENCE, 6)               \
    X(STATE, 7)                  \
    X(FRAME_TIMEOUT, 8)          \
    X(UNSUPPORTED_VERSION, 9)    \
    X(INTERNAL, 10)              \
    X(NO_MODEL, 11)              \
    X(MODEL_INVALID, 12)         \
    X(UNSUPPORTED_OP, 13)        \
    X(PREPARE_FAILED, 14)        \
    X(ARENA_TOO_SMALL, 15)       \
    X(INVOKE_FAILED, 16)

/* X(name, value, type): INFO response TLV tags; type is u8, u16, u32 or str. */
#define MCB_INFO_TAGS(X)                \
    X(PROTOCOL_VERSION, 0x01, u16)      \
    X(FIRMWARE_VERSION, 0x02, str)      \
    X(FIRMWARE_GIT, 0x03, str)          \
    X(BOARD, 0x04, str)                 \
    X(CORE, 0x05, str)                  \
    X(CLOCK_HZ, 0x06, u32)              \
    X(COUNTER_SOURCE, 0x07, u8)         \
    X(COUNTER_HZ, 0x08, u32)            \
    X(MAX_PAYLOAD, 0x09, u16)           \
    X(RX_WINDOW, 0x0A, u32)             \
    X(POOL_BYTES, 0x0B, u32)            \
    X(CAPABILITIES, 0x0C, u32)          \
    X(COMPILER, 0x0D, str)              \
    X(BUILD_FLAGS, 0x0E, str)           \
    X(KERNELS, 0x0F, str)               \
    X(EMBEDDED_MODEL_BYTES, 0x10, u32)

/* X(name, value): what the device's counter counts (INFO COUNTER_SOURCE). */
#define MCB_COUNTER_SOURCES(X) \
    X(DWT_CYCCNT, 1)           \
    X(SYSTICK, 2)              \
    X(MCYCLE, 3)               \
    X(MINSTRET, 4)             \
    X(MONOTONIC_NS, 5)

/* X(name, bit): capability flags (INFO CAPABILITIES). */
#define MCB_CAPABILITIES(X) \
    X(BULK_WRITE, 0)        \
    X(BULK_READ, 1)         \
    X(CRC, 2)               \
    X(INFERENCE, 3)         \
    X(PROFILE, 4)           \
    X(LOG, 5)

/* X(name, bit): LOG_START flags, what each record carries after its fixed 24 bytes. */
#define MCB_LOG_FLAGS(X) \
    X(OPS, 0)            \
    X(DIGEST, 1)         \
    X(TOP1, 2)

#define MCB_DEFINE_ENUM_ITEM(name, value) MCB_REQ_##name = value,
enum mcb_opcode { MCB_OPCODES(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#define MCB_DEFINE_ENUM_ITEM(name, value) MCB_E_##name = value,
enum mcb_error_code { MCB_ERRORS(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#define MCB_DEFINE_ENUM_ITEM(name, value, type) MCB_TAG_##name = value,
enum mcb_info_tag { MCB_INFO_TAGS(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#define MCB_DEFINE_ENUM_ITEM(name, value) MCB_COUNTER_##name = value,
enum mcb_counter_source { MCB_COUNTER_SOURCES(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#define MCB_DEFINE_ENUM_ITEM(name, bit) MCB_CAP_##name = 1u << (bit),
enum mcb_capability { MCB_CAPABILITIES(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#define MCB_DEFINE_ENUM_ITEM(name, bit) MCB_LOG_##name = 1u << (bit),
enum mcb_log_flag { MCB_LOG_FLAGS(MCB_DEFINE_ENUM_ITEM) };
#undef MCB_DEFINE_ENUM_ITEM

#endif
