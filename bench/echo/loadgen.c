/*
 * loadgen — a closed-loop WebSocket echo load generator (RFC 6455), for bench/echo/run.sh.
 *
 * It is deliberately independent of SwiftWS and of every WebSocket library: plain C, raw
 * non-blocking sockets, one epoll loop, one thread (run.sh pins it to its own core). Its own
 * handshake and framing are small enough to read in one sitting, so that the numbers it prints
 * can be trusted for every server alike.
 *
 * What one run does:
 *   1. opens N TCP connections to 127.0.0.1:PORT and upgrades each one (GET /, RFC 6455 4.1),
 *      checking the 101 status and Sec-WebSocket-Accept (SHA-1 + base64 from OpenSSL libcrypto);
 *   2. keeps K messages of S bytes in flight on every connection (closed loop: each echo that
 *      comes back sends the next message on that connection), as masked client frames (5.3);
 *   3. verifies every echo: opcode, length and content (each payload names its connection and
 *      sequence number, so a lost, duplicated, reordered or crossed message is caught);
 *   4. ignores the first W seconds (warm-up), then counts the round trips completed in the next
 *      T seconds and the latency of each (send of the message -> arrival of its whole echo);
 *   5. stops sending, waits for the echoes in flight, closes every connection with a close frame
 *      (1000) and waits for the server's close frames; this phase lasts at most CLOSE_TIMEOUT_S.
 *
 * Output, one line on stdout when everything went well (exit status 0):
 *   messages_per_sec=… p50_us=… p99_us=… connections=… size=… inflight=… mode=… seconds=… …
 * On any failure (refused connection, bad handshake, wrong echo, server closing or resetting a
 * connection, no round trip at all) it prints what failed on stderr and exits with status 1.
 * It always ends by itself: connecting is bounded by CONNECT_TIMEOUT_S, the run by W+T seconds
 * and the close by CLOSE_TIMEOUT_S.
 *
 * With -S every connection speaks TLS first (wss://, OpenSSL libssl, no certificate
 * verification: the server is on loopback), so that wss runs can be compared with ws runs.
 *
 * Other modes (-m), each with the same verification of what comes back:
 *   tcp        no handshake, no frames: S-byte messages over plain TCP to a plain TCP echo server
 *              (bench/echo/peers/tcp_echo.c), the ceiling of the machine for the same pattern;
 *              with -S over TLS (bench/echo/peers/tls_echo.c: the ceiling of wss, OpenSSL alone);
 *   idle       opens N upgraded connections that send nothing and reports the growth of the
 *              server's resident memory (-P PID) per connection; with -z also after one message
 *              per connection (compression state is allocated lazily); first -W connections
 *              (default IDLE_WARM_UP_DEFAULT) open and close, so that the server's one-time costs
 *              (code pages, first allocations) are in the "before" reading, not per connection;
 *   handshake  N connections at a time, each: connect, (TLS,) upgrade, close handshake, reconnect;
 *              reports completed upgrades per second and their latency (connect -> 101).
 * -z offers permessage-deflate (RFC 7692) and fails unless the server accepts it; messages are
 * compressed both ways (zlib, context takeover unless the server forbids it). -J makes the
 * payloads JSON text (what compression is for) instead of the shifted alphabet.
 *
 * Build: cc -O2 -Wall -Wextra -o loadgen loadgen.c -lssl -lcrypto -lz
 * Usage: loadgen -p PORT [-c conns] [-s size] [-k inflight] [-d seconds] [-w warmup] [-t] [-S]
 *                [-m echo|tcp|idle|handshake] [-z] [-J] [-P server-pid] [-W warm-up-conns]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------------------------------------------
 * Limits and constants
 * ------------------------------------------------------------------------------------------- */

enum {
    CONNECT_TIMEOUT_S = 10,           /* all N connections must be open by then (+1 s per 1,000) */
    CONNECT_WINDOW = 64,              /* upgrades in progress at once while connecting     */
    IDLE_WARM_UP_DEFAULT = 10,        /* -m idle: warm-up connections before the "before" RSS */
    CLOSE_TIMEOUT_S = 2,              /* last echoes + closing handshake, at most          */
    MAX_RESPONSE_HEAD = 8192,         /* a longer HTTP response head is an error            */
    MAX_CONNECTIONS = 60000,
    MAX_INFLIGHT = 4096,
    MAX_MESSAGE_SIZE = 64 << 20,      /* 64 MiB                                            */
    READ_CHUNK = 64 * 1024,           /* bytes asked of one read(2)                        */
    MAX_EVENTS = 1024,
    HEADER_TEXT_LEN = 12,             /* "CCCCSSSSSSSS": connection and sequence in hex    */
};

/* Latency histogram: 1 µs buckets up to 10 s; slower round trips land in the last bucket
 * (and max_us still reports the true maximum). calloc'd pages are only touched when used. */
#define HISTOGRAM_BUCKETS 10000000u

/* RFC 6455 1.3: the GUID appended to Sec-WebSocket-Key before hashing. */
static const char WEBSOCKET_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* RFC 6455 5.2 opcodes. */
enum {
    OP_CONTINUATION = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA,
};

/* ---------------------------------------------------------------------------------------------
 * State
 * ------------------------------------------------------------------------------------------- */

/** A growable byte buffer: bytes [off, len) are pending. */
typedef struct {
    uint8_t *data;
    size_t off, len, cap;
} buffer_t;

typedef enum {
    CONN_CONNECTING,   /* TCP connect in progress                       */
    CONN_HANDSHAKE,    /* upgrade request sent, waiting for the 101     */
    CONN_OPEN,         /* exchanging messages                            */
    CONN_CLOSING,      /* our close frame sent, waiting for the server's */
    CONN_DONE,         /* closed                                         */
} conn_state_t;

typedef enum { MODE_ECHO, MODE_TCP, MODE_IDLE, MODE_HANDSHAKE } mode_t_;

typedef struct {
    int fd;
    uint32_t index;
    conn_state_t state;
    char key[25];              /* Sec-WebSocket-Key sent (base64 of 16 random bytes)   */
    char expected_accept[29];  /* the Sec-WebSocket-Accept the server must answer      */
    buffer_t in, out;
    bool watching_out;         /* EPOLLOUT registered because output is pending       */
    /* A fragmented echo being reassembled (servers may fragment, RFC 6455 5.4). */
    bool in_fragmented;
    uint8_t fragmented_opcode;
    buffer_t message;
    /* Closed loop bookkeeping: messages are numbered per connection; echoes come back in
     * order (one TCP stream), so the send times of those in flight form a FIFO ring. */
    uint64_t next_send_seq, next_recv_seq;
    uint64_t *sent_at_ns;      /* ring of `inflight` send times                        */
    SSL *ssl;                  /* with -S: the TLS connection (NULL for ws)            */
    bool tls_handshaking;      /* with -S: the TLS handshake is not finished yet       */
    /* With -z: permessage-deflate state, both directions (RFC 7692 7.2). */
    z_stream *deflater, *inflater;
    bool reset_deflater;       /* the server asked for client_no_context_takeover      */
    bool fragmented_compressed;
    buffer_t inflated;
    uint64_t connect_started_ns; /* -m handshake: when this connection's connect began  */
} conn_t;

/* PHASE_ONE (-m idle -z): one message per connection, each echo ends that connection's loop. */
typedef enum { PHASE_CONNECT, PHASE_RUN, PHASE_ONE, PHASE_CLOSE } phase_t;

