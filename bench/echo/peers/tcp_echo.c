/*
 * tcp_echo — a plain TCP echo server: the ceiling of this machine for bench/echo/run.sh.
 *
 * No WebSocket at all: every byte read is written back on the same connection. loadgen -m tcp
 * sends the same S-byte messages with the same number in flight as in the WebSocket runs and
 * verifies every echo, so a WebSocket server's ratio to this one is what its protocol work
 * (handshake aside: framing, masking, validation, buffering) costs over the kernel's own.
 *
 * Built the way a careful C server would be, and no further: one thread, level-triggered epoll,
 * non-blocking sockets, TCP_NODELAY, one 256 KiB read buffer for the whole loop (a connection
 * holds memory only while the kernel will not take its echo), read and write straight from it.
 * A connection whose echo could not be written stops reading until it drains (backpressure).
 *
 *   tcp_echo --port PORT [--host 127.0.0.1]      prints "listening on HOST:PORT"; stops on SIGINT or SIGTERM
 *
 * Build: cc -O2 -Wall -Wextra -std=c11 -o tcp_echo tcp_echo.c
 */
#include "echo_server.h"

enum { READ_BUFFER = 256 * 1024, MAX_EVENTS = 1024 };

/** Bytes of an echo the kernel did not take yet: [data + off, data + len). */
typedef struct {
    int fd;
    unsigned char *data;
    size_t off, len;
} pending_t;

static void drop(pending_t *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->data);
    free(c);
}

/** Writes [p, p+len); returns how many bytes were written, or -1 when the connection failed. */
static ssize_t write_some(int fd, const unsigned char *p, size_t len) {
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, p + done, len - done, MSG_NOSIGNAL);
        if (n > 0) { done += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return -1;
    }
    return (ssize_t)done;
}

/** Reads and echoes until the socket is drained or the kernel stops taking the echo. */
static void on_readable(pending_t *c, unsigned char *buffer) {
    for (;;) {
        ssize_t n = recv(c->fd, buffer, READ_BUFFER, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { drop(c); return; }
        ssize_t written = write_some(c->fd, buffer, (size_t)n);
        if (written < 0) { drop(c); return; }
        if (written < n) {  /* keep the rest, stop reading until it is out */
            c->len = (size_t)(n - written);
            c->off = 0;
            c->data = malloc(c->len);
            if (!c->data) { drop(c); return; }
            memcpy(c->data, buffer + written, c->len);
            echo_watch(c->fd, c, EPOLLOUT);
            return;
        }
        if (n < READ_BUFFER) return;
    }
}

static void on_writable(pending_t *c, unsigned char *buffer) {
    ssize_t written = write_some(c->fd, c->data + c->off, c->len - c->off);
    if (written < 0) { drop(c); return; }
    c->off += (size_t)written;
    if (c->off < c->len) return;
    free(c->data);
    c->data = NULL;
    c->off = c->len = 0;
    echo_watch(c->fd, c, EPOLLIN);
    on_readable(c, buffer);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    }
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: tcp_echo --port PORT [--host 127.0.0.1]\n");
        return 2;
    }
    int listener = echo_listen("tcp_echo", host, port);

    unsigned char *buffer = malloc(READ_BUFFER);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = echo_wait(events, MAX_EVENTS);
        if (n < 0) return 0;
        for (int i = 0; i < n; i++) {
            pending_t *c = events[i].data.ptr;
            if (!c) {  /* the listener: accept everything waiting */
                int fd;
                while ((fd = echo_accept(listener)) >= 0) {
                    pending_t *conn = calloc(1, sizeof *conn);
                    if (!conn) { close(fd); continue; }
                    conn->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->data) on_writable(c, buffer);
            else on_readable(c, buffer);
        }
    }
}
