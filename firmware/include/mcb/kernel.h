/*
 * Kernel interface: what an operator implementation sees of the interpreter.
 *
 * A kernel is a pair of functions, registered explicitly in a table
 * (mcb_kernel_registry) under a builtin operator code and the type of the
 * operator's first input, so that a board can swap in optimized variants:
 *
 *   prepare(ctx, node)  once, from mcb_interpreter_init: check shapes and
 *                       types, compute what invoke needs (requantisation
 *                       multipliers, ...) into node->user_data, taken from
 *                       the persistent part of the arena; request scratch.
 *   invoke(ctx, node)   every inference: read the inputs, write the outputs.
 *
 * Tensors are read through the accessors below, for a node of any subgraph
 * (tensor indices are the node's subgraph's). During prepare nothing is
 * placed yet: constants are read from mcb_kernel_input_info's data, and
 * mcb_kernel_input / _output / _scratch return NULL (variable tensors and
 * resource handles are there already: see "state" below).
 *
 * Running out of arena is not an error of the kernel: when
 * mcb_kernel_alloc_persistent returns NULL, prepare returns MCB_ERR_RANGE at
 * once, and the interpreter goes on preparing the other nodes only to count
 * what the arena lacks. So: request scratch buffers first, then all the
 * persistent memory in one call, then fill it.
 */
#ifndef MCB_KERNEL_H
#define MCB_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/model.h"
#include "mcb/status.h"

/* Scratch buffers one node may request. */
#define MCB_KERNEL_MAX_SCRATCH 2u

/* mcb_kernel.input_type for a kernel that takes any type. */
#define MCB_KERNEL_ANY_TYPE (-1)

typedef struct mcb_interpreter mcb_interpreter;
typedef struct mcb_kernel mcb_kernel;

/* One operator of a subgraph, in the persistent part of the arena. */
typedef struct {
    const mcb_kernel *kernel;
    void *user_data;        /* the kernel's: from mcb_kernel_alloc_persistent */
    const int32_t *inputs;  /* tensor indices in the model, -1 for an omitted input */
    const int32_t *outputs;
    uint32_t n_inputs;
    uint32_t n_outputs;
    uint32_t index;         /* operator index in its subgraph */
    uint32_t n_scratch;
    uint32_t scratch_bytes[MCB_KERNEL_MAX_SCRATCH];  /* as requested */
    uint32_t scratch_offset[MCB_KERNEL_MAX_SCRATCH]; /* in the arena's head, once planned */
    uint32_t subgraph;      /* the subgraph it belongs to */
} mcb_node;

typedef mcb_status (*mcb_kernel_fn)(mcb_interpreter *ctx, mcb_node *node);

struct mcb_kernel {
    int32_t builtin_code; /* BuiltinOperator */
    int32_t input_type;   /* mcb_tensor_type of input 0, or MCB_KERNEL_ANY_TYPE */
    const char *name;     /* for messages: "FULLY_CONNECTED" */
    mcb_kernel_fn prepare;
    mcb_kernel_fn invoke;
};

typedef struct {
    const char *name; /* "reference" */
    const mcb_kernel *kernels;
    uint32_t count;
} mcb_kernel_registry;

/* The reference kernels (firmware/kernels/reference/registry.c). */
const mcb_kernel_registry *mcb_kernels_reference(void);

/* The first kernel for this code and input type; NULL if none. */
const mcb_kernel *mcb_kernel_find(const mcb_kernel_registry *r, int32_t builtin_code,
                                  int32_t input_type);

/* ---- prepare --------------------------------------------------------------- */

/* The node's operator as the model has it (options table included). */
mcb_status mcb_kernel_operator(const mcb_interpreter *ctx, const mcb_node *node,
                               mcb_operator_info *out);

/*
 * Input / output i of the node: MCB_ERR_ARG if the node has no such input, or
 * it is omitted (-1); see mcb_kernel_has_input.
 */
mcb_status mcb_kernel_input_info(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                 mcb_tensor_info *out);
mcb_status mcb_kernel_output_info(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                  mcb_tensor_info *out);
bool mcb_kernel_has_input(const mcb_node *node, uint32_t i);