typedef struct {
    /* options */
    int port;
    uint32_t connections;
    size_t size;
    uint32_t inflight;
    double seconds, warmup;
    bool text;
    SSL_CTX *tls;              /* -S: wss (TLS) instead of ws                          */
    mode_t_ mode;              /* -m                                                    */
    bool deflate;              /* -z: permessage-deflate both ways                      */
    bool json;                 /* -J: JSON payloads                                     */
    int server_pid;            /* -P: whose resident memory -m idle measures            */
    /* run state */
    int epfd;
    conn_t *conns;
    uint32_t open_count, done_count;
    uint32_t next_to_open;     /* connect_all: the next connection to start              */
    phase_t phase;
    uint64_t measure_start_ns, measure_end_ns;
    uint8_t *pattern;          /* 'a'..'z' repeated, size + 26 bytes; see payload_body */
    buffer_t scratch;          /* -z: one compressed message before it is framed        */
    uint8_t *plain;            /* -z: one message before it is compressed (size bytes)  */
    uint64_t rng_state;        /* xorshift64* state for masking keys                   */
    /* results */
    uint64_t measured;         /* round trips completed inside the measurement window  */
    uint64_t total;            /* round trips completed in all, warm-up included       */
    uint32_t *histogram;       /* latency in µs -> count, for measured round trips      */
    uint64_t max_latency_us;
    uint64_t latency_sum_us;
    uint64_t handshakes_started; /* -m handshake: connections opened in all             */
} loadgen_t;

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/** Prints a failure on stderr and exits with status 1 (the process owns every socket). */
__attribute__((noreturn, format(printf, 1, 2))) static void fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("loadgen: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

static void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) fail("out of memory (%zu bytes)", size);
    return p;
}

/** Makes room for `extra` more bytes at the end of `b`, compacting consumed bytes first. */
static void buffer_reserve(buffer_t *b, size_t extra) {
    if (b->off > 0 && b->cap - b->len < extra) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len >= extra) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < extra) cap *= 2;
    uint8_t *data = realloc(b->data, cap);
    if (!data) fail("out of memory (%zu bytes)", cap);
    b->data = data;
    b->cap = cap;
}

static size_t buffer_pending(const buffer_t *b) { return b->len - b->off; }

static void buffer_consume(buffer_t *b, size_t n) {
    b->off += n;
    if (b->off == b->len) b->off = b->len = 0;
}

/** xorshift64*: masking keys need not be cryptographic here (RFC 6455 10.3 guards against
 * hostile scripts poisoning proxies; a load generator on loopback has neither), and a
 * getrandom(2) call per frame would make the client measurably slower than the servers. */
static uint32_t next_mask_key(loadgen_t *lg) {
    uint64_t x = lg->rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    lg->rng_state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

/** XORs `len` bytes with the 4-byte masking key (RFC 6455 5.3), eight bytes at a time. */
static void apply_mask(uint8_t *p, size_t len, const uint8_t key[4]) {
    uint64_t key64;
    uint8_t k8[8] = {key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3]};
    memcpy(&key64, k8, 8);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= key64;
        memcpy(p + i, &w, 8);
    }
    for (; i < len; i++) p[i] ^= key[i & 3];
}

static void base64_encode(const uint8_t *in, int len, char *out) {
    EVP_EncodeBlock((unsigned char *)out, in, len);  /* NUL-terminates */
}

/* ---------------------------------------------------------------------------------------------
 * Payloads: every message says which connection and which sequence number it is.
 * Bytes 0..11 are "CCCCSSSSSSSS" (connection index and sequence number, lowercase hex, as much
 * of it as fits), the rest is the alphabet shifted by (connection + sequence) % 26. All ASCII,
 * so the same bytes are valid UTF-8 for text messages.
 * ------------------------------------------------------------------------------------------- */

static void payload_header(uint32_t conn, uint64_t seq, char out[HEADER_TEXT_LEN]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 4; i++) out[i] = hex[(conn >> (12 - 4 * i)) & 0xF];
    for (int i = 0; i < 8; i++) out[4 + i] = hex[(seq >> (28 - 4 * i)) & 0xF];
}

static size_t payload_header_len(size_t size) {
    return size < HEADER_TEXT_LEN ? size : HEADER_TEXT_LEN;
}

/* -J: a JSON object whose "id" value is the header, then ordinary chat-like fields; the rest
 * of the text is the same for every message, as in a real feed (that is what deflate exploits). */
static const char JSON_PREFIX[] = "{\"id\":\"";  /* the header starts right after it */
enum { JSON_HEADER_OFFSET = sizeof JSON_PREFIX - 1, JSON_MIN_SIZE = 64 };

/** Fills `out` (size bytes) with the -J template: {"id":"…","user":…,"text":"words…"}. */
static void json_template(uint8_t *out, size_t size) {
    static const char *words[] = {"hello", "world", "the", "market", "opened", "higher", "and",
                                  "prices", "moved", "fast", "today", "room", "chat", "update"};
    size_t n = (size_t)snprintf((char *)out, size, "%s000000000000\",\"user\":\"alice\","
                                "\"room\":\"lobby\",\"seq\":1,\"text\":\"", JSON_PREFIX);
    for (size_t w = 0; n < size; w++) {
        const char *word = words[(w * 7 + w / 3) % (sizeof words / sizeof *words)];
        for (const char *c = word; *c && n < size; c++) out[n++] = (uint8_t)*c;
        if (n < size) out[n++] = ' ';
    }
    out[size - 2] = '"';
    out[size - 1] = '}';
}

/** Where the header sits in a payload, and how far the body is shifted per message. */
static size_t payload_header_offset(const loadgen_t *lg) { return lg->json ? JSON_HEADER_OFFSET : 0; }

/** The bytes of a payload outside the header are pattern[shift + i] (no shift with -J). */
static const uint8_t *payload_body(const loadgen_t *lg, uint32_t conn, uint64_t seq) {
    return lg->json ? lg->pattern : lg->pattern + (conn + seq) % 26;
}

static void payload_write(const loadgen_t *lg, uint32_t conn, uint64_t seq, uint8_t *out) {
    char header[HEADER_TEXT_LEN];
    size_t h = payload_header_len(lg->size), at = payload_header_offset(lg);
    payload_header(conn, seq, header);
    memcpy(out, payload_body(lg, conn, seq), lg->size);
    memcpy(out + at, header, h);
}

