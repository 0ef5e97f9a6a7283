/*
 * Interpreter: runs an opened model (mcb/model.h) with the kernels of a
 * registry (mcb/kernel.h), in one caller-owned arena, as TFLM's
 * MicroInterpreter does.
 *
 * Arena layout, as in TFLM:
 *
 *   arena                                                     arena + bytes
 *   | pad | head: activations + scratch (planned) | ... | tail: persistent |
 *
 * The head starts 16-byte aligned and holds what mcb/planner.h places; while
 * planning it holds the planner's own array (temporary). The tail grows down
 * from the end: the node table (every subgraph's operators), the tensor
 * table, the resource-variable table, the variable tensors, then what the
 * kernels ask for (their data, resource variables' buffers).
 * required_bytes = pad + persistent + max(peak, planner array).
 *
 * mcb_interpreter_init checks, in this order, before anything runs: that
 * every operator of every subgraph has a kernel (else UNSUPPORTED_OP naming
 * the operator and the node), every kernel's prepare (PREPARE; all
 * subgraphs, subgraph 0 first, as TFLM prepares them), the plan (PLAN), the
 * arena (ARENA: "arena too small: need N bytes, have M"; N is exact unless
 * the arena cannot even hold the node table and the planner's array, then
 * the message says "need at least"). Errors in a subgraph other than 0 say
 * "subgraph S node N (NAME): ...".
 *
 * State, as TFLM keeps it (tests/test_interpreter_state.py checks each
 * against tflite_micro):
 * - Variable tensors (is_variable) live in the persistent tail, never in the
 *   planned head; their constant data, if any, is ignored.
 * - Resource variables (VAR_HANDLE / READ_VARIABLE / ASSIGN_VARIABLE) are
 *   identified by (container, shared_name); a variable's buffer is taken from
 *   the tail when an ASSIGN_VARIABLE that can see its handle is prepared,
 *   sized by the assigned tensor, and filled with the low byte of that
 *   tensor's zero point.
 * - mcb_interpreter_init ends with a reset (TFLM's AllocateTensors does).
 * - Reset (TFLM's MicroInterpreter::Reset): int8 variable tensors are filled
 *   with their zero point, every other variable tensor with 0; resource
 *   variables with their fill byte. Kernels keep their own state: CALL_ONCE
 *   does NOT run its subgraph again after a reset (tflite_micro's reset()
 *   does not re-run it either), so the resource variables it initialised
 *   stay at their fill byte until assigned again.
 */
#ifndef MCB_INTERPRETER_H
#define MCB_INTERPRETER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/kernel.h"
#include "mcb/model.h"
#include "mcb/status.h"

#define MCB_INTERP_MSG_SIZE 96u

/* X(name, value): why init or invoke failed. */
#define MCB_INTERP_ERRORS(X)                                                        \
    X(NONE, 0)                                                                      \
    X(ARG, 1)            /* NULL pointer, model not open, no subgraph */             \
    X(STATE, 2)          /* invoke before a successful init */                      \
    X(UNSUPPORTED_OP, 3) /* no kernel for an operator (or for its input type) */    \
    X(PREPARE, 4)        /* a kernel rejected its node */                           \
    X(PLAN, 5)           /* the model cannot be planned (see mcb/planner.h) */      \
    X(ARENA, 6)          /* arena too small */                                      \
    X(INVOKE, 7)         /* a kernel failed while running */

#define MCB_DEFINE_ENUM_ITEM(name, value) MCB_INTERP_E_##name = value,
typedef enum { MCB_INTERP_ERRORS(MCB_DEFINE_ENUM_ITEM) } mcb_interp_errcode;
#undef MCB_DEFINE_ENUM_ITEM

typedef struct {
    mcb_interp_errcode code;
    int32_t node;           /* operator index in its subgraph (see subgraph), or -1 */
    uint32_t arena_need;    /* ARENA: bytes needed (a lower bound if !arena_need_exact) */
    bool arena_need_exact;
    char message[MCB_INTERP_MSG_SIZE]; /* "node 3 (CONV_2D): operator not supported ..." */
    int32_t subgraph;       /* the node's subgraph; 0 when node is -1 */
} mcb_interp_error;

/* Arena figures, valid after a successful init. */
typedef struct {
    uint32_t arena_bytes;     /* as given */
    uint32_t nonpersistent_bytes; /* peak of the planned head (TFLM's "head") */
    uint32_t scratch_bytes;   /* of which scratch buffers (sum of their sizes, not a peak) */
    uint32_t persistent_bytes; /* the tail */
    uint32_t planner_bytes;   /* the planner's temporary array in the head */
    uint32_t required_bytes;  /* the smallest arena this model fits in, at this address */
} mcb_arena_stats;

/* A tensor of subgraph 0. */
typedef struct {
    uint8_t *data;          /* writable bytes in the arena; NULL for constants and empty tensors */
    const uint8_t *cdata;   /* readable bytes: data, or the constant in the model */
    uint32_t bytes;
    mcb_tensor_type type;
    const int32_t *shape;   /* in the model */
    uint32_t rank;
} mcb_tensor_view;

/* One resource variable (TFLM's MicroResourceVariable). */
typedef struct {
    mcb_fb_string container;   /* data NULL when the VAR_HANDLE had none */
    mcb_fb_string shared_name;
    uint8_t *data;             /* NULL until an ASSIGN_VARIABLE is prepared */
    uint32_t bytes;
    uint8_t fill;              /* what reset writes to every byte */
} mcb_resource_var;

