/*
 * TFLite model reader: a .tflite flatbuffer (schema version 3, identifier
 * "TFL3") read in place, zero copy.
 *
 * mcb_model_open checks the whole model once: every offset, vector, string,
 * index, type, shape and quantisation parameter the accessors below can
 * return, so that after it succeeds they are cheap and cannot fault. A
 * malformed, hostile or unsupported model is rejected with an error code, the
 * subgraph / operator / tensor it concerns and a one-line message.
 *
 * What is rejected as UNSUPPORTED rather than read: buffers stored outside the
 * flatbuffer (Buffer.offset/size, models over 2 GB), Tensor.external_buffer,
 * large custom options, sparse tensors, quantization details (custom /
 * blockwise). Custom operators are accepted here (the interpreter rejects
 * them by name).
 *
 * Arrays of int32 (shape, operator inputs, ...) are returned as pointers into
 * the model: the buffer must be 4-byte aligned (mcb_model_open checks), and
 * the target little endian. Quantisation arrays are returned raw (float32 /
 * int64, little endian): read them with mcb_quant_scale / _zero_point.
 * The model buffer must stay in place and unchanged while the model is used.
 */
#ifndef MCB_MODEL_H
#define MCB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcb/flatbuf.h"
#include "mcb/status.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mcb/model.h: flatbuffers are little endian; int32 arrays are used in place"
#endif

#define MCB_MODEL_SCHEMA_VERSION 3u
#define MCB_MODEL_IDENTIFIER "TFL3"

/* Limits (checked by mcb_model_open). */
#define MCB_MODEL_MAX_SUBGRAPHS 16u
#define MCB_MODEL_MAX_TENSORS 65535u   /* per subgraph */
#define MCB_MODEL_MAX_OPERATORS 65535u /* per subgraph */
#define MCB_MODEL_MAX_RANK 8u

/* Storage for an error message, NUL included. */
#define MCB_MODEL_MSG_SIZE 96u

/* BuiltinOperator value of custom operators. */
#define MCB_BUILTIN_CUSTOM 32

/* X(name, value): why a model was rejected. */
#define MCB_MODEL_ERRORS(X)     \
    X(NONE, 0)                  \
    X(ARG, 1)            /* NULL or misaligned buffer */                          \
    X(NOT_FLATBUFFER, 2) /* too short, or no valid root table */                  \
    X(BAD_IDENTIFIER, 3) /* bytes 4..8 are not "TFL3" */                          \
    X(BAD_VERSION, 4)    /* schema version is not 3 */                            \
    X(OUT_OF_BOUNDS, 5)  /* an offset, vtable, vector or string leaves the buffer */ \
    X(MISSING, 6)        /* a required field is absent */                         \
    X(BAD_INDEX, 7)      /* a tensor, buffer or operator-code index out of range */ \
    X(BAD_TYPE, 8)       /* tensor type, union type or builtin code out of range */ \
    X(BAD_SHAPE, 9)      /* a negative dimension */                               \
    X(BAD_BUFFER, 10)    /* constant data size does not match shape and type */  \
    X(BAD_QUANT, 11)     /* scale / zero point counts, quantized_dimension */     \
    X(LIMIT, 12)         /* over a limit above (subgraphs, tensors, rank, size) */ \
    X(UNSUPPORTED, 13)   /* valid TFLite, not supported by this reader */

#define MCB_DEFINE_ENUM_ITEM(name, value) MCB_MODEL_E_##name = value,
typedef enum { MCB_MODEL_ERRORS(MCB_DEFINE_ENUM_ITEM) } mcb_model_errcode;
#undef MCB_DEFINE_ENUM_ITEM

/* X(name, value, bits): TensorType; bits per element, 0 if variable. */
#define MCB_TENSOR_TYPES(X)     \
    X(FLOAT32, 0, 32)           \
    X(FLOAT16, 1, 16)           \
    X(INT32, 2, 32)             \
    X(UINT8, 3, 8)              \
    X(INT64, 4, 64)             \
    X(STRING, 5, 0)             \
    X(BOOL, 6, 8)               \
    X(INT16, 7, 16)             \
    X(COMPLEX64, 8, 64)         \
    X(INT8, 9, 8)               \
    X(FLOAT64, 10, 64)          \
    X(COMPLEX128, 11, 128)      \
    X(UINT64, 12, 64)           \
    X(RESOURCE, 13, 0)          \
    X(VARIANT, 14, 0)           \
    X(UINT32, 15, 32)           \
    X(UINT16, 16, 16)           \
    X(INT4, 17, 4)              \
    X(BFLOAT16, 18, 16)         \
    X(INT2, 19, 2)              \
    X(UINT4, 20, 4)             \
    X(FLOAT8_E4M3FN, 21, 8)     \
    X(FLOAT8_E5M2, 22, 8)

#define MCB_DEFINE_ENUM_ITEM(name, value, bits) MCB_TYPE_##name = value,
typedef enum { MCB_TENSOR_TYPES(MCB_DEFINE_ENUM_ITEM) MCB_TYPE_COUNT } mcb_tensor_type;
#undef MCB_DEFINE_ENUM_ITEM

/* Largest union type values of this schema. */
#define MCB_BUILTIN_OPTIONS_MAX 126u
#define MCB_BUILTIN_OPTIONS2_MAX 23u

typedef struct {
    mcb_model_errcode code;
    int32_t subgraph; /* -1 unless the error is inside a subgraph */
    int32_t op;       /* operator index in that subgraph, or -1 */
    int32_t tensor;   /* tensor index in that subgraph, or -1 */
    char message[MCB_MODEL_MSG_SIZE]; /* e.g. "subgraph 0 operator 12 input 3: tensor 999 >= 54 tensors" */
} mcb_model_error;