static bool payload_matches(const loadgen_t *lg, uint32_t conn, uint64_t seq, const uint8_t *p) {
    char header[HEADER_TEXT_LEN];
    size_t h = payload_header_len(lg->size), at = payload_header_offset(lg);
    const uint8_t *body = payload_body(lg, conn, seq);
    payload_header(conn, seq, header);
    return memcmp(p, body, at) == 0 && memcmp(p + at, header, h) == 0 &&
           memcmp(p + at + h, body + at + h, lg->size - at - h) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Output: frames are appended to the connection's output buffer, then flushed.
 * ------------------------------------------------------------------------------------------- */

static void watch(loadgen_t *lg, conn_t *c, bool want_out) {
    if (c->watching_out == want_out) return;
    struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.u32 = c->index};
    if (epoll_ctl(lg->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
    c->watching_out = want_out;
}

/** TLS errors as socket results: "try again" is -1 with EAGAIN, a closed stream 0. */
static ssize_t tls_result(conn_t *c, int result) {
    switch (SSL_get_error(c->ssl, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: errno = EAGAIN; return -1;
    case SSL_ERROR_ZERO_RETURN: return 0;
    case SSL_ERROR_SYSCALL: if (errno == 0) return 0; return -1;
    default: errno = EPROTO; ERR_clear_error(); return -1;
    }
}

/** send(2), or SSL_write with -S. */
static ssize_t io_send(conn_t *c, const uint8_t *data, size_t len) {
    if (!c->ssl) return send(c->fd, data, len, MSG_NOSIGNAL);
    size_t written = 0;
    int result = SSL_write_ex(c->ssl, data, len, &written);
    return result == 1 ? (ssize_t)written : tls_result(c, result);
}

/** recv(2), or SSL_read with -S. */
static ssize_t io_recv(conn_t *c, uint8_t *data, size_t len) {
    if (!c->ssl) return recv(c->fd, data, len, 0);
    size_t got = 0;
    int result = SSL_read_ex(c->ssl, data, len, &got);
    return result == 1 ? (ssize_t)got : tls_result(c, result);
}

/** Writes as much pending output as the kernel takes; asks for EPOLLOUT for the rest. */
static void flush_output(loadgen_t *lg, conn_t *c) {
    while (buffer_pending(&c->out) > 0) {
        ssize_t n = io_send(c, c->out.data + c->out.off, buffer_pending(&c->out));
        if (n > 0) {
            buffer_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            watch(lg, c, true);
            return;
        } else {
            fail("connection %u: send: %s", c->index, n < 0 ? strerror(errno) : "wrote 0 bytes");
        }
    }
    watch(lg, c, false);
}

enum { RSV1 = 0x40 };  /* RFC 7692 7.2.3.1: "Per-Message Compressed" */

/** Appends one masked client frame (RFC 6455 5.2, 5.3) with FIN set (and `flags`, RSV1 for a
 * compressed message). When `payload` is NULL the payload is the connection's message number
 * `seq`, written straight into the output buffer. */
static void queue_frame(loadgen_t *lg, conn_t *c, uint8_t opcode, const uint8_t *payload,
                        size_t len, uint64_t seq, uint8_t flags) {
    buffer_reserve(&c->out, 14 + len);
    uint8_t *p = c->out.data + c->out.len;
    size_t n = 0;
    p[n++] = 0x80 | flags | opcode;
    if (len < 126) {
        p[n++] = 0x80 | (uint8_t)len;
    } else if (len <= 0xFFFF) {
        p[n++] = 0x80 | 126;
        p[n++] = (uint8_t)(len >> 8);
        p[n++] = (uint8_t)len;
    } else {
        p[n++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8) p[n++] = (uint8_t)((uint64_t)len >> shift);
    }
    uint32_t key32 = next_mask_key(lg);
    uint8_t key[4];
    memcpy(key, &key32, 4);
    memcpy(p + n, key, 4);
    n += 4;
    if (payload) {
        memcpy(p + n, payload, len);
    } else {
        payload_write(lg, c->index, seq, p + n);
    }
    apply_mask(p + n, len, key);
    c->out.len += n + len;
}

/** -z: compresses one message into lg->scratch (RFC 7692 7.2.1: deflate, sync flush, the
 * final 00 00 FF FF removed). */
static void compress_message(loadgen_t *lg, conn_t *c, const uint8_t *message, size_t len) {
    z_stream *z = c->deflater;
    lg->scratch.off = lg->scratch.len = 0;
    buffer_reserve(&lg->scratch, deflateBound(z, len) + 16);
    z->next_in = (Bytef *)message;
    z->avail_in = (uInt)len;
    z->next_out = lg->scratch.data;
    z->avail_out = (uInt)lg->scratch.cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0) fail("connection %u: deflate failed", c->index);
    lg->scratch.len = lg->scratch.cap - z->avail_out;
    if (lg->scratch.len < 4 || memcmp(lg->scratch.data + lg->scratch.len - 4, "\0\0\xff\xff", 4) != 0)
        fail("connection %u: deflate output does not end with a sync flush", c->index);
    lg->scratch.len -= 4;
    if (c->reset_deflater) deflateReset(z);
}

/** Sends the connection's next numbered message and remembers when it left. */
static void send_next_message(loadgen_t *lg, conn_t *c, uint64_t now) {
    uint64_t seq = c->next_send_seq++;
    c->sent_at_ns[seq % lg->inflight] = now;
    if (lg->mode == MODE_TCP) {  /* plain TCP: the payload alone, no frame */
        buffer_reserve(&c->out, lg->size);
        payload_write(lg, c->index, seq, c->out.data + c->out.len);
        c->out.len += lg->size;
    } else if (c->deflater) {
        payload_write(lg, c->index, seq, lg->plain);
        compress_message(lg, c, lg->plain, lg->size);
        queue_frame(lg, c, lg->text ? OP_TEXT : OP_BINARY, lg->scratch.data, lg->scratch.len, 0, RSV1);
    } else {
        queue_frame(lg, c, lg->text ? OP_TEXT : OP_BINARY, NULL, lg->size, seq, 0);
    }
}

/** Starts the closing handshake (RFC 6455 5.5.1): close frame with status 1000. */
static void start_close(loadgen_t *lg, conn_t *c) {
    static const uint8_t normal_closure[2] = {0x03, 0xE8};
    c->state = CONN_CLOSING;
    if (lg->mode == MODE_TCP) {  /* no close frame: end our direction, the echo server ends its */
        flush_output(lg, c);
        if (buffer_pending(&c->out) == 0) shutdown(c->fd, SHUT_WR);
        return;
    }
    queue_frame(lg, c, OP_CLOSE, normal_closure, sizeof normal_closure, 0, 0);
    flush_output(lg, c);
}

static void open_connection(loadgen_t *lg, conn_t *c);

/** While connecting: starts the next connections so that at most CONNECT_WINDOW upgrades are in
 * progress. Opening 10,000 at once would overflow the servers' listen backlogs (Python's is 100)
 * and measure how each kernel queue copes with a SYN flood rather than the server. */
static void open_more(loadgen_t *lg) {
    if (lg->phase != PHASE_CONNECT) return;
    while (lg->next_to_open < lg->connections && lg->next_to_open - lg->open_count < CONNECT_WINDOW)
        open_connection(lg, &lg->conns[lg->next_to_open++]);
}

static void finish(loadgen_t *lg, conn_t *c) {
    if (c->state == CONN_DONE) return;
    epoll_ctl(lg->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->state = CONN_DONE;
    if (c->deflater) {
        deflateEnd(c->deflater);
        inflateEnd(c->inflater);
        free(c->deflater);
        free(c->inflater);
        c->deflater = c->inflater = NULL;
    }
    if (lg->mode == MODE_HANDSHAKE && lg->phase == PHASE_RUN) {
        /* -m handshake: the slot starts its next connection at once. */
        c->in.off = c->in.len = c->out.off = c->out.len = 0;
        c->in_fragmented = false;
        open_connection(lg, c);
        return;
    }
    lg->done_count++;
}

/* ---------------------------------------------------------------------------------------------
 * Handshake (RFC 6455 4.1 client requirements, 4.2.2 server response)
 * ------------------------------------------------------------------------------------------- */

static void start_handshake(loadgen_t *lg, conn_t *c) {
    uint8_t nonce[16];
    if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce) fail("getrandom failed");
    base64_encode(nonce, sizeof nonce, c->key);

    /* Sec-WebSocket-Accept = base64(SHA-1(key + GUID)) (RFC 6455 4.2.2 item 5.4). */
    char concatenated[64];
    int n = snprintf(concatenated, sizeof concatenated, "%s%s", c->key, WEBSOCKET_GUID);
    uint8_t digest[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)concatenated, (size_t)n, digest);
    base64_encode(digest, SHA_DIGEST_LENGTH, c->expected_accept);

    char request[512];
    int len = snprintf(request, sizeof request,
                       "GET / HTTP/1.1\r\n"
                       "Host: 127.0.0.1:%d\r\n"
                       "Upgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n"
                       "%s"
                       "\r\n",
                       lg->port, c->key,
                       lg->deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
    buffer_reserve(&c->out, (size_t)len);
    memcpy(c->out.data + c->out.len, request, (size_t)len);
    c->out.len += (size_t)len;
    c->state = CONN_HANDSHAKE;
    flush_output(lg, c);
}

/** Case-insensitive search for `token` in the comma-separated header value [v, v+len). */
static bool header_has_token(const char *v, size_t len, const char *token) {
    size_t tlen = strlen(token);
    for (size_t i = 0; i + tlen <= len; i++) {
        if (strncasecmp(v + i, token, tlen) == 0) return true;
    }
    return false;
}

/** -z: accepts the server's permessage-deflate response (RFC 7692 7.1) and sets up zlib for it:
 * client_max_window_bits bounds our compressor's window, client_no_context_takeover makes us
 * reset it after each message; the inflater takes any window (15 bits). */
static void accept_deflate(conn_t *c, const char *value, size_t len) {
    static const char NAME[] = "permessage-deflate";
    if (len < sizeof NAME - 1 || strncasecmp(value, NAME, sizeof NAME - 1) != 0)
        fail("connection %u: server answered extensions '%.*s', not permessage-deflate", c->index,
             (int)len, value);
    int window_bits = 15;
    const char *p = value + sizeof NAME - 1, *end = value + len;
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) p++;
        const char *param = p;
        while (p < end && *p != ';') p++;
        size_t plen = (size_t)(p - param);
        while (plen > 0 && (param[plen - 1] == ' ' || param[plen - 1] == '\t')) plen--;
        if (plen == 0) continue;
#define PARAM_IS(s) (plen >= strlen(s) && strncasecmp(param, s, strlen(s)) == 0)
        if (PARAM_IS("client_no_context_takeover")) {
            c->reset_deflater = true;
        } else if (PARAM_IS("client_max_window_bits=")) {
            window_bits = atoi(param + strlen("client_max_window_bits="));
        } else if (!PARAM_IS("server_no_context_takeover") && !PARAM_IS("server_max_window_bits")) {
            fail("connection %u: unknown permessage-deflate parameter '%.*s'", c->index, (int)plen, param);
        }
#undef PARAM_IS
    }
    /* zlib's raw deflate cannot keep a 256-byte window (it would use 512: not allowed). */
    if (window_bits < 9 || window_bits > 15)
        fail("connection %u: client_max_window_bits=%d is not usable with zlib", c->index, window_bits);
    c->deflater = calloc(1, sizeof *c->deflater);
    c->inflater = calloc(1, sizeof *c->inflater);
    if (!c->deflater || !c->inflater) fail("out of memory");
    if (deflateInit2(c->deflater, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
        inflateInit2(c->inflater, -15) != Z_OK)
        fail("connection %u: zlib initialisation failed", c->index);
}

/** -z: inflates one compressed message [data, data+len) into c->inflated (RFC 7692 7.2.2: the
 * 00 00 FF FF removed by the sender is appended); more than the size sent is an error. */
static void decompress_message(loadgen_t *lg, conn_t *c, const uint8_t *data, size_t len) {
    static const uint8_t TAIL[4] = {0x00, 0x00, 0xFF, 0xFF};
    z_stream *z = c->inflater;
    c->inflated.off = c->inflated.len = 0;
    buffer_reserve(&c->inflated, lg->size + 1);
    z->next_out = c->inflated.data;
    z->avail_out = (uInt)(lg->size + 1);
    for (int part = 0; part < 2; part++) {
        z->next_in = (Bytef *)(part == 0 ? data : TAIL);
        z->avail_in = (uInt)(part == 0 ? len : sizeof TAIL);
        int result = inflate(z, Z_SYNC_FLUSH);
        if ((result != Z_OK && result != Z_BUF_ERROR) || z->avail_in != 0)
            fail("connection %u: the compressed echo does not inflate (%s)", c->index,
                 z->msg ? z->msg : "longer than the message sent");
    }
    c->inflated.len = lg->size + 1 - z->avail_out;
}

/** Checks the response head [head, head+len) ending with CRLF CRLF; fails the run if bad. */
static void check_handshake_response(const loadgen_t *lg, conn_t *c, const char *head, size_t len) {
    int status = 0;
    if (len < 12 || strncmp(head, "HTTP/1.1 ", 9) != 0 || sscanf(head + 9, "%3d", &status) != 1)
        fail("connection %u: not an HTTP/1.1 response: %.40s", c->index, head);
    if (status != 101)
        fail("connection %u: upgrade refused with HTTP status %d", c->index, status);

    bool upgrade_ok = false, connection_ok = false, accept_ok = false;
    const char *line = memchr(head, '\n', len);
    while (line && (size_t)(line + 1 - head) < len) {
        line++;
        const char *end = memchr(line, '\n', len - (size_t)(line - head));
        if (!end) break;
        size_t line_len = (size_t)(end - line);
        if (line_len > 0 && line[line_len - 1] == '\r') line_len--;
        const char *colon = memchr(line, ':', line_len);
        if (colon) {
            size_t name_len = (size_t)(colon - line);
            const char *value = colon + 1;
            size_t value_len = line_len - name_len - 1;
            while (value_len > 0 && (*value == ' ' || *value == '\t')) value++, value_len--;
            while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
                value_len--;
#define NAME_IS(s) (name_len == strlen(s) && strncasecmp(line, s, name_len) == 0)
            if (NAME_IS("upgrade")) {
                upgrade_ok = value_len == 9 && strncasecmp(value, "websocket", 9) == 0;
            } else if (NAME_IS("connection")) {
                connection_ok = header_has_token(value, value_len, "upgrade");
            } else if (NAME_IS("sec-websocket-accept")) {
                accept_ok = value_len == strlen(c->expected_accept) &&
                            memcmp(value, c->expected_accept, value_len) == 0;
                if (!accept_ok)
                    fail("connection %u: Sec-WebSocket-Accept is '%.*s', expected '%s'", c->index,
                         (int)value_len, value, c->expected_accept);
            } else if (NAME_IS("sec-websocket-extensions")) {
                /* RFC 6455 4.1: the client fails the connection on an extension it did not ask
                 * for; without -z we offer none, so frames must be plain. */
                if (!lg->deflate)
                    fail("connection %u: server announced extensions '%.*s' that were not offered",
                         c->index, (int)value_len, value);
                accept_deflate(c, value, value_len);
            }
#undef NAME_IS
        }
        line = end;
    }
    if (!upgrade_ok) fail("connection %u: 101 response lacks 'Upgrade: websocket'", c->index);
    if (!connection_ok) fail("connection %u: 101 response lacks 'Connection: Upgrade'", c->index);
    if (!accept_ok) fail("connection %u: 101 response lacks Sec-WebSocket-Accept", c->index);
    if (lg->deflate && !c->deflater)
        fail("connection %u: the server did not accept permessage-deflate (-z)", c->index);
}

/** Consumes the response head once it is whole; returns true when the connection is open. */
static bool handle_handshake_input(loadgen_t *lg, conn_t *c) {
    const uint8_t *start = c->in.data + c->in.off;
    size_t pending = buffer_pending(&c->in);
    const uint8_t *end = memmem(start, pending, "\r\n\r\n", 4);
    if (!end) {
        if (pending > MAX_RESPONSE_HEAD)
            fail("connection %u: response head longer than %d bytes", c->index, MAX_RESPONSE_HEAD);
        return false;
    }
    size_t head_len = (size_t)(end - start) + 4;
    check_handshake_response(lg, c, (const char *)start, head_len);
    buffer_consume(&c->in, head_len);  /* anything after the head is already frames */
    c->state = CONN_OPEN;
    lg->open_count++;
    open_more(lg);
    if (lg->mode == MODE_HANDSHAKE) {  /* an upgrade is the unit measured: count it, close */
        uint64_t now = now_ns();
        lg->total++;
        if (now >= lg->measure_start_ns && now < lg->measure_end_ns) {
            uint64_t latency_us = (now - c->connect_started_ns) / 1000u;
            lg->histogram[latency_us < HISTOGRAM_BUCKETS ? latency_us : HISTOGRAM_BUCKETS - 1]++;
            if (latency_us > lg->max_latency_us) lg->max_latency_us = latency_us;
            lg->latency_sum_us += latency_us;
            lg->measured++;
        }
        start_close(lg, c);
    }
    return true;
}

/* ---------------------------------------------------------------------------------------------
 * Frames from the server (RFC 6455 5.2)
 * ------------------------------------------------------------------------------------------- */

/** One whole echoed message: check it, count it, send the next one. */
static void handle_echo(loadgen_t *lg, conn_t *c, uint8_t opcode, const uint8_t *p, size_t len,
                        uint64_t now) {
    if (c->state == CONN_CLOSING) return;  /* echoes still in flight when we stopped */
    uint8_t expected_opcode = lg->text ? OP_TEXT : OP_BINARY;
    uint64_t seq = c->next_recv_seq;
    if (seq >= c->next_send_seq)
        fail("connection %u: received a message while none was in flight", c->index);
    if (opcode != expected_opcode)
        fail("connection %u: echo %llu has opcode %u, sent %u", c->index, (unsigned long long)seq,
             opcode, expected_opcode);
    if (len != lg->size)
        fail("connection %u: echo %llu is %zu bytes, sent %zu", c->index, (unsigned long long)seq,
             len, lg->size);
    if (!payload_matches(lg, c->index, seq, p))
        fail("connection %u: echo %llu differs from the message sent (first bytes '%.*s')",
             c->index, (unsigned long long)seq, (int)(len < 16 ? len : 16), (const char *)p);
    c->next_recv_seq++;
    lg->total++;

    if (now >= lg->measure_start_ns && now < lg->measure_end_ns) {
        uint64_t latency_us = (now - c->sent_at_ns[seq % lg->inflight]) / 1000u;
        lg->histogram[latency_us < HISTOGRAM_BUCKETS ? latency_us : HISTOGRAM_BUCKETS - 1]++;
        if (latency_us > lg->max_latency_us) lg->max_latency_us = latency_us;
        lg->latency_sum_us += latency_us;
        lg->measured++;
    }
    if (lg->phase == PHASE_RUN) {
        send_next_message(lg, c, now);
    } else if (lg->phase == PHASE_ONE) {
        return;  /* -m idle -z: one message was all this connection had to say */
    } else if (c->next_recv_seq == c->next_send_seq) {
        start_close(lg, c);  /* the last echo is back: now the close cannot cut one off */
    }
}

/** Parses every whole frame in the input buffer. Returns false once the connection is done. */
static bool handle_frames(loadgen_t *lg, conn_t *c, uint64_t now) {
    for (;;) {
        const uint8_t *p = c->in.data + c->in.off;
        size_t pending = buffer_pending(&c->in);
        if (pending < 2) return true;
        bool fin = p[0] & 0x80;
        uint8_t rsv = p[0] & 0x70, opcode = p[0] & 0x0F;
        bool masked = p[1] & 0x80;
        uint64_t len = p[1] & 0x7F;
        size_t head = 2;
        /* RFC 7692 6: RSV1 marks the first frame of a compressed data message, and only when
         * permessage-deflate was agreed. */
        bool compressed = rsv == RSV1 && c->inflater && (opcode == OP_TEXT || opcode == OP_BINARY);
        if (rsv && !compressed)
            fail("connection %u: frame with RSV bits 0x%x (opcode %u; %s)", c->index, rsv >> 4,
                 opcode, c->inflater ? "only RSV1 on a data frame is allowed" : "no extension was negotiated");
        /* A compressed message may come out a little larger than the message itself. */
        size_t max_data = c->inflater ? lg->size + lg->size / 8 + 1024 : lg->size;
        /* RFC 6455 5.1: "A server MUST NOT mask any frames that it sends to the client." */
        if (masked) fail("connection %u: the server sent a masked frame", c->index);
        if (len == 126) {
            if (pending < 4) return true;
            len = (uint64_t)p[2] << 8 | p[3];
            head = 4;
        } else if (len == 127) {
            if (pending < 10) return true;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
            head = 10;
        }
        bool control = opcode & 0x8;
        /* RFC 6455 5.5: control frames are at most 125 bytes and never fragmented. */
        if (control && (len > 125 || !fin))
            fail("connection %u: invalid control frame (opcode %u, %llu bytes, fin %d)", c->index,
                 opcode, (unsigned long long)len, fin);
        if (!control && len > max_data)
            fail("connection %u: frame of %llu bytes, larger than the %zu-byte messages sent",
                 c->index, (unsigned long long)len, lg->size);
        if (pending < head + len) {
            buffer_reserve(&c->in, head + (size_t)len - pending);
            return true;
        }
        const uint8_t *payload = p + head;
        size_t payload_len = (size_t)len;

        switch (opcode) {
        case OP_TEXT:
        case OP_BINARY:
            if (c->in_fragmented)
                fail("connection %u: new message inside a fragmented one (RFC 6455 5.4)", c->index);
            if (fin && compressed) {
                decompress_message(lg, c, payload, payload_len);
                handle_echo(lg, c, opcode, c->inflated.data, c->inflated.len, now);
            } else if (fin) {
                handle_echo(lg, c, opcode, payload, payload_len, now);  /* common case: no copy */
            } else {
                c->in_fragmented = true;
                c->fragmented_compressed = compressed;
                c->fragmented_opcode = opcode;
                c->message.len = c->message.off = 0;
                buffer_reserve(&c->message, payload_len);
                memcpy(c->message.data, payload, payload_len);
                c->message.len = payload_len;
            }
            break;
        case OP_CONTINUATION:
            if (!c->in_fragmented)
                fail("connection %u: continuation frame outside a message", c->index);
            if (c->message.len + payload_len > max_data)
                fail("connection %u: fragmented echo longer than %zu bytes", c->index, lg->size);
            buffer_reserve(&c->message, payload_len);
            memcpy(c->message.data + c->message.len, payload, payload_len);
            c->message.len += payload_len;
            if (fin && c->fragmented_compressed) {
                c->in_fragmented = false;
                decompress_message(lg, c, c->message.data, c->message.len);
                handle_echo(lg, c, c->fragmented_opcode, c->inflated.data, c->inflated.len, now);
            } else if (fin) {
                c->in_fragmented = false;
                handle_echo(lg, c, c->fragmented_opcode, c->message.data, c->message.len, now);
            }
            break;
        case OP_PING:
            /* RFC 6455 5.5.2: answer with a pong carrying the same application data. */
            if (c->state == CONN_OPEN) queue_frame(lg, c, OP_PONG, payload, payload_len, 0, 0);
            break;
        case OP_PONG:
            break;
        case OP_CLOSE:
            if (c->state != CONN_CLOSING) {
                unsigned code = payload_len >= 2 ? (unsigned)payload[0] << 8 | payload[1] : 1005;
                fail("connection %u: the server closed the connection (code %u) during the run",
                     c->index, code);
            }
            finish(lg, c);  /* our close was answered: the closing handshake is complete */
            return false;
        default:
            fail("connection %u: frame with reserved opcode 0x%x", c->index, opcode);
        }
        buffer_consume(&c->in, head + payload_len);
    }
}

/** -m tcp: the echo is the same bytes; every whole S-byte run of input is one message. */
static void handle_raw(loadgen_t *lg, conn_t *c, uint64_t now) {
    uint8_t opcode = lg->text ? OP_TEXT : OP_BINARY;
    while (buffer_pending(&c->in) >= lg->size) {
        handle_echo(lg, c, opcode, c->in.data + c->in.off, lg->size, now);
        buffer_consume(&c->in, lg->size);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Event handling
 * ------------------------------------------------------------------------------------------- */

static void handle_readable(loadgen_t *lg, conn_t *c) {
    for (;;) {
        buffer_reserve(&c->in, READ_CHUNK);
        ssize_t n = io_recv(c, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (c->state == CONN_CLOSING) {  /* server closed TCP after (or instead of) its close */
                finish(lg, c);
                return;
            }
            fail("connection %u: %s", c->index, n == 0 ? "the server closed the TCP connection"
                                                         : strerror(errno));
        }
        c->in.len += (size_t)n;
        uint64_t now = now_ns();
        if (c->state == CONN_HANDSHAKE && !handle_handshake_input(lg, c)) continue;
        if (lg->mode == MODE_TCP) {
            handle_raw(lg, c, now);
        } else if (!handle_frames(lg, c, now)) {
            return;
        }
        flush_output(lg, c);
        if ((size_t)n < READ_CHUNK) return;  /* the socket is most likely drained */
    }
}

/** -m tcp: the connection is open as soon as the transport is (no upgrade). */
static void open_tcp(loadgen_t *lg, conn_t *c) {
    c->state = CONN_OPEN;
    lg->open_count++;
    open_more(lg);
    watch(lg, c, false);
}

/** With -S: advances the TLS handshake; once done, sends the upgrade request (-m tcp: opens). */
static void tls_step(loadgen_t *lg, conn_t *c) {
    int result = SSL_do_handshake(c->ssl);
    if (result == 1) {
        c->tls_handshaking = false;
        if (lg->mode == MODE_TCP) open_tcp(lg, c);
        else start_handshake(lg, c);
        return;
    }
    int error = SSL_get_error(c->ssl, result);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        watch(lg, c, error == SSL_ERROR_WANT_WRITE);
        return;
    }
    char reason[256];
    ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
    fail("connection %u: TLS handshake failed: %s", c->index, reason);
}

/** The TCP connection is up: TLS first with -S, then the upgrade request (-m tcp: none). */
static void connected(loadgen_t *lg, conn_t *c) {
    if (!lg->tls) {
        if (lg->mode == MODE_TCP) open_tcp(lg, c);
        else start_handshake(lg, c);
        return;
    }
    c->ssl = SSL_new(lg->tls);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) fail("SSL_new failed");
    SSL_set_connect_state(c->ssl);
    c->tls_handshaking = true;
    c->state = CONN_HANDSHAKE;
    tls_step(lg, c);
}

static void handle_event(loadgen_t *lg, conn_t *c, uint32_t events) {
    if (c->state == CONN_DONE) return;
    if (c->tls_handshaking) {
        tls_step(lg, c);
        return;
    }
    if (c->state == CONN_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) fail("connection %u: connect to 127.0.0.1:%d: %s", c->index, lg->port, strerror(err));
        if (!(events & EPOLLOUT)) return;
        connected(lg, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) handle_readable(lg, c);
    if (c->state != CONN_DONE && (events & EPOLLOUT)) flush_output(lg, c);
}

static void open_connection(loadgen_t *lg, conn_t *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) fail("socket: %s (raise ulimit -n?)", strerror(errno));
    /* Small messages must leave at once; the servers measured do the same on their side. */
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lg->port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0 && errno != EINPROGRESS)
        fail("connection %u: connect to 127.0.0.1:%d: %s", c->index, lg->port, strerror(errno));
    c->state = CONN_CONNECTING;
    c->connect_started_ns = now_ns();
    lg->handshakes_started++;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = c->index};
    c->watching_out = true;
    if (epoll_ctl(lg->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) fail("epoll_ctl: %s", strerror(errno));
}

