/*
 * One MLPerf Tiny benchmark session (docs/mlperf_tiny.md): the model linked
 * into the firmware, the input buffer the `db` commands fill, and the
 * commands themselves. Bytes come in through mcb_ee_session_feed; replies go
 * out through the configured write function, so the session does no I/O of
 * its own (main.c connects it to the port).
 *
 * RAM: the port's pool holds the input buffer (all of subgraph 0's inputs,
 * back to back, as the host sends them) and, from the next 16-byte boundary,
 * the interpreter's arena. A model that cannot be used (none embedded, one
 * the runtime rejects, an arena too small) leaves the session "failed": every
 * command then answers e-[...] with the reason, and m-ready.
 */
#ifndef MCB_EE_SESSION_H
#define MCB_EE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ee_parse.h"
#include "mcb/interpreter.h"
#include "mcb/kernel.h"
#include "mcb/model.h"
#include "mcb/status.h"

/* Storage for the reason a session failed (NUL included). */
#define MCB_EE_FAIL_SIZE 160u

typedef mcb_status (*mcb_ee_write_fn)(void *user, const uint8_t *buf, size_t len);
typedef uint64_t (*mcb_ee_counter_fn)(void);

typedef struct {
    mcb_ee_write_fn write;   /* replies; a failed write is ignored (no one to tell) */
    void *write_user;
    mcb_ee_counter_fn counter; /* free-running, counter_hz ticks per second */
    uint32_t counter_hz;     /* 0: take ticks as microseconds */
    const char *board;       /* for m-name-dut-[...] and messages */
    const mcb_kernel_registry *kernels;
    const uint8_t *model;    /* the embedded model, or NULL */
    uint32_t model_bytes;
    uint8_t *pool;           /* RAM for the input buffer and the arena */
    uint32_t pool_bytes;
} mcb_ee_config;

/* Fill with mcb_ee_session_init; treat as opaque. */
typedef struct {
    mcb_ee_config cfg;
    char fail[MCB_EE_FAIL_SIZE]; /* non-empty: the session cannot run the model */
    mcb_model model;
    mcb_interpreter interpreter;
    const char *model_id;    /* m-model-[...]: "kws01", ... or "unknown" */
    uint8_t *db;             /* the input buffer: input_bytes bytes at the pool's start */
    uint32_t input_bytes;    /* subgraph 0's inputs together */
    uint32_t output_values;  /* elements of all outputs: what m-results-[...] lists */
    uint32_t db_size;        /* from the last db load; 0 before any */
    uint32_t db_pos;         /* bytes received since */
    bool have_results;       /* the outputs hold the last infer's results */
    mcb_ee_line line;
} mcb_ee_session;

/*
 * Sets the session up over cfg (copied): opens the model, places the input
 * buffer and the arena in the pool and prepares the interpreter. MCB_OK even
 * when the model cannot be used (the session then answers errors, see
 * above); MCB_ERR_ARG only for a NULL session, config, write or counter.
 */
mcb_status mcb_ee_session_init(mcb_ee_session *s, const mcb_ee_config *cfg);

/* What the reference harness prints at start: timestamp mode, a lap, m-init-done, m-ready. */
void mcb_ee_session_banner(mcb_ee_session *s);

/* Received bytes: each complete command is answered (ending with m-ready) before returning. */
void mcb_ee_session_feed(mcb_ee_session *s, const uint8_t *data, size_t len);

/* Answers one command line (without its '%'); what feed does per command. */
void mcb_ee_session_command(mcb_ee_session *s, const char *line, uint32_t len);

#endif
