/*
 * Arena planner: where every activation tensor and scratch buffer lives in the
 * non-persistent part of the arena. It reproduces TFLite Micro's
 * AllocationInfoBuilder + GreedyMemoryPlanner byte for byte, like the host's
 * mcubench.model.arena, so that our peak equals TFLM's:
 *
 * - Planned: the tensors of every subgraph without constant data, not
 *   variables, not outputs of a builtin VAR_HANDLE, of non-zero size; their
 *   bytes as TFLM allocates them (mcb_plan_tensor_bytes), rounded up to
 *   MCB_PLAN_ALIGNMENT. Then scratch buffers, subgraph by subgraph, operator
 *   by operator, alive during their operator.
 * - Lifetimes count allocation scopes from subgraph 0: a subgraph's inputs
 *   and outputs are created when it starts, every operator opens a scope, its
 *   outputs are (re-)created there, its inputs and outputs are used there,
 *   and the subgraph's outputs stay alive to its end. CALL_ONCE, IF and WHILE
 *   mark the subgraphs they call inside their own lifetime. A tensor never
 *   reached keeps (-1, -1), as in TFLM.
 * - Placement: biggest first, equal sizes in reverse buffer order (TFLM fills
 *   its sort array from the tail and bubble-sorts it, which is stable); each
 *   at the lowest offset where it overlaps in time no buffer placed before it.
 *
 * No memory of its own: the caller hands in the buffer array.
 */
#ifndef MCB_PLANNER_H
#define MCB_PLANNER_H

#include <stddef.h>
#include <stdint.h>

#include "mcb/model.h"
#include "mcb/status.h"

/* TFLM's MicroArenaBufferAlignment(). */
#define MCB_PLAN_ALIGNMENT 16u

#define MCB_PLAN_MSG_SIZE 96u

/* One buffer to place. */
typedef struct {
    uint32_t size;   /* bytes, a multiple of MCB_PLAN_ALIGNMENT; 0: not planned */
    int32_t first;   /* first and last allocation scope using it; -1: never */
    int32_t last;
    uint32_t offset; /* result: bytes from the start of the arena's head */
    uint32_t next;   /* planner's own: next placed buffer by offset */
    uint16_t subgraph; /* scratch buffers: owning subgraph and operator (caller's) */
    uint16_t op;
} mcb_plan_buffer;

typedef struct {
    int32_t subgraph; /* -1 unless the error concerns one */
    int32_t op;       /* -1 unless it concerns an operator */
    int32_t tensor;   /* -1 unless it concerns a tensor */
    char message[MCB_PLAN_MSG_SIZE];
} mcb_plan_error;

/* Called once per operator reached, with its lifetime (for its scratch buffers). */
typedef void (*mcb_plan_op_fn)(void *user, uint32_t subgraph, uint32_t op, int32_t first,
                               int32_t last);

/*
 * Bytes TFLM allocates for a tensor of this type and shape (a scalar has one
 * element; INT4 takes a byte per element once unpacked). MCB_ERR_ARG for the
 * types TFLM cannot allocate (STRING, UINT16, ...), MCB_ERR_RANGE over 2 GB.
 */
mcb_status mcb_plan_tensor_bytes(mcb_tensor_type type, const int32_t *shape, uint32_t rank,
                                 uint32_t *bytes);

/*
 * Tensors are numbered across subgraphs: subgraph s's tensor t is
 * mcb_plan_tensor_base(m, s) + t; mcb_plan_tensor_total(m) of them.
 */
uint32_t mcb_plan_tensor_total(const mcb_model *m);
uint32_t mcb_plan_tensor_base(const mcb_model *m, uint32_t subgraph);

/*
 * Fills bufs[0 .. mcb_plan_tensor_total(m)) with every tensor's planned size
 * (0 if not planned) and lifetime; on_op (may be NULL) hears every operator
 * reached with its lifetime. MCB_ERR_ARG with *err (may be NULL) for a model
 * TFLM cannot plan (a subgraph calling itself, a bad subgraph index, an
 * activation of a type TFLM cannot allocate).
 */
mcb_status mcb_plan_tensors(const mcb_model *m, mcb_plan_buffer *bufs, mcb_plan_op_fn on_op,
                            void *user, mcb_plan_error *err);

/*
 * Places bufs[0..n) (entries of size 0 are skipped) and sets *peak, the
 * head bytes they need. MCB_ERR_RANGE if the plan would pass 4 GB.
 */
mcb_status mcb_plan_place(mcb_plan_buffer *bufs, uint32_t n, uint32_t *peak);

/* ---- a whole model without kernels ------------------------------------- */

typedef struct {
    mcb_plan_buffer *buffers; /* in the caller's work memory */
    uint32_t n_buffers;       /* tensors, then scratch buffers (some of size 0) */
    uint32_t n_tensors;       /* = mcb_plan_tensor_total */
    uint32_t peak;            /* non-persistent bytes */
} mcb_plan_result;

/* Work memory mcb_plan_model needs (0 if the model is not open or too large). */
size_t mcb_plan_model_work_bytes(const mcb_model *m);

/*
 * Plans every tensor of m, and the scratch buffers TFLM's reference kernels
 * request (only SVDF among them: batch * filters int32, and for integer SVDF
 * batch * units int32). work must be aligned for mcb_plan_buffer.
 */
mcb_status mcb_plan_model(const mcb_model *m, void *work, size_t work_bytes,
                          mcb_plan_result *out, mcb_plan_error *err);

#endif