/** Runs the event loop until `deadline` or until `done(lg)` holds. */
static void run_until(loadgen_t *lg, uint64_t deadline, bool (*done)(const loadgen_t *)) {
    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        if (done && done(lg)) return;
        uint64_t now = now_ns();
        if (now >= deadline) return;
        /* Wake at least every 10 ms so phase boundaries are met on time. */
        uint64_t wait_ms = (deadline - now) / 1000000u + 1;
        int n = epoll_wait(lg->epfd, events, MAX_EVENTS, wait_ms > 10 ? 10 : (int)wait_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) handle_event(lg, &lg->conns[events[i].data.u32], events[i].events);
    }
}

static bool all_open(const loadgen_t *lg) { return lg->open_count == lg->connections; }
static bool all_done(const loadgen_t *lg) { return lg->done_count == lg->connections; }

/* ---------------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------------- */

/** The smallest latency (µs) at or below which `fraction` of the measured round trips lie. */
static uint64_t percentile_us(const loadgen_t *lg, double fraction) {
    uint64_t rank = (uint64_t)(fraction * (double)lg->measured + 0.999999);
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (uint32_t us = 0; us < HISTOGRAM_BUCKETS; us++) {
        seen += lg->histogram[us];
        if (seen >= rank) return us == HISTOGRAM_BUCKETS - 1 ? lg->max_latency_us : us;
    }
    return lg->max_latency_us;
}

