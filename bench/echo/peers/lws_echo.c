/*
 * Echo server on libwebsockets (Debian libwebsockets-dev), a peer for bench/echo/run.sh.
 *
 * Every message received is sent back unchanged, with its type (text or binary). No extension is
 * registered, so permessage-deflate is never negotiated (raw frames, as for every peer).
 *
 * libwebsockets rules shape the code: data may only be written from the WRITEABLE callback, and
 * a message may arrive in several RECEIVE callbacks (fragments and rx-buffer-sized pieces). So
 * each connection reassembles the message being received and keeps a FIFO of whole messages to
 * send back, each allocated with the LWS_PRE bytes of headroom lws_write() needs for its header.
 * This is how libwebsockets' own minimal echo example works; a message allocation per echo is
 * the library's idiom, not a handicap added here.
 *
 *     lws_echo --port PORT [--host 127.0.0.1] [--deflate]   (--deflate: permessage-deflate on)
 *
 * Prints `listening on HOST:PORT` once the socket accepts connections; stops on SIGTERM/SIGINT.
 * Build: cc -O2 -o lws_echo lws_echo.c $(pkg-config --cflags --libs libwebsockets)
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** One whole message waiting to be echoed; data has LWS_PRE bytes of headroom. */
struct message {
    struct message *next;
    size_t len;
    bool binary;
    unsigned char data[];
};

/** Per-connection state (libwebsockets allocates and zeroes it). */
struct session {
    struct message *head, *tail;   /* echoes waiting for WRITEABLE                */
    unsigned char *partial;        /* the message being received                  */
    size_t partial_len, partial_cap;
    bool partial_binary;
};

static volatile sig_atomic_t interrupted;
static struct lws_context *context;

static void free_session(struct session *s) {
    while (s->head) {
        struct message *m = s->head;
        s->head = m->next;
        free(m);
    }
    s->tail = NULL;
    free(s->partial);
    s->partial = NULL;
    s->partial_len = s->partial_cap = 0;
}

/** Appends a received piece to the message being reassembled; false when memory runs out. */
static bool append_partial(struct session *s, const void *in, size_t len) {
    if (s->partial_cap - s->partial_len < len) {
        size_t cap = s->partial_cap ? s->partial_cap : 4096;
        while (cap - s->partial_len < len) cap *= 2;
        unsigned char *p = realloc(s->partial, cap);
        if (!p) return false;
        s->partial = p;
        s->partial_cap = cap;
    }
    memcpy(s->partial + s->partial_len, in, len);
    s->partial_len += len;
    return true;
}

/** Moves the reassembled message to the send FIFO; false when memory runs out. */
static bool queue_echo(struct session *s) {
    struct message *m = malloc(sizeof *m + LWS_PRE + s->partial_len);
    if (!m) return false;
    m->next = NULL;
    m->len = s->partial_len;
    m->binary = s->partial_binary;
    if (s->partial_len) memcpy(m->data + LWS_PRE, s->partial, s->partial_len);
    if (s->tail) s->tail->next = m; else s->head = m;
    s->tail = m;
    s->partial_len = 0;
    return true;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len) {
    struct session *s = user;
    switch (reason) {
    case LWS_CALLBACK_RECEIVE:
        if (lws_is_first_fragment(wsi)) {
            s->partial_len = 0;
            s->partial_binary = lws_frame_is_binary(wsi);
        }
        if (!append_partial(s, in, len)) return -1;
        if (lws_is_final_fragment(wsi)) {
            if (!queue_echo(s)) return -1;
            lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
        struct message *m = s->head;
        if (!m) break;
        s->head = m->next;
        if (!s->head) s->tail = NULL;
        /* lws_write keeps what the socket does not take and delays WRITEABLE until it is sent. */
        int n = lws_write(wsi, m->data + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        bool ok = n >= 0 && (size_t)n >= m->len;
        free(m);
        if (!ok) return -1;
        if (s->head) lws_callback_on_writable(wsi);
        break;
    }
    case LWS_CALLBACK_CLOSED:
        free_session(s);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    /* The first protocol serves connections that ask for no subprotocol, as loadgen's do. */
    {"echo", callback_echo, sizeof(struct session), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int signum) {
    (void)signum;
    interrupted = 1;
    if (context) lws_cancel_service(context);
}

/* --deflate: permessage-deflate with the parameters libwebsockets' own examples offer. */
static const struct lws_extension deflate_extensions[] = {
    {"permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate; client_max_window_bits"},
    {NULL, NULL, NULL},
};

int main(int argc, char **argv) {
    const char *host = "127.0.0.1";
    int port = 0;
    bool deflate = false, bad = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--deflate") == 0) deflate = true;
        else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) host = argv[++i];
        else bad = true;
    }
    if (port <= 0 || port > 65535 || bad) {
        fprintf(stderr, "usage: lws_echo --port PORT [--host 127.0.0.1] [--deflate]\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = protocols;
    if (deflate) info.extensions = deflate_extensions;  /* otherwise permessage-deflate stays off */
    context = lws_create_context(&info);
    if (!context) {
        fprintf(stderr, "lws_echo: could not create the context (port %d in use?)\n", port);
        return 1;
    }
    printf("listening on %s:%d\n", host, port);
    fflush(stdout);
    while (!interrupted && lws_service(context, 0) >= 0) {
    }
    lws_context_destroy(context);
    return 0;
}