/* Where a validated vector lives: count elements from byte pos of the model. */
typedef struct {
    uint32_t pos;
    uint32_t count;
} mcb_model_span;

typedef struct {
    mcb_model_span tensors;   /* offsets to Tensor tables */
    mcb_model_span operators; /* offsets to Operator tables */
    mcb_model_span inputs;    /* int32 tensor indices */
    mcb_model_span outputs;
    mcb_model_span name;      /* bytes of the name string */
} mcb_model_sg;

/* An opened model; fill with mcb_model_open, treat as opaque. */
typedef struct {
    const uint8_t *buf; /* NULL unless opened successfully */
    uint32_t len;
    mcb_model_span opcodes;
    mcb_model_span buffers;
    uint32_t n_subgraphs;
    mcb_model_sg subgraphs[MCB_MODEL_MAX_SUBGRAPHS];
} mcb_model;

typedef struct {
    uint32_t n_tensors;
    uint32_t n_operators;
    const int32_t *inputs; /* n_inputs tensor indices, each < n_tensors */
    uint32_t n_inputs;
    const int32_t *outputs;
    uint32_t n_outputs;
    mcb_fb_string name;
} mcb_subgraph_info;

/*
 * Quantisation parameters. n_scales == 0: not quantised. n_scales == 1: per
 * tensor; > 1: per channel along quantized_dimension (n_scales equals that
 * dimension's size).
 */
typedef struct {
    uint32_t n_scales;
    const uint8_t *scale;        /* n_scales float32, little endian */
    uint32_t n_zero_points;      /* n_scales, or 0 (all zero points are 0) */
    const uint8_t *zero_point;   /* n_zero_points int64, little endian, or NULL */
    int32_t quantized_dimension; /* 0 <= it < rank (when rank > 0) */
} mcb_quant_info;

typedef struct {
    const int32_t *shape; /* rank dimensions, each >= 0; NULL when rank == 0 */
    uint32_t rank;        /* <= MCB_MODEL_MAX_RANK */
    mcb_tensor_type type;
    bool is_variable;
    uint32_t buffer;      /* index into the model's buffers (0 is the empty buffer) */
    const uint8_t *data;  /* constant data, NULL if the buffer is empty */
    uint32_t data_bytes;  /* matches shape and type for fixed-size types */
    mcb_quant_info quant;
    mcb_fb_string name;
} mcb_tensor_info;

typedef struct {
    int32_t builtin_code;     /* max(deprecated_builtin_code, builtin_code), >= 0 */
    int32_t version;
    mcb_fb_string custom_name; /* custom_code as stored; always present for CUSTOM */
} mcb_opcode_info;

typedef struct {
    uint32_t opcode_index;
    int32_t builtin_code;      /* from the operator code */
    mcb_fb_string custom_name; /* from the operator code */
    const int32_t *inputs;     /* tensor indices, -1 for an omitted optional tensor */
    uint32_t n_inputs;
    const int32_t *outputs;    /* likewise */
    uint32_t n_outputs;
    const int32_t *intermediates; /* likewise */
    uint32_t n_intermediates;
    uint8_t options_type;      /* BuiltinOptions union type, 0 = NONE */
    mcb_fb_table options;      /* its table; empty if NONE or absent (defaults apply) */
    uint8_t options2_type;     /* BuiltinOptions2 union type */
    mcb_fb_table options2;
} mcb_operator_info;

/*
 * Checks buf[0..len) as a TFLite model and fills m. Returns MCB_OK, or
 * MCB_ERR_FORMAT with *err (may be NULL) saying why (MCB_ERR_ARG for bad arguments); m is then unusable (every
 * accessor returns MCB_ERR_STATE or 0).
 */
mcb_status mcb_model_open(mcb_model *m, const uint8_t *buf, size_t len, mcb_model_error *err);

/* "BAD_INDEX" etc.; "?" for an unknown code. */
const char *mcb_model_error_name(mcb_model_errcode code);

/* Bits per element of a tensor type, 0 for variable-size or unknown types. */
uint32_t mcb_tensor_type_bits(mcb_tensor_type type);

/* 0 for a model that is not open. */
uint32_t mcb_model_subgraph_count(const mcb_model *m);
uint32_t mcb_model_opcode_count(const mcb_model *m);
uint32_t mcb_model_buffer_count(const mcb_model *m);

/*
 * Accessors: MCB_OK, MCB_ERR_STATE if m is not open, MCB_ERR_ARG for an
 * index out of range or a NULL pointer.
 */
mcb_status mcb_model_subgraph(const mcb_model *m, uint32_t sg, mcb_subgraph_info *out);
mcb_status mcb_model_tensor(const mcb_model *m, uint32_t sg, uint32_t t, mcb_tensor_info *out);
mcb_status mcb_model_operator(const mcb_model *m, uint32_t sg, uint32_t op,
                              mcb_operator_info *out);
mcb_status mcb_model_opcode(const mcb_model *m, uint32_t i, mcb_opcode_info *out);

/* Buffer i's data; *data NULL and *bytes 0 when empty. */
mcb_status mcb_model_buffer(const mcb_model *m, uint32_t i, const uint8_t **data,
                            uint32_t *bytes);

/*
 * custom_code of operator op's operator code (not NUL-terminated); data NULL
 * when absent, as for builtin operators.
 */
mcb_status mcb_model_custom_name(const mcb_model *m, uint32_t sg, uint32_t op,
                                 mcb_fb_string *name);

/* Scale / zero point i (0 <= i < n_scales); 0 when out of range or absent. */
float mcb_quant_scale(const mcb_quant_info *q, uint32_t i);
int64_t mcb_quant_zero_point(const mcb_quant_info *q, uint32_t i);

#endif
