/*
 * tls_echo — a TLS echo server over the system OpenSSL: the ceiling of wss on this machine for
 * bench/echo/run.sh (the row "tls-echo", driven by loadgen -m tcp -S).
 *
 * tcp_echo.c with TLS and nothing else: no WebSocket, every byte decrypted is encrypted back on
 * the same connection. Its CPU per message minus tcp_echo's is the least that OpenSSL adds to an
 * echo, whatever the server above it does; a wss server cannot be cheaper than ws by less than
 * that. So the best ratio a wss server can reach against its own ws is
 * ws ÷ (ws + tls-echo − tcp-echo), all per message in one run.
 *
 * Built for speed within what OpenSSL offers, with the settings of SwiftWS's TLS contexts that
 * touch the per-message path: one thread, level-triggered epoll, non-blocking sockets,
 * TCP_NODELAY, read-ahead (one recv per record batch), renegotiation off, the same TLS 1.3 cipher
 * suite choice (the server's preference, AES-128-GCM first, unless --ciphersuites), and OpenSSL's record buffers kept for the
 * connection's life (no SSL_MODE_RELEASE_BUFFERS: the cheapest per record, not the smallest). One 256 KiB plaintext buffer for the whole loop; an echo the kernel does not
 * take waits in a per-connection copy (backpressure: no reading until it is out).
 *
 *   tls_echo --port PORT --tls-cert CHAIN.pem --tls-key KEY.pem [--host 127.0.0.1]
 *            [--ciphersuites TLS_AES_128_GCM_SHA256:...]   prints "listening on HOST:PORT"
 *
 * Build: cc -O2 -Wall -Wextra -std=c11 -o tls_echo tls_echo.c -lssl -lcrypto
 */
#include "echo_server.h"
#include <openssl/err.h>
#include <openssl/ssl.h>

enum { READ_BUFFER = 256 * 1024, MAX_EVENTS = 1024 };

/** One connection: its TLS state, and the plaintext of an echo OpenSSL could not send yet. */
typedef struct {
    int fd;
    SSL *ssl;
    int handshaking;
    unsigned char *data;
    size_t off, len;
} conn_t;

static void drop(conn_t *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    SSL_free(c->ssl);
    close(c->fd);
    free(c->data);
    free(c);
}

/** Encrypts and sends [p, p+len): the bytes OpenSSL took (< len when it would block), or -1. */
static ssize_t write_some(conn_t *c, const unsigned char *p, size_t len, unsigned *wants) {
    size_t done = 0;
    while (done < len) {
        size_t written = 0;
        int result = SSL_write_ex(c->ssl, p + done, len - done, &written);
        if (result == 1) { done += written; continue; }
        int error = SSL_get_error(c->ssl, result);
        if (error == SSL_ERROR_WANT_WRITE) { *wants = EPOLLOUT; break; }
        if (error == SSL_ERROR_WANT_READ) { *wants = EPOLLIN; break; }
        return -1;
    }
    return (ssize_t)done;
}

static void on_writable(conn_t *c, unsigned char *buffer);

/** Decrypts and echoes the records OpenSSL can read now; stops when it needs the socket. */
static void on_readable(conn_t *c, unsigned char *buffer) {
    if (c->handshaking) {
        int result = SSL_do_handshake(c->ssl);
        if (result == 1) { c->handshaking = 0; echo_watch(c->fd, c, EPOLLIN); }
        else {
            int error = SSL_get_error(c->ssl, result);
            if (error == SSL_ERROR_WANT_READ) echo_watch(c->fd, c, EPOLLIN);
            else if (error == SSL_ERROR_WANT_WRITE) echo_watch(c->fd, c, EPOLLIN | EPOLLOUT);
            else { ERR_clear_error(); drop(c); }
            return;
        }
    }
    for (;;) {
        size_t n = 0;
        int result = SSL_read_ex(c->ssl, buffer, READ_BUFFER, &n);
        if (result != 1) {
            int error = SSL_get_error(c->ssl, result);
            if (error == SSL_ERROR_WANT_READ) return;
            if (error == SSL_ERROR_WANT_WRITE) { echo_watch(c->fd, c, EPOLLOUT); return; }
            ERR_clear_error();
            drop(c);  /* close_notify, EOF or an error */
            return;
        }
        unsigned wants = 0;
        ssize_t written = write_some(c, buffer, n, &wants);
        if (written < 0) { ERR_clear_error(); drop(c); return; }
        if ((size_t)written < n) {  /* keep the rest (the same bytes go to the retried SSL_write) */
            c->len = n - (size_t)written;
            c->off = 0;
            c->data = malloc(c->len);
            if (!c->data) { drop(c); return; }
            memcpy(c->data, buffer + written, c->len);
            echo_watch(c->fd, c, wants);
            return;
        }
        /* Nothing more inside OpenSSL: the next bytes raise an epoll event (no recv that would
         * only find the socket empty). */
        if (!SSL_has_pending(c->ssl)) return;
    }
}

static void on_writable(conn_t *c, unsigned char *buffer) {
    if (c->handshaking) { on_readable(c, buffer); return; }
    unsigned wants = 0;
    ssize_t written = write_some(c, c->data + c->off, c->len - c->off, &wants);
    if (written < 0) { ERR_clear_error(); drop(c); return; }
    c->off += (size_t)written;
    if (c->off < c->len) { echo_watch(c->fd, c, wants); return; }
    free(c->data);
    c->data = NULL;
    c->off = c->len = 0;
    echo_watch(c->fd, c, EPOLLIN);
    on_readable(c, buffer);
}

int main(int argc, char **argv) {
    /* As Sources/COpenSSL/shim.h (sws_ctx_prefer_aes128_gcm) sets it for SwiftWS's servers. */
    const char *host = "127.0.0.1", *cert = NULL, *key = NULL,
               *suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    int port = -1;
    for (int i = 1; i < argc; i++) {  /* other flags (--no-compression) mean nothing here */
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value) break;
        if (strcmp(argv[i], "--host") == 0) host = argv[++i];
        else if (strcmp(argv[i], "--port") == 0) port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tls-cert") == 0) cert = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0) key = argv[++i];
        else if (strcmp(argv[i], "--ciphersuites") == 0) suites = argv[++i];
    }
    if (port < 0 || port > 65535 || !cert || !key) {
        fprintf(stderr, "usage: tls_echo --port PORT --tls-cert CHAIN.pem --tls-key KEY.pem [--host 127.0.0.1] [--ciphersuites LIST]\n");
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1
        || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
        || SSL_CTX_set_ciphersuites(ctx, suites) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);

    int listener = echo_listen("tls_echo", host, port);

    unsigned char *buffer = malloc(READ_BUFFER);
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = echo_wait(events, MAX_EVENTS);
        if (n < 0) return 0;
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (!c) {  /* the listener: accept everything waiting */
                int fd;
                while ((fd = echo_accept(listener)) >= 0) {
                    conn_t *conn = calloc(1, sizeof *conn);
                    SSL *ssl = conn ? SSL_new(ctx) : NULL;
                    if (!ssl || SSL_set_fd(ssl, fd) != 1) { SSL_free(ssl); free(conn); close(fd); continue; }
                    SSL_set_accept_state(ssl);
                    conn->fd = fd;
                    conn->ssl = ssl;
                    conn->handshaking = 1;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (c->data || (c->handshaking && (events[i].events & EPOLLOUT))) on_writable(c, buffer);
            else on_readable(c, buffer);
        }
    }
}
