/*
 * Shared by the elementwise kernels (elementwise_common.h): the binary
 * node's checks and broadcast loop nest, and the requantisation parameters
 * as TFLM's add_common.cc, sub_common.cc and mul_common.cc compute them.
 */
#include "elementwise_common.h"

#include <float.h>

#include "mcb/quant.h"

#define OPTIONS_ADD 11 /* BuiltinOptions.AddOptions */
#define OPTIONS_MUL 21 /* BuiltinOptions.MulOptions */
#define OPTIONS_SUB 28 /* BuiltinOptions.SubOptions */
#define OPT_ACTIVATION MCB_FB_SLOT(0)

/*
 * TFLM broadcasts over at most 7 dimensions: with 8 it leaves the output
 * as it was (seen with the tflite_micro wheel), so such nodes are refused.
 */
#define MAX_BROADCAST_RANK 7u

/* Dimension i of t's shape extended on the left with 1s to rank r. */
static uint32_t extended_dim(const mcb_tensor_info *t, uint32_t i, uint32_t r)
{
    const uint32_t lead = r - t->rank;
    return i < lead ? 1u : (uint32_t)t->shape[i - lead];
}

/*
 * The loop nest of out = a op b; false if the shapes do not broadcast to the
 * output's. *broadcasts: the inputs' extended shapes differ.
 */
static bool plan_broadcast(const mcb_tensor_info *a, const mcb_tensor_info *b,
                           const mcb_tensor_info *out, mcb_ew_broadcast *bc, bool *broadcasts,
                           uint32_t *rank)
{
    uint32_t r = a->rank > b->rank ? a->rank : b->rank;
    r = out->rank > r ? out->rank : r;
    bool skip1[MCB_EW_MAX_RANK]; /* per fused dimension: input 1 / 2 repeated along it */
    bool skip2[MCB_EW_MAX_RANK];
    uint64_t count = 1;
    uint32_t n = 0;
    *broadcasts = false;
    *rank = r;
    for (uint32_t i = 0; i < r; i++) {
        const uint32_t da = extended_dim(a, i, r);
        const uint32_t db = extended_dim(b, i, r);
        const uint32_t dout = extended_dim(out, i, r);
        if (da != db) {
            *broadcasts = true;
            if (da != 1u && db != 1u) {
                return false;
            }
        }
        if (dout != (da == 1u ? db : da)) {
            return false;
        }
        count *= dout; /* the output is a tensor: fewer than 2^31 elements */
        if (dout == 1u) {
            continue; /* nothing to iterate */
        }
        const bool s1 = da == 1u;
        const bool s2 = db == 1u;
        if (n > 0u && skip1[n - 1u] == s1 && skip2[n - 1u] == s2) {
            bc->extent[n - 1u] *= dout; /* contiguous with its outer neighbour: fuse */
        } else {
            skip1[n] = s1;
            skip2[n] = s2;
            bc->extent[n] = dout;
            n++;
        }
    }
    if (n == 0u) { /* a single element */
        skip1[0] = false;
        skip2[0] = false;
        bc->extent[0] = 1u;
        n = 1u;
    }
    uint32_t acc1 = 1;
    uint32_t acc2 = 1;
    for (uint32_t i = n; i-- > 0u;) {
        bc->stride1[i] = skip1[i] ? 0u : acc1;
        bc->stride2[i] = skip2[i] ? 0u : acc2;
        acc1 *= skip1[i] ? 1u : bc->extent[i];
        acc2 *= skip2[i] ? 1u : bc->extent[i];
    }
    bc->rank = n;
    bc->count = (uint32_t)count;
    return true;
}

