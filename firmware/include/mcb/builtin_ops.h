/*
 * BuiltinOperator codes (TFLite schema) of the operators the runtime knows,
 * for kernel tables and the interpreter. mcb_builtin_name (mcb/model_extra.h)
 * names every code.
 */
#ifndef MCB_BUILTIN_OPS_H
#define MCB_BUILTIN_OPS_H

enum {
    MCB_OP_ADD = 0,
    MCB_OP_AVERAGE_POOL_2D = 1,
    MCB_OP_CONCATENATION = 2,
    MCB_OP_CONV_2D = 3,
    MCB_OP_DEPTHWISE_CONV_2D = 4,
    MCB_OP_DEQUANTIZE = 6,
    MCB_OP_FULLY_CONNECTED = 9,
    MCB_OP_LOGISTIC = 14,
    MCB_OP_MAX_POOL_2D = 17,
    MCB_OP_MUL = 18,
    MCB_OP_RELU = 19,
    MCB_OP_RELU6 = 21,
    MCB_OP_RESHAPE = 22,
    MCB_OP_SOFTMAX = 25,
    MCB_OP_SVDF = 27,
    MCB_OP_TANH = 28,
    MCB_OP_PAD = 34,
    MCB_OP_TRANSPOSE = 39,
    MCB_OP_MEAN = 40,
    MCB_OP_SUB = 41,
    MCB_OP_SQUEEZE = 43,
    MCB_OP_STRIDED_SLICE = 45,
    MCB_OP_SPLIT = 49,
    MCB_OP_PADV2 = 60,
    MCB_OP_LEAKY_RELU = 98,
    MCB_OP_SPLIT_V = 102,
    MCB_OP_QUANTIZE = 114,
    MCB_OP_HARD_SWISH = 117,
    MCB_OP_CALL_ONCE = 129,
    MCB_OP_VAR_HANDLE = 142,
    MCB_OP_READ_VARIABLE = 143,
    MCB_OP_ASSIGN_VARIABLE = 144,
};

#endif