/*
 * bytes of persistent memory (8-byte aligned, uninitialised); NULL when the
 * arena is exhausted (the kernel then returns MCB_ERR_RANGE at once).
 */
void *mcb_kernel_alloc_persistent(mcb_interpreter *ctx, size_t bytes);

/* A scratch buffer alive while the node runs; *handle for mcb_kernel_scratch. */
mcb_status mcb_kernel_request_scratch(mcb_interpreter *ctx, mcb_node *node, uint32_t bytes,
                                      uint32_t *handle);

/*
 * Rejects the node: the interpreter's error becomes "node N (NAME): " and
 * fmt as mcb_msg_fmt ("%u", "%d", "%x"; up to three arguments). Returns
 * MCB_ERR_ARG, for prepare to return.
 */
mcb_status mcb_kernel_reject(mcb_interpreter *ctx, const mcb_node *node, const char *fmt,
                             uint32_t a, uint32_t b, uint32_t c);

/* ---- invoke ---------------------------------------------------------------- */

/* Data of input i; NULL if omitted or without data. */
const void *mcb_kernel_input(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i);

/* Data of output i (in the arena); NULL if it has none. */
void *mcb_kernel_output(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i);

/* A scratch buffer requested in prepare; NULL for a bad handle. */
void *mcb_kernel_scratch(const mcb_interpreter *ctx, const mcb_node *node, uint32_t handle);

/* ---- state: variable tensors, resource variables, subgraphs ------------------ */

/*
 * Input i's data when it is a variable tensor (is_variable): writable, in
 * the persistent part of the arena, kept across invokes, there from prepare
 * on. NULL for any other input.
 */
void *mcb_kernel_variable(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i);

/*
 * TFLM's MicroResourceVariables::CreateIdIfNoneFound, for VAR_HANDLE's
 * prepare: the id of the resource variable (container, shared_name), created
 * if new. A container without data matches any container; names compare as
 * C strings. -1 if the table is full or shared_name has no data.
 */
int32_t mcb_kernel_resource_id(mcb_interpreter *ctx, const mcb_fb_string *container,
                               const mcb_fb_string *shared_name);

/*
 * VAR_HANDLE's prepare: output i (which the planner leaves unplanned) holds
 * data from now on: the int32 resource id, in persistent memory. MCB_ERR_ARG
 * for any other operator, after prepare, or for a constant or variable.
 */
mcb_status mcb_kernel_set_output(mcb_interpreter *ctx, const mcb_node *node, uint32_t i,
                                 void *data);

/*
 * The resource id input i holds (a VAR_HANDLE's output, or a constant); -1 if
 * it holds no data yet (in prepare: a handle made by a later node or in
 * another subgraph, as TFLM's ASSIGN_VARIABLE finds it).
 */
int32_t mcb_kernel_input_resource(const mcb_interpreter *ctx, const mcb_node *node, uint32_t i);

/*
 * TFLM's MicroResourceVariables::Allocate: the first time, bytes of
 * persistent memory for resource id, every byte set to fill; afterwards
 * nothing (the size stays the first one). MCB_ERR_ARG for a bad id,
 * MCB_ERR_RANGE when the arena is exhausted (prepare returns it at once).
 */
mcb_status mcb_kernel_resource_allocate(mcb_interpreter *ctx, int32_t id, uint32_t bytes,
                                        uint8_t fill);

/*
 * Resource id's buffer (*data NULL and *bytes 0 while not allocated).
 * MCB_ERR_ARG for an id that does not exist.
 */
mcb_status mcb_kernel_resource(const mcb_interpreter *ctx, int32_t id, void **data,
                               uint32_t *bytes);

/* Subgraphs in the model. */
uint32_t mcb_kernel_subgraph_count(const mcb_interpreter *ctx);

/*
 * Runs every node of subgraph once, from a kernel's invoke (TFLM's
 * MicroGraph::InvokeSubgraph; CALL_ONCE). Inputs and outputs of the
 * subgraph are not copied. MCB_ERR_ARG for a bad index or a subgraph
 * already running; a failing node's status otherwise, with the
 * interpreter's error naming that node.
 */
mcb_status mcb_kernel_invoke_subgraph(mcb_interpreter *ctx, uint32_t subgraph);

#endif