mcb_status mcb_ew_binary_check(mcb_interpreter *ctx, const mcb_node *node, mcb_ew_op op,
                               mcb_tensor_type type, mcb_ew_binary *b)
{
    mcb_operator_info info;
    if (node->n_inputs != 2u || node->n_outputs != 1u ||
        mcb_kernel_operator(ctx, node, &info) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 0, &b->in1) != MCB_OK ||
        mcb_kernel_input_info(ctx, node, 1, &b->in2) != MCB_OK ||
        mcb_kernel_output_info(ctx, node, 0, &b->out) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "needs two inputs and one output", 0, 0, 0);
    }
    const uint8_t options = op == MCB_EW_ADD ? OPTIONS_ADD : op == MCB_EW_SUB ? OPTIONS_SUB
                                                                              : OPTIONS_MUL;
    if (info.options_type != 0 && info.options_type != options) {
        return mcb_kernel_reject(ctx, node, "options of type %u", info.options_type, 0, 0);
    }
    if (mcb_fb_u8(&info.options, OPT_ACTIVATION, 0, &b->activation) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "unreadable options", 0, 0, 0);
    }
    if (b->activation > MCB_ACT_SIGN_BIT) {
        return mcb_kernel_reject(ctx, node, "fused activation %u unknown", b->activation, 0, 0);
    }
    /* TFLM checks only MUL's two input types; other mixes read one type as another. */
    if (b->in1.type != b->in2.type) {
        return mcb_kernel_reject(ctx, node, "input types %u and %u differ", b->in1.type,
                                 b->in2.type, 0);
    }
    if (b->in1.type != type || b->out.type != type) {
        return mcb_kernel_reject(ctx, node, "input type %u, output type %u: must be the same",
                                 b->in1.type, b->out.type, 0);
    }
    bool broadcasts;
    uint32_t rank;
    if (!plan_broadcast(&b->in1, &b->in2, &b->out, &b->bc, &broadcasts, &rank)) {
        return mcb_kernel_reject(ctx, node, "input shapes do not broadcast to the output's", 0, 0,
                                 0);
    }
    if (broadcasts && rank > MAX_BROADCAST_RANK) {
        return mcb_kernel_reject(ctx, node, "broadcast over %u dimensions, at most %u", rank,
                                 MAX_BROADCAST_RANK, 0);
    }
    return MCB_OK;
}

/* ---- requantisation parameters ------------------------------------------------------------ */

static bool positive_finite(float s)
{
    return s > 0.0f && s <= FLT_MAX;
}

static bool in_range(int64_t v, int32_t lo, int32_t hi)
{
    return v >= lo && v <= hi;
}

/* TFLM's QuantizeMultiplierSmallerThanOneExp, which aborts outside (0, 1) or on a shift > 0. */
static bool multiplier_below_one(double real, int32_t *multiplier, int32_t *shift)
{
    return real > 0.0 && real < 1.0 && mcb_quantize_multiplier(real, multiplier, shift) == MCB_OK &&
           *shift <= 0;
}

