/*
 * tcp_whole — a plain TCP echo server that echoes whole messages: the ceiling of a message server.
 *
 * tcp_echo.c writes back every read at once, so it never holds more than one read (256 KiB) and
 * echoes the first bytes of a 1 MiB message before its last bytes arrive. A WebSocket server that
 * delivers messages cannot: it holds each message until its last byte, then sends it. This server
 * does only that, with nothing else (no framing, no masking, no validation): it knows the size S
 * of loadgen's messages (--size), reads each message straight into the connection's own S-byte
 * buffer (read sizes: what is still missing of the message), sends it with one send when it is
 * whole, and keeps what the kernel did not take for EPOLLOUT (reading stops until it is out).
 * loadgen -m tcp drives it like tcp_echo (the same messages, one in flight, every echo verified).
 * swiftws ÷ this one is what the WebSocket layer costs over a server with the same pattern;
 * this one ÷ tcp_echo is what holding whole messages costs (the caches: bench/README.md).
 *
 *   tcp_whole --port PORT --size S [--host 127.0.0.1]     prints "listening on HOST:PORT"
 *
 * Build: cc -O2 -Wall -Wextra -std=c11 -o tcp_whole tcp_whole.c
 */
#include "echo_server.h"

enum { MAX_EVENTS = 1024 };
static size_t message_size;

typedef struct {
    int fd;
    unsigned char *message;  /* message_size bytes */
    size_t gathered;         /* bytes of the message read so far */
    size_t sent;             /* bytes of the whole message sent so far (sending when > 0 or full) */
    int waits_for_output;    /* EPOLLOUT watched instead of EPOLLIN */
} connection_t;

static void drop(connection_t *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->message);
    free(c);
}

/* Sends the rest of the whole message; 1 when it is all out, 0 when the kernel stopped taking it
 * (EPOLLOUT is watched), -1 when the connection failed. */
static int send_rest(connection_t *c) {
    while (c->sent < message_size) {
        ssize_t n = send(c->fd, c->message + c->sent, message_size - c->sent, MSG_NOSIGNAL);
        if (n > 0) { c->sent += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->waits_for_output) { c->waits_for_output = 1; echo_watch(c->fd, c, EPOLLOUT); }
            return 0;
        }
        return -1;
    }
    c->gathered = c->sent = 0;
    if (c->waits_for_output) { c->waits_for_output = 0; echo_watch(c->fd, c, EPOLLIN); }
    return 1;
}

/* Reads until the socket is drained, echoing each message once it is whole. */
static void on_readable(connection_t *c) {
    for (;;) {
        ssize_t n = recv(c->fd, c->message + c->gathered, message_size - c->gathered, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) { drop(c); return; }
        c->gathered += (size_t)n;
        if (c->gathered < message_size) continue;
        int done = send_rest(c);
        if (done < 0) { drop(c); return; }
        if (done == 0) return;
    }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = -1;
    long size = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--host") == 0) host = argv[i + 1];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--size") == 0) size = atol(argv[i + 1]);
    }
    if (port < 0 || port > 65535 || size <= 0) {
        fprintf(stderr, "usage: tcp_whole --port PORT --size BYTES [--host 127.0.0.1]\n");
        return 2;
    }
    message_size = (size_t)size;
    int listener = echo_listen("tcp_whole", host, port);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = echo_wait(events, MAX_EVENTS);
        if (n < 0) return 0;
        for (int i = 0; i < n; i++) {
            connection_t *c = events[i].data.ptr;
            if (!c) {  /* the listener: accept everything waiting */
                int fd;
                while ((fd = echo_accept(listener)) >= 0) {
                    connection_t *conn = calloc(1, sizeof *conn);
                    unsigned char *message = malloc(message_size);
                    if (!conn || !message) { free(conn); free(message); close(fd); continue; }
                    conn->fd = fd;
                    conn->message = message;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->waits_for_output) {
                int done = send_rest(c);
                if (done < 0) drop(c);
                else if (done > 0) on_readable(c);
            } else {
                on_readable(c);
            }
        }
    }
}