/*
 * Per-operator profile of subgraph 0, compiled in only with MCB_PROFILE (the
 * default firmware has no trace of it). Each node of subgraph 0 adds the
 * counter ticks from the end of the node before it (for the first node: from
 * start, which the caller sets to the counter where its timed span begins) to
 * its own end. So the nodes' ticks add up to the caller's span but for the
 * return from the invoke, the first node's include the interpreter's entry,
 * and a node's ticks include the subgraphs it calls (CALL_ONCE).
 */
typedef struct {
    uint64_t (*counter)(void);
    uint64_t *node_ticks; /* one per node of subgraph 0, accumulated over invokes */
    uint32_t capacity;    /* nodes node_ticks holds; a longer model is not profiled */
    uint64_t start;       /* set by the caller before each invoke */
} mcb_profile;

/* Fill with mcb_interpreter_init; treat as opaque. Offsets are from arena. */
struct mcb_interpreter {
    const mcb_model *model;
    const mcb_kernel_registry *registry;
    uint8_t *arena;
    uint32_t arena_bytes;
    uint32_t head;           /* the head's start (16-byte aligned address) */
    uint32_t tail;           /* the tail's lowest byte so far */
    uint32_t end;            /* end of the usable arena (8-byte aligned address) */
    uint64_t missing;        /* persistent bytes asked for and not available */
    bool out_of_arena;       /* set by a failed persistent allocation */
    mcb_node *nodes;         /* n_nodes (all subgraphs), first thing in the tail */
    uint32_t n_nodes;
    const uint8_t **tensors; /* data of every tensor of every subgraph, NULL if none */
    uint32_t n_tensors;      /* of subgraph 0 */
    uint32_t n_subgraphs;
    uint32_t node_base[MCB_MODEL_MAX_SUBGRAPHS + 1];   /* subgraph s: nodes[node_base[s]..[s+1]) */
    uint32_t tensor_base[MCB_MODEL_MAX_SUBGRAPHS + 1]; /* likewise in tensors */
    mcb_resource_var *resources;
    uint32_t n_resources;
    uint32_t max_resources;  /* VAR_HANDLE operators in the model */
    uint32_t running;        /* bit s: subgraph s is being invoked */
    mcb_interp_error *err;   /* where kernels report, during init and invoke */
    mcb_arena_stats stats;
    bool ready;
#ifdef MCB_PROFILE
    const mcb_profile *profile; /* NULL: not profiling */
#endif
};

/*
 * Prepares every subgraph of model (opened, kept unchanged while in use) in
 * arena[0..arena_bytes). MCB_OK, or MCB_ERR_ARG (bad arguments, unsupported,
 * rejected, not plannable) / MCB_ERR_RANGE (arena too small) with *err (may
 * be NULL) saying why.
 */
mcb_status mcb_interpreter_init(mcb_interpreter *it, const mcb_model *model, void *arena,
                                size_t arena_bytes, const mcb_kernel_registry *registry,
                                mcb_interp_error *err);

/* Runs every node of subgraph 0 once (and what they call: CALL_ONCE). */
mcb_status mcb_interpreter_invoke(mcb_interpreter *it, mcb_interp_error *err);

/*
 * Runs subgraph 0's operators 0..last_node only, so that last_node's outputs
 * can be read before later operators reuse their memory (locating where a
 * model diverges). MCB_ERR_ARG if there is no such operator.
 */
mcb_status mcb_interpreter_invoke_until(mcb_interpreter *it, uint32_t last_node,
                                        mcb_interp_error *err);

/*
 * Restores the state TFLM's MicroInterpreter::Reset leaves: variable tensors
 * and resource variables as TFLM resets them (see the top of this file);
 * kernels' own state (CALL_ONCE has run) is kept. MCB_ERR_STATE before init.
 */
mcb_status mcb_interpreter_reset(mcb_interpreter *it, mcb_interp_error *err);

/* Tensor t of subgraph 0: MCB_ERR_ARG if out of range, MCB_ERR_STATE before init. */
mcb_status mcb_interpreter_tensor(const mcb_interpreter *it, uint32_t t, mcb_tensor_view *out);

/* Subgraph 0's inputs and outputs: their count, and tensor index i (-1 if out of range). */
uint32_t mcb_interpreter_input_count(const mcb_interpreter *it);
uint32_t mcb_interpreter_output_count(const mcb_interpreter *it);
int32_t mcb_interpreter_input(const mcb_interpreter *it, uint32_t i);
int32_t mcb_interpreter_output(const mcb_interpreter *it, uint32_t i);

/* MCB_ERR_STATE before a successful init. */
mcb_status mcb_interpreter_arena(const mcb_interpreter *it, mcb_arena_stats *out);

#ifdef MCB_PROFILE
/*
 * Profiles subgraph 0 into profile from now on (NULL stops it); after a
 * successful init, which clears it. MCB_ERR_STATE before init; MCB_ERR_RANGE
 * when the model has more nodes than profile->capacity: nothing is profiled.
 */
mcb_status mcb_interpreter_set_profile(mcb_interpreter *it, const mcb_profile *profile);
#endif

/* "UNSUPPORTED_OP" etc.; "?" for an unknown code. */
const char *mcb_interp_error_name(mcb_interp_errcode code);

#endif
