/* Firmware release; tests/test_versions.py checks it equals the host package's. */
#ifndef MCB_VERSION_H
#define MCB_VERSION_H

#define MCB_FIRMWARE_VERSION "0.1.0"

#endif
