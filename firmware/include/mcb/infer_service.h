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
 */
#ifndef MCB_INFER_SERVICE_H
#define MCB_INFER_SERVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "mcb/interpreter.h"
#include "mcb/kernel.h"
#include "mcb/model.h"
#include "mcb/proto.h"

typedef uint64_t (*mcb_counter_fn)(void);

#ifndef MCB_PROFILE_MAX_NODES
#define MCB_PROFILE_MAX_NODES 256u /* operators of subgraph 0 the profiler holds (8 B each) */
#endif

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

#endif