/* ---------------------------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen -p PORT [-c conns] [-s size] [-k inflight] [-d seconds] [-w warmup] [-t]\n"
            "               [-S] [-m echo|tcp|idle|handshake] [-z] [-J] [-P server-pid] [-W n]\n"
            "  -p PORT     server port on 127.0.0.1 (required)\n"
            "  -c conns    connections (default 100; with -m handshake: upgrades in progress at once)\n"
            "  -s size     message size in bytes (default 32)\n"
            "  -k inflight messages in flight per connection (default 1)\n"
            "  -d seconds  measured duration (default 5)\n"
            "  -w seconds  warm-up before measuring (default 1)\n"
            "  -t          text messages (default binary)\n"
            "  -S          wss: TLS on every connection (no certificate verification)\n"
            "  -m mode     echo (default): WebSocket echo round trips; tcp: the same over plain TCP\n"
            "              (no handshake, no frames); idle: RSS growth of the server (-P) per open\n"
            "              connection; handshake: upgrades per second (connect, upgrade, close)\n"
            "  -z          permessage-deflate both ways (required of the server)\n"
            "  -J          JSON text payloads (implies -t; size >= 64)\n"
            "  -P pid      the server's process id (-m idle reads its /proc/PID/status)\n"
            "  -W n        -m idle: n warm-up connections open (-z: one message each) and close\n"
            "              before the \"before\" reading (default %d; 0: none, the method before\n"
            "              round 6)\n", IDLE_WARM_UP_DEFAULT);
    exit(2);
}

static long parse_long(const char *s, long min, long max, char option) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        fprintf(stderr, "loadgen: -%c must be an integer in [%ld, %ld]\n", option, min, max);
        usage();
    }
    return v;
}

static double parse_seconds(const char *s, double min, char option) {
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v >= min) || v > 3600) {
        fprintf(stderr, "loadgen: -%c must be a number of seconds in [%g, 3600]\n", option, min);
        usage();
    }
    return v;
}

/** The resident set of process `pid` in KiB (VmRSS of /proc/PID/status). */
static long rss_kib(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) fail("cannot read %s: %s", path, strerror(errno));
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    fclose(f);
    if (kib < 0) fail("no VmRSS in %s", path);
    return kib;
}

