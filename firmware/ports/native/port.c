/*
 * Native (Linux) port: the firmware as a process, its UART a pseudo-terminal.
 * Prints one line "MCUBENCH_PTY <slave path>" on stdout; the host opens that
 * path (pyserial takes it like any serial port). Exits 0 on SIGTERM/SIGINT.
 *
 * The port keeps its own fd on the slave open for its whole life: with no
 * slave fd open, a read on the master fails with EIO (hang-up), which is what
 * would happen each time a host closes the port. Holding one keeps the pty
 * usable for the next host. The catch: responses nobody read stay queued in
 * the pty, so a host should flush its input after opening (pyserial:
 * reset_input_buffer()) and then say HELLO.
 */
#define _DEFAULT_SOURCE    /* cfmakeraw */
#define _XOPEN_SOURCE 700  /* posix_openpt, grantpt, unlockpt, ptsname */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mcb/port.h"
#include "mcb/protocol_defs.h"

#ifndef MCB_BOARD
#define MCB_BOARD "unknown"
#endif

#define POOL_BYTES (8u * 1024u * 1024u)
#define IDLE_WAIT_MS 10  /* poll timeout when there is nothing to do */
#define RX_BUFFER_BYTES 4096u /* what a pty surely absorbs (Linux holds more) */

static struct {
    int master;
    int slave; /* held open so a host closing the port does not hang it up */
    char core[65];
    mcb_port_info info;
} native = {.master = -1, .slave = -1};

_Alignas(16) static uint8_t pool[POOL_BYTES];

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Called wherever the port may wait, so a signal ends the process promptly. */
static void exit_if_stopped(void)
{
    if (stop_requested) {
        close(native.slave);
        close(native.master);
        exit(EXIT_SUCCESS);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "mcubench native port: %s: %s\n", what, strerror(errno));
    exit(EXIT_FAILURE);
}

static void wait_fd(int fd, short events)
{
    struct pollfd pfd = {.fd = fd, .events = events, .revents = 0};
    (void)poll(&pfd, 1, IDLE_WAIT_MS); /* EINTR is fine: the caller checks the signal */
}

static const char *core_name(void)
{
#ifdef MCB_CORE
    return MCB_CORE;
#else
    struct utsname u;
    if (uname(&u) != 0) {
        return "unknown";
    }
    /* "x86_64" -> "x86-64", to read like the other boards' core names. */
    size_t i = 0;
    for (; u.machine[i] != '\0' && i < sizeof native.core - 1; i++) {
        native.core[i] = (u.machine[i] == '_') ? '-' : u.machine[i];
    }
    native.core[i] = '\0';
    return native.core;
#endif
}

mcb_status mcb_port_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a blocked poll returns at once */
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) {
        die("sigaction");
    }

    native.master = posix_openpt(O_RDWR | O_NOCTTY);
    if (native.master < 0) {
        die("posix_openpt");
    }
    if (grantpt(native.master) != 0 || unlockpt(native.master) != 0) {
        die("grantpt/unlockpt");
    }
    const char *path = ptsname(native.master);
    if (path == NULL) {
        die("ptsname");
    }
    native.slave = open(path, O_RDWR | O_NOCTTY);
    if (native.slave < 0) {
        die(path);
    }
    /* Raw: no echo, no CR/LF translation, no signals from bytes, 8 bits clean. */
    struct termios tio;
    if (tcgetattr(native.slave, &tio) != 0) {
        die("tcgetattr");
    }
    cfmakeraw(&tio);
    if (tcsetattr(native.slave, TCSANOW, &tio) != 0) {
        die("tcsetattr");
    }
    const int flags = fcntl(native.master, F_GETFL);
    if (flags < 0 || fcntl(native.master, F_SETFL, flags | O_NONBLOCK) != 0) {
        die("fcntl O_NONBLOCK");
    }

    native.info.board = MCB_BOARD;
    native.info.core = core_name();
    native.info.clock_hz = 0; /* not meaningful for a host CPU */
    native.info.counter_source = MCB_COUNTER_MONOTONIC_NS;
    native.info.counter_hz = 1000000000u;
    native.info.pool = pool;
    native.info.pool_bytes = POOL_BYTES;
    native.info.rx_buffer_bytes = RX_BUFFER_BYTES;

    printf("MCUBENCH_PTY %s\n", path);
    fflush(stdout);
    return MCB_OK;
}

const mcb_port_info *mcb_port_get_info(void)
{
    return &native.info;
}

size_t mcb_port_uart_read(uint8_t *buf, size_t cap)
{
    exit_if_stopped();
    const ssize_t n = read(native.master, buf, cap);
    if (n > 0) {
        return (size_t)n;
    }
    if (n < 0 && errno == EIO) {
        /* No slave open (cannot happen while we hold one): keep serving. */
        const struct timespec ts = {.tv_sec = 0, .tv_nsec = IDLE_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

void mcb_port_idle(void)
{
    /* Sleep until input or the idle tick, so an idle device costs no CPU. */
    wait_fd(native.master, POLLIN);
    exit_if_stopped();
}

mcb_status mcb_port_uart_write(const uint8_t *buf, size_t len)
{
    while (len > 0) {
        const ssize_t n = write(native.master, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            /* The pty is full until the host reads: wait as a UART would. */
            wait_fd(native.master, POLLOUT);
            exit_if_stopped();
        } else {
            return MCB_ERR_IO;
        }
    }
    return MCB_OK;
}

uint64_t mcb_port_counter_read(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
