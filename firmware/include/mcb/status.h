/* Status codes returned by every fallible firmware function. */
#ifndef MCB_STATUS_H
#define MCB_STATUS_H

typedef enum {
    MCB_OK = 0,
    MCB_ERR_ARG = -1,     /* a caller passed something invalid */
    MCB_ERR_RANGE = -2,   /* an offset or length falls outside its buffer */
    MCB_ERR_STATE = -3,   /* the call is not valid in the current state */
    MCB_ERR_IO = -4,      /* the port could not move bytes */
    MCB_ERR_TIMEOUT = -5, /* a deadline passed */
    MCB_ERR_FORMAT = -6,  /* input data (a model file) is malformed: details in its error struct */
} mcb_status;

#endif