/** The server's RSS once it stops moving: sampled every 100 ms while the loop keeps serving,
 * until two samples agree (the server has finished what the last events asked), at most 3 s. */
static long settled_rss_kib(loadgen_t *lg) {
    long previous = rss_kib(lg->server_pid);
    for (int i = 0; i < 30; i++) {
        run_until(lg, now_ns() + 100000000ull, NULL);
        long current = rss_kib(lg->server_pid);
        if (current == previous) return current;
        previous = current;
    }
    return previous;
}

static bool one_echo_each(const loadgen_t *lg) { return lg->total == lg->connections; }

/** Opens every connection and waits until all are upgraded (or fails after CONNECT_TIMEOUT_S). */
static void connect_all(loadgen_t *lg) {
    lg->phase = PHASE_CONNECT;
    unsigned timeout_s = CONNECT_TIMEOUT_S + lg->connections / 1000;
    open_more(lg);
    run_until(lg, now_ns() + timeout_s * 1000000000ull, all_open);
    if (!all_open(lg))
        fail("only %u of %u connections upgraded within %u s", lg->open_count, lg->connections, timeout_s);
}

/** Closes every connection politely (bounded), after the echoes in flight came back; fails if
 * one never came back (a server that lost a message stalls its connection, closed loop).
 * Returns the number of connections whose close was not answered within the time. */