mcb_status mcb_ew_addsub_q_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_ew_op op,
                                   mcb_tensor_type type)
{
    mcb_ew_binary b;
    const mcb_status st = mcb_ew_binary_check(ctx, node, op, type, &b);
    if (st != MCB_OK) {
        return st;
    }
    const bool is16 = type == MCB_TYPE_INT16;
    const int32_t qmin = is16 ? INT16_MIN : INT8_MIN;
    const int32_t qmax = is16 ? INT16_MAX : INT8_MAX;
    const float s1 = mcb_quant_scale(&b.in1.quant, 0);
    const float s2 = mcb_quant_scale(&b.in2.quant, 0);
    const float so = mcb_quant_scale(&b.out.quant, 0);
    const int64_t z1 = mcb_quant_zero_point(&b.in1.quant, 0);
    const int64_t z2 = mcb_quant_zero_point(&b.in2.quant, 0);
    const int64_t zo = mcb_quant_zero_point(&b.out.quant, 0);
    if (!positive_finite(s1) || !positive_finite(s2) || !positive_finite(so)) {
        return mcb_kernel_reject(ctx, node, "inputs and output must be quantised (positive "
                                 "scales)", 0, 0, 0);
    }
    if (!in_range(z1, qmin, qmax) || !in_range(z2, qmin, qmax) || !in_range(zo, qmin, qmax)) {
        return mcb_kernel_reject(ctx, node, "zero points %d, %d, %d out of the type's range",
                                 (uint32_t)z1, (uint32_t)z2, (uint32_t)zo);
    }
    const int32_t left_shift = is16 ? 15 : 20;
    const float max_scale = s1 < s2 ? s2 : s1; /* std::max */
    /* In double, as add_common.cc and the wheel's sub_common.cc (older ones divided in float). */
    const double twice = 2.0 * (double)max_scale;
    const double real1 = (double)s1 / twice;
    const double real2 = (double)s2 / twice;
    const double real_out = twice / ((double)(INT32_C(1) << left_shift) * (double)so);
    int32_t m1;
    int32_t sh1;
    int32_t m2;
    int32_t sh2;
    int32_t mo;
    int32_t sho;
    if (!multiplier_below_one(real1, &m1, &sh1) || !multiplier_below_one(real2, &m2, &sh2) ||
        !multiplier_below_one(real_out, &mo, &sho)) {
        return mcb_kernel_reject(ctx, node, "output scale too small for the input scales "
                                 "(TFLM aborts)", 0, 0, 0);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)b.activation, so, (int32_t)zo, qmin, qmax, &act_min,
                             &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }
    mcb_ew_addsub_q *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bc = b.bc;
    d->left_shift = left_shift;
    d->input1_offset = -(int32_t)z1;
    d->input2_offset = -(int32_t)z2;
    d->output_offset = (int32_t)zo;
    d->input1_multiplier = m1;
    d->input1_shift = sh1;
    d->input2_multiplier = m2;
    d->input2_shift = sh2;
    d->output_multiplier = mo;
    d->output_shift = sho;
    d->act_min = act_min;
    d->act_max = act_max;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_ew_mul_q_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_tensor_type type)
{
    mcb_ew_binary b;
    const mcb_status st = mcb_ew_binary_check(ctx, node, MCB_EW_MUL, type, &b);
    if (st != MCB_OK) {
        return st;
    }
    const bool is16 = type == MCB_TYPE_INT16;
    const int32_t qmin = is16 ? INT16_MIN : INT8_MIN;
    const int32_t qmax = is16 ? INT16_MAX : INT8_MAX;
    const float s1 = mcb_quant_scale(&b.in1.quant, 0);
    const float s2 = mcb_quant_scale(&b.in2.quant, 0);
    const float so = mcb_quant_scale(&b.out.quant, 0);
    const int64_t z1 = mcb_quant_zero_point(&b.in1.quant, 0);
    const int64_t z2 = mcb_quant_zero_point(&b.in2.quant, 0);
    const int64_t zo = mcb_quant_zero_point(&b.out.quant, 0);
    if (!positive_finite(s1) || !positive_finite(s2) || !positive_finite(so)) {
        return mcb_kernel_reject(ctx, node, "inputs and output must be quantised (positive "
                                 "scales)", 0, 0, 0);
    }
    if (is16 && (z1 != 0 || z2 != 0 || zo != 0)) { /* as TFLM's mul_common.cc */
        return mcb_kernel_reject(ctx, node, "int16 zero points must be 0, got %d, %d, %d",
                                 (uint32_t)z1, (uint32_t)z2, (uint32_t)zo);
    }
    if (!in_range(z1, qmin, qmax) || !in_range(z2, qmin, qmax) || !in_range(zo, qmin, qmax)) {
        return mcb_kernel_reject(ctx, node, "zero points %d, %d, %d out of the type's range",
                                 (uint32_t)z1, (uint32_t)z2, (uint32_t)zo);
    }
    int32_t act_min;
    int32_t act_max;
    if (mcb_activation_range((mcb_activation)b.activation, so, (int32_t)zo, qmin, qmax, &act_min,
                             &act_max) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "activation range does not fit int32", 0, 0, 0);
    }
    int32_t multiplier;
    int32_t shift;
    const double real = (double)s1 * (double)s2 / (double)so;
    if (mcb_quantize_multiplier(real, &multiplier, &shift) != MCB_OK) {
        return mcb_kernel_reject(ctx, node, "requantisation multiplier out of range (input "
                                 "scales / output scale >= 2^31)", 0, 0, 0);
    }
    mcb_ew_mul_q *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bc = b.bc;
    d->input1_offset = -(int32_t)z1;
    d->input2_offset = -(int32_t)z2;
    d->output_offset = (int32_t)zo;
    d->output_multiplier = multiplier;
    d->output_shift = shift;
    d->act_min = act_min;
    d->act_max = act_max;
    node->user_data = d;
    return MCB_OK;
}

