/*
 * Device side of the serial protocol v1 (docs/protocol.md): frames in,
 * requests dispatched, responses out through a write callback. No I/O and no
 * globals: everything lives in mcb_proto, so the fuzzer can drive it with a
 * fake port and a checking sink.
 *
 * Build-time strings reported by INFO (all optional):
 *   MCB_FIRMWARE_GIT  git hash of the source, default "unknown"
 *   MCB_BUILD_FLAGS   optimisation and target flags, default ""
 */
#ifndef MCB_PROTO_H
#define MCB_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/frame.h"
#include "mcb/port.h"
#include "mcb/status.h"

/* Bulk upload in progress (WRITE_BEGIN .. WRITE_END); offsets are pool offsets. */
typedef struct {
    bool open;
    uint32_t base;   /* WRITE_BEGIN offset */
    uint32_t length; /* WRITE_BEGIN length */
    uint32_t next;   /* offset the next WRITE_DATA must carry */
    uint32_t crc;    /* CRC-32 of pool[base..next), as zlib.crc32 */
} mcb_write_session;

typedef struct mcb_proto mcb_proto;

/*
 * What the core dispatcher hands on: requests it does not know (the inference
 * ones, firmware/app/infer_service.c) and notice of bulk writes, so a service
 * that keeps data in the pool can tell when the host overwrites it.
 */
typedef struct {
    /* Answers ev (a request the core does not know) with exactly one response. */
    mcb_status (*handle)(void *user, mcb_proto *p, const mcb_frame_event *ev);
    /* A write session over pool[off, off + len) is about to open. */
    void (*will_write)(void *user, uint32_t off, uint32_t len);
    void *user;
    /* Reported by INFO. */
    uint32_t capabilities;         /* MCB_CAP_* the service adds */
    const char *kernels;           /* kernel set name; NULL: no KERNELS / EMBEDDED_MODEL_BYTES */
    uint32_t embedded_model_bytes; /* 0: none */
} mcb_proto_service;

struct mcb_proto {
    mcb_frame_rx rx;            /* frame receiver, holds the payload buffer */
    const mcb_port_info *info;  /* board facts for INFO; must outlive the context */
    uint8_t *pool;              /* bulk-transfer area (from info) */
    uint32_t pool_bytes;
    mcb_write_session write;
    mcb_write_fn out;           /* where responses go */
    void *out_user;
    uint32_t ignored_responses; /* frames with opcode >= 0x80 (not requests): never answered */
    mcb_proto_service service;  /* all NULL: unknown requests get UNKNOWN_OPCODE */
};

/*
 * Prepares p. info (pool, board strings, counter) is used as given; the
 * dispatcher never calls port functions. Returns MCB_ERR_ARG on NULL
 * arguments.
 */
mcb_status mcb_proto_init(mcb_proto *p, const mcb_port_info *info, mcb_write_fn out,
                          void *out_user);

/* Installs the service (copied); before the first feed. */
void mcb_proto_set_service(mcb_proto *p, const mcb_proto_service *service);

/* For services: the OK response to ev, head then body (either may be empty). */
mcb_status mcb_proto_reply(const mcb_proto *p, const mcb_frame_event *ev, const uint8_t *head,
                           size_t head_len, const uint8_t *body, size_t body_len);

/* For services: an ERROR response, message as mcb_msg_fmt (up to three %u/%d/%x). */
mcb_status mcb_proto_fail(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                          const char *fmt, uint32_t a, uint32_t b, uint32_t c);

/* For services: an ERROR response with a message taken as it is (cut to fit). */
mcb_status mcb_proto_fail_text(const mcb_proto *p, const mcb_frame_event *ev, uint16_t code,
                               const char *text);

/*
 * Feeds received bytes and answers every complete request before returning.
 * Call it with len == 0 whenever the line is idle, so a stalled frame gets
 * its FRAME_TIMEOUT (see mcb_frame_rx_feed). now_us: monotonic device time.
 * Returns MCB_OK, or the first error of the write callback (parsing carries
 * on regardless: a failed response never desynchronises the receiver).
 */
mcb_status mcb_proto_feed(mcb_proto *p, const uint8_t *data, size_t len, uint64_t now_us);

#endif