static uint32_t close_all(loadgen_t *lg) {
    lg->phase = PHASE_CLOSE;
    for (uint32_t i = 0; i < lg->connections; i++) {
        conn_t *c = &lg->conns[i];
        if (c->state == CONN_OPEN && c->next_recv_seq == c->next_send_seq) start_close(lg, c);
    }
    run_until(lg, now_ns() + CLOSE_TIMEOUT_S * 1000000000ull, all_done);
    for (uint32_t i = 0; i < lg->connections; i++) {
        const conn_t *c = &lg->conns[i];
        if (c->next_recv_seq != c->next_send_seq)
            fail("connection %u: %llu echo(es) never came back (message %llu onwards)", c->index,
                 (unsigned long long)(c->next_send_seq - c->next_recv_seq),
                 (unsigned long long)c->next_recv_seq);
    }
    /* Echoes all back but no close frame nor EOF within the time: reported, not a failure. */
    uint32_t unanswered = lg->connections - lg->done_count;
    for (uint32_t i = 0; i < lg->connections; i++) finish(lg, &lg->conns[i]);
    return unanswered;
}

/** -m idle (-z): one message on every open connection, and wait for every echo. */
static void one_message_each(loadgen_t *lg) {
    lg->phase = PHASE_ONE;
    for (uint32_t i = 0; i < lg->connections; i++) {
        send_next_message(lg, &lg->conns[i], now_ns());
        flush_output(lg, &lg->conns[i]);
    }
    run_until(lg, now_ns() + CONNECT_TIMEOUT_S * 1000000000ull, one_echo_each);
    if (!one_echo_each(lg)) fail("only %llu of %u first messages echoed", (unsigned long long)lg->total, lg->connections);
}

/** -m idle, before the "before" reading: `count` connections do what the measured ones will do
 * (upgrade; with -z one message) and close. The server's first connections fault in code pages
 * and make one-time allocations (lazily initialised globals, the first slab of each malloc size
 * class); without this, those fixed costs are divided among the N connections and counted as
 * memory per connection. Afterwards the first `count` slots are as calloc left them. */
static void warm_up(loadgen_t *lg, uint32_t count) {
    if (count == 0) return;
    uint32_t measured = lg->connections;
    lg->connections = count;
    connect_all(lg);
    if (lg->deflate) one_message_each(lg);
    close_all(lg);
    for (uint32_t i = 0; i < count; i++) {
        conn_t *c = &lg->conns[i];
        free(c->in.data);
        free(c->out.data);
        free(c->message.data);
        free(c->inflated.data);
        uint64_t *sent_at_ns = c->sent_at_ns;
        memset(c, 0, sizeof *c);
        c->index = i;
        c->sent_at_ns = sent_at_ns;
    }
    lg->connections = measured;
    lg->open_count = lg->done_count = lg->next_to_open = 0;
    lg->total = 0;
}

/** -m idle: the server's RSS before (after -W warm-up connections came and went), with every
 * connection open, and (-z) after one message on each; prints one line of results. */
static void run_idle(loadgen_t *lg, uint32_t warm_up_count) {
    warm_up(lg, warm_up_count);
    long before = settled_rss_kib(lg);
    connect_all(lg);
    long open = settled_rss_kib(lg);
    printf("rss_before_kib=%ld rss_open_kib=%ld bytes_per_connection=%.0f", before, open,
           (double)(open - before) * 1024.0 / lg->connections);
    if (lg->deflate) {
        one_message_each(lg);
        long after = settled_rss_kib(lg);
        printf(" rss_after_message_kib=%ld bytes_per_connection_after_message=%.0f", after,
               (double)(after - before) * 1024.0 / lg->connections);
    }
    uint32_t unanswered = close_all(lg);
    printf(" connections=%u mode=idle deflate=%d unanswered_closes=%u warm_up_connections=%u\n",
           lg->connections, lg->deflate, unanswered, warm_up_count);
}