mcb_status mcb_ew_float_prepare(mcb_interpreter *ctx, mcb_node *node, mcb_ew_op op)
{
    mcb_ew_binary b;
    const mcb_status st = mcb_ew_binary_check(ctx, node, op, MCB_TYPE_FLOAT32, &b);
    if (st != MCB_OK) {
        return st;
    }
    mcb_ew_float *d = mcb_kernel_alloc_persistent(ctx, sizeof *d);
    if (d == NULL) {
        return MCB_ERR_RANGE;
    }
    d->bc = b.bc;
    /* TFLM's CalculateActivationRange<float>: TANH and SIGN_BIT clamp nothing either. */
    switch ((mcb_activation)b.activation) {
    case MCB_ACT_RELU:
        d->act_min = 0.0f;
        d->act_max = FLT_MAX;
        break;
    case MCB_ACT_RELU6:
        d->act_min = 0.0f;
        d->act_max = 6.0f;
        break;
    case MCB_ACT_RELU_N1_TO_1:
        d->act_min = -1.0f;
        d->act_max = 1.0f;
        break;
    default:
        d->act_min = -FLT_MAX;
        d->act_max = FLT_MAX;
        break;
    }
    node->user_data = d;
    return MCB_OK;
}

/* ---- invoke ---------------------------------------------------------------------------------- */

mcb_status mcb_ew_binary_invoke(mcb_interpreter *ctx, const mcb_node *node, size_t elem_size,
                                mcb_ew_row_fn row)
{
    const mcb_ew_broadcast *bc = node->user_data;
    if (bc == NULL) {
        return MCB_ERR_STATE;
    }
    if (bc->count == 0u) {
        return MCB_OK;
    }
    const uint8_t *a = mcb_kernel_input(ctx, node, 0);
    const uint8_t *b = mcb_kernel_input(ctx, node, 1);
    uint8_t *out = mcb_kernel_output(ctx, node, 0);
    if (a == NULL || b == NULL || out == NULL) {
        return MCB_ERR_STATE;
    }
    const uint32_t inner = bc->rank - 1u;
    const uint32_t n = bc->extent[inner];
    uint32_t index[MCB_EW_MAX_RANK] = {0};
    size_t ia = 0; /* element offsets into a and b */
    size_t ib = 0;
    for (;;) {
        row(node->user_data, a + ia * elem_size, bc->stride1[inner], b + ib * elem_size,
            bc->stride2[inner], out, n);
        out += (size_t)n * elem_size;
        /* The next row: an odometer over the outer dimensions, innermost first. */
        uint32_t d = inner;
        while (d-- > 0u) {
            ia += bc->stride1[d];
            ib += bc->stride2[d];
            if (++index[d] < bc->extent[d]) {
                break;
            }
            ia -= (size_t)bc->stride1[d] * bc->extent[d];
            ib -= (size_t)bc->stride2[d] * bc->extent[d];
            index[d] = 0;
        }
        if (d == UINT32_MAX) {
            return MCB_OK;
        }
    }
}

int32_t mcb_ew_round_to_i32(float x)
{
    if (!(x == x)) {
        return 0;
    }
    if (x >= 2147483648.0f) {
        return INT32_MAX;
    }
    if (x <= -2147483648.0f) {
        return INT32_MIN;
    }
    int32_t t = (int32_t)x; /* toward zero; from 2^23 on x is already an integer */
    const float frac = x - (float)t; /* exact */
    if (frac >= 0.5f) {
        t++;
    } else if (frac <= -0.5f) {
        t--;
    }
    return t;
}
