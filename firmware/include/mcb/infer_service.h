/*
 * The inference requests of the serial protocol (docs/protocol.md,
 * "Inference"): MODEL_LOAD, TENSOR_INFO, INVOKE and RESET, served from the
 * protocol's pool.
 *
 * The host uploads a model into the pool with the bulk WRITE requests, or
 * selects the one linked into the firmware; MODEL_LOAD opens it and gives the
 * rest of the pool (from the next 16-byte boundary) to the interpreter as its
 * arena. Tensors in the arena are set and read with the same bulk WRITE and
 * READ requests, at the pool offsets TENSOR_INFO reports. A write session
 * that overlaps the model, or the arena outside its activations, unloads the
 * model first: the interpreter's tables live there, and the host is replacing
 * what they describe.
 *
 * Built with MCB_PROFILE, INVOKE also records counter ticks per operator of
 * subgraph 0 (mcb/interpreter.h, mcb_profile), summed over its count, and
 * PROFILE reads them; without it, PROFILE answers STATE.
 *
 * Logging (docs/protocol.md, "Logging"): LOG_START keeps a copy of the
 * inputs, the buffer LOG_READ answers from (up to a payload) and a ring of
 * records (mcb/log_ring.h) in the arena's free middle, between the planned
 * activations' peak and the persistent tail; from then on
 * mcb_infer_service_poll, called by the main loop, runs the model when it is
 * due: at most one inference per call, so requests are answered between
 * them. While logging, MODEL_LOAD, RESET, INVOKE, PROFILE and LOG_START are
 * refused (STATE); a write into the arena outside the activations unloads
 * the model and ends the log.
 */
#ifndef MCB_INFER_SERVICE_H
#define MCB_INFER_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/interpreter.h"
#include "mcb/kernel.h"
#include "mcb/log_ring.h"
#include "mcb/model.h"
#include "mcb/proto.h"

typedef uint64_t (*mcb_counter_fn)(void);

#ifndef MCB_PROFILE_MAX_NODES
#define MCB_PROFILE_MAX_NODES 256u /* operators of subgraph 0 the profiler holds (8 B each) */
#endif

/* The log service's state; snapshot, page and ring are in the arena's free middle. */
typedef struct {
    bool active;          /* LOG_START .. LOG_STOP: the main loop runs the model */
    bool readable;        /* the ring holds a session (until LOG_START, MODEL_LOAD, a write) */
    uint32_t session;     /* the host's id */
    uint32_t flags;       /* MCB_LOG_* */
    uint32_t period;      /* ticks from one start to the next; 0: back to back */
    uint64_t due;         /* counter value the next inference may start at (with a period) */
    uint32_t nodes;       /* operators of subgraph 0 */
    uint32_t ops;         /* per-operator fields per record: nodes with MCB_LOG_OPS, else 0 */
    uint8_t *snapshot;    /* the writable inputs' bytes at LOG_START, in input order */
    uint8_t *page;        /* where LOG_READ assembles its reply (the ring wraps) */
    uint32_t page_records; /* records page holds */
    mcb_log_ring ring;
} mcb_log_state;

typedef struct {
    const mcb_kernel_registry *kernels;
    mcb_counter_fn counter;  /* timestamps INVOKE */
    uint8_t *pool;           /* the protocol's pool */
    uint32_t pool_bytes;
    const uint8_t *embedded; /* a model linked into the firmware, or NULL */
    uint32_t embedded_bytes;
    bool loaded;
    uint32_t model_offset;   /* pool offset of an uploaded model; 0 for the embedded one */
    uint32_t model_bytes;
    bool model_in_pool;
    uint32_t arena_offset;   /* pool offset of the arena */
    uint32_t arena_bytes;
    mcb_model model;
    mcb_interpreter interpreter;
    mcb_log_state log;
#ifdef MCB_PROFILE
    uint64_t node_ticks[MCB_PROFILE_MAX_NODES];
    mcb_profile profile;
    bool profiling;          /* the loaded model fits the profiler */
    uint32_t profiled_count; /* invocations node_ticks sums (the last INVOKE's count) */
#endif
} mcb_infer_service;

/*
 * Prepares s over pool[0, pool_bytes) and fills *out for mcb_proto_set_service.
 * embedded may be NULL (embedded_bytes 0). MCB_ERR_ARG on NULL arguments.
 */
mcb_status mcb_infer_service_init(mcb_infer_service *s, const mcb_kernel_registry *kernels,
                                  mcb_counter_fn counter, uint8_t *pool, uint32_t pool_bytes,
                                  const uint8_t *embedded, uint32_t embedded_bytes,
                                  mcb_proto_service *out);

/*
 * The main loop's turn for the log service: runs one inference if logging
 * and it is due, else returns at once. MCB_OK either way (a failed run is
 * recorded, not returned); MCB_ERR_ARG on NULL.
 */
mcb_status mcb_infer_service_poll(mcb_infer_service *s);

/* True while logging: the main loop has work even when no byte arrives. */
bool mcb_infer_service_busy(const mcb_infer_service *s);

#endif