int main(int argc, char **argv) {
    loadgen_t lg = {.connections = 100, .size = 32, .inflight = 1, .seconds = 5, .warmup = 1};
    uint32_t warm_up_count = IDLE_WARM_UP_DEFAULT;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:s:k:d:w:tSm:zJP:W:h")) != -1) {
        switch (opt) {
        case 'p': lg.port = (int)parse_long(optarg, 1, 65535, 'p'); break;
        case 'c': lg.connections = (uint32_t)parse_long(optarg, 1, MAX_CONNECTIONS, 'c'); break;
        case 's': lg.size = (size_t)parse_long(optarg, 0, MAX_MESSAGE_SIZE, 's'); break;
        case 'k': lg.inflight = (uint32_t)parse_long(optarg, 1, MAX_INFLIGHT, 'k'); break;
        case 'd': lg.seconds = parse_seconds(optarg, 0.1, 'd'); break;
        case 'w': lg.warmup = parse_seconds(optarg, 0, 'w'); break;
        case 't': lg.text = true; break;
        case 'S':
            lg.tls = SSL_CTX_new(TLS_client_method());
            if (!lg.tls) fail("SSL_CTX_new failed");
            SSL_CTX_set_verify(lg.tls, SSL_VERIFY_NONE, NULL);
            SSL_CTX_set_mode(lg.tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
            break;
        case 'm':
            if (strcmp(optarg, "echo") == 0) lg.mode = MODE_ECHO;
            else if (strcmp(optarg, "tcp") == 0) lg.mode = MODE_TCP;
            else if (strcmp(optarg, "idle") == 0) lg.mode = MODE_IDLE;
            else if (strcmp(optarg, "handshake") == 0) lg.mode = MODE_HANDSHAKE;
            else usage();
            break;
        case 'z': lg.deflate = true; break;
        case 'J': lg.json = lg.text = true; break;
        case 'P': lg.server_pid = (int)parse_long(optarg, 1, 1 << 30, 'P'); break;
        case 'W': warm_up_count = (uint32_t)parse_long(optarg, 0, MAX_CONNECTIONS, 'W'); break;
        default: usage();
        }
    }
    if (optind != argc || lg.port == 0) usage();
    if (lg.json && lg.size < JSON_MIN_SIZE) { fprintf(stderr, "loadgen: -J needs -s >= %d\n", JSON_MIN_SIZE); usage(); }
    if (lg.mode == MODE_TCP && (lg.size == 0 || lg.deflate)) {
        fprintf(stderr, "loadgen: -m tcp needs -s >= 1 and no -z\n");
        usage();
    }
    if (lg.mode == MODE_IDLE && lg.server_pid == 0) { fprintf(stderr, "loadgen: -m idle needs -P\n"); usage(); }
    signal(SIGPIPE, SIG_IGN);
    /* 10,000 idle connections need as many descriptors: take the hard limit. */
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }

    lg.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lg.epfd < 0) fail("epoll_create1: %s", strerror(errno));
    if (getrandom(&lg.rng_state, sizeof lg.rng_state, 0) != (ssize_t)sizeof lg.rng_state)
        fail("getrandom failed");
    lg.rng_state |= 1;  /* xorshift must not start at 0 */
    lg.pattern = xmalloc(lg.size + 26);
    if (lg.json) {
        json_template(lg.pattern, lg.size);
    } else {
        for (size_t i = 0; i < lg.size + 26; i++) lg.pattern[i] = (uint8_t)('a' + i % 26);
    }
    lg.plain = xmalloc(lg.size);
    lg.histogram = calloc(HISTOGRAM_BUCKETS, sizeof *lg.histogram);
    lg.conns = calloc(lg.connections, sizeof *lg.conns);
    if (!lg.histogram || !lg.conns) fail("out of memory");
    for (uint32_t i = 0; i < lg.connections; i++) {
        lg.conns[i].index = i;
        lg.conns[i].sent_at_ns = xmalloc(lg.inflight * sizeof *lg.conns[i].sent_at_ns);
    }
    lg.measure_start_ns = lg.measure_end_ns = UINT64_MAX;

    if (lg.mode == MODE_IDLE) {
        run_idle(&lg, warm_up_count > lg.connections ? lg.connections : warm_up_count);
    } else {
        uint64_t start;
        struct rusage usage_at_start;
        if (lg.mode == MODE_HANDSHAKE) {
            /* Upgrades are the unit: every slot connects, upgrades, closes and starts again. */
            start = now_ns();
            getrusage(RUSAGE_SELF, &usage_at_start);
            lg.phase = PHASE_RUN;
            lg.measure_start_ns = start + (uint64_t)(lg.warmup * 1e9);
            lg.measure_end_ns = lg.measure_start_ns + (uint64_t)(lg.seconds * 1e9);
            for (uint32_t i = 0; i < lg.connections; i++) open_connection(&lg, &lg.conns[i]);
        } else {
            /* Phase 1: connect and upgrade every connection. */
            connect_all(&lg);
            /* Phase 2: warm-up, then the measured window. Every connection starts its loop. */
            start = now_ns();
            getrusage(RUSAGE_SELF, &usage_at_start);
            lg.phase = PHASE_RUN;
            lg.measure_start_ns = start + (uint64_t)(lg.warmup * 1e9);
            lg.measure_end_ns = lg.measure_start_ns + (uint64_t)(lg.seconds * 1e9);
            for (uint32_t i = 0; i < lg.connections; i++) {
                conn_t *c = &lg.conns[i];
                for (uint32_t k = 0; k < lg.inflight; k++) send_next_message(&lg, c, start);
                flush_output(&lg, c);
            }
        }
        run_until(&lg, lg.measure_end_ns, NULL);
        double window_s = (double)(lg.measure_end_ns - lg.measure_start_ns) / 1e9;
        /* loadgen's own CPU use while loading: near 100 % would mean it, not the server, is the
         * bottleneck (run.sh flags that). */
        struct rusage usage_at_end;
        getrusage(RUSAGE_SELF, &usage_at_end);
        double cpu_s = (double)(usage_at_end.ru_utime.tv_sec - usage_at_start.ru_utime.tv_sec) +
                       (double)(usage_at_end.ru_stime.tv_sec - usage_at_start.ru_stime.tv_sec) +
                       (double)(usage_at_end.ru_utime.tv_usec - usage_at_start.ru_utime.tv_usec) / 1e6 +
                       (double)(usage_at_end.ru_stime.tv_usec - usage_at_start.ru_stime.tv_usec) / 1e6;
        double loadgen_cpu_pct = 100.0 * cpu_s / ((double)(now_ns() - start) / 1e9);

        /* Phase 3: close politely (bounded), so the server starts the next run clean: send no
         * new message, let the echoes in flight come back (still verified), then close. In
         * -m handshake the slots finish the upgrade they are in and close. */
        uint32_t unanswered;
        if (lg.mode == MODE_HANDSHAKE) {
            lg.phase = PHASE_CLOSE;
            lg.open_count = 0;
            run_until(&lg, now_ns() + CLOSE_TIMEOUT_S * 1000000000ull, all_done);
            unanswered = lg.connections - lg.done_count;
            for (uint32_t i = 0; i < lg.connections; i++) finish(&lg, &lg.conns[i]);
        } else {
            unanswered = close_all(&lg);
        }

        if (lg.measured == 0) fail("no round trip completed in the %.2f s window", window_s);
        printf("messages_per_sec=%.0f p50_us=%llu p99_us=%llu connections=%u size=%zu inflight=%u "
               "mode=%s seconds=%.2f messages=%llu mean_us=%.0f p999_us=%llu max_us=%llu "
               "unanswered_closes=%u total_messages=%llu loadgen_cpu_pct=%.0f deflate=%d\n",
               (double)lg.measured / window_s, (unsigned long long)percentile_us(&lg, 0.50),
               (unsigned long long)percentile_us(&lg, 0.99), lg.connections, lg.size, lg.inflight,
               lg.mode == MODE_TCP ? "tcp" : lg.mode == MODE_HANDSHAKE ? (lg.tls ? "handshake-wss" : "handshake")
               : lg.json ? "json" : lg.text ? "text" : "binary",
               window_s, (unsigned long long)lg.measured,
               (double)lg.latency_sum_us / (double)lg.measured,
               (unsigned long long)percentile_us(&lg, 0.999), (unsigned long long)lg.max_latency_us,
               unanswered, (unsigned long long)lg.total, loadgen_cpu_pct, lg.deflate);
    }

    /* Freed although the process ends, so that sanitizer builds report real leaks only. */
    for (uint32_t i = 0; i < lg.connections; i++) {
        free(lg.conns[i].in.data);
        free(lg.conns[i].out.data);
        free(lg.conns[i].message.data);
        free(lg.conns[i].inflated.data);
        free(lg.conns[i].sent_at_ns);
    }
    free(lg.conns);
    free(lg.histogram);
    free(lg.pattern);
    free(lg.plain);
    free(lg.scratch.data);
    close(lg.epfd);
    return 0;
}
