/* The system OpenSSL 3 (Debian: libssl-dev), seen by Swift as the module COpenSSL (wss://).
 *
 * Besides the OpenSSL headers this shim holds the few helpers Swift cannot write itself:
 * functions for OpenSSL's function-like macros, C callbacks (ALPN), and the socket BIO that
 * SwiftWS's TLS streams use. That BIO is OpenSSL's socket BIO with one difference: it sends
 * with MSG_NOSIGNAL, so a peer that resets the connection gives EPIPE instead of a SIGPIPE that
 * would kill the host process (a library must not change the process's signal handling). */
#ifndef SWIFTWS_COPENSSL_SHIM_H
#define SWIFTWS_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the non-blocking socket BIO (its state in the BIO's data slot) ---- */

/* One connection's BIO: its socket, and while the stream encrypts a large write, the loop's
 * staging area. Every SSL_write makes a record and hands it to the BIO; sent one by one, a
 * 64 KiB message costs 5 send(2) calls. While `stage` is set, records are appended there
 * instead and the stream sends them together (sws_bio_begin_staging / sws_bio_end_staging). */
typedef struct sws_socket_bio {
    int fd;
    unsigned char *stage;   /* NULL: send at once */
    size_t staged;          /* bytes in `stage` */
    size_t capacity;
} sws_socket_bio;

static int sws_bio_write_ex(BIO *bio, const char *data, size_t length, size_t *written) {
    sws_socket_bio *state = BIO_get_data(bio);
    BIO_clear_flags(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
    if (state->stage != NULL) {
        /* Full: "retry" (OpenSSL keeps the record and offers it again after the stream sent
         * the staged bytes). */
        if (length > state->capacity - state->staged) {
            BIO_set_flags(bio, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY);
            *written = 0;
            return 0;
        }
        memcpy(state->stage + state->staged, data, length);
        state->staged += length;
        *written = length;
        return 1;
    }
    for (;;) {
        ssize_t sent = send(state->fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent >= 0) { *written = (size_t)sent; return 1; }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_flags(bio, BIO_FLAGS_WRITE | BIO_FLAGS_SHOULD_RETRY);
        *written = 0;
        return 0;
    }
}

static int sws_bio_read_ex(BIO *bio, char *data, size_t length, size_t *readBytes) {
    int fd = ((sws_socket_bio *)BIO_get_data(bio))->fd;
    BIO_clear_flags(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
    for (;;) {
        ssize_t got = recv(fd, data, length, MSG_DONTWAIT);
        if (got > 0) { *readBytes = (size_t)got; return 1; }
        *readBytes = 0;
        if (got == 0) { errno = 0; return 0; }  /* end of stream: no retry flag */
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_flags(bio, BIO_FLAGS_READ | BIO_FLAGS_SHOULD_RETRY);
        return 0;
    }
}

static long sws_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)bio; (void)number; (void)pointer;
    return command == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sws_bio_create(BIO *bio) { BIO_set_init(bio, 1); return 1; }

static int sws_bio_destroy(BIO *bio) {
    free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    return 1;
}

/* The method, made once by the caller (Swift keeps it in a global). */
static inline BIO_METHOD *sws_bio_method_new(void) {
    BIO_METHOD *method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "swiftws socket");
    if (method == NULL) return NULL;
    BIO_meth_set_write_ex(method, sws_bio_write_ex);
    BIO_meth_set_read_ex(method, sws_bio_read_ex);
    BIO_meth_set_ctrl(method, sws_bio_ctrl);
    BIO_meth_set_create(method, sws_bio_create);
    BIO_meth_set_destroy(method, sws_bio_destroy);
    return method;
}

/* Attaches a new BIO over `fd` to `ssl` (for reading and writing). 1 on success. */
static inline int sws_ssl_set_socket(SSL *ssl, BIO_METHOD *method, int fd) {
    sws_socket_bio *state = calloc(1, sizeof *state);
    if (state == NULL) return 0;
    state->fd = fd;
    BIO *bio = BIO_new(method);
    if (bio == NULL) { free(state); return 0; }
    BIO_set_data(bio, state);
    SSL_set_bio(ssl, bio, bio);
    return 1;
}

/* From now on the records `ssl` writes go to `stage` (capacity bytes), not to the socket. */
static inline void sws_bio_begin_staging(SSL *ssl, void *stage, size_t capacity) {
    sws_socket_bio *state = BIO_get_data(SSL_get_wbio(ssl));
    state->stage = stage;
    state->staged = 0;
    state->capacity = capacity;
}

/* The bytes staged so far (records, ready to send), and then none: the caller sends them. */
static inline size_t sws_bio_take_staged(SSL *ssl) {
    sws_socket_bio *state = BIO_get_data(SSL_get_wbio(ssl));
    size_t staged = state->staged;
    state->staged = 0;
    return staged;
}

/* Records go straight to the socket again (nothing may be staged). */
static inline void sws_bio_end_staging(SSL *ssl) {
    sws_socket_bio *state = BIO_get_data(SSL_get_wbio(ssl));
    state->stage = NULL;
    state->staged = 0;
}

/* ---- function-like macros ---- */

static inline int sws_ctx_set_min_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int sws_ctx_set_max_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
static inline void sws_ctx_set_mode(SSL_CTX *ctx, long mode) { SSL_CTX_set_mode(ctx, mode); }
static inline void sws_ctx_set_read_ahead(SSL_CTX *ctx) { SSL_CTX_set_read_ahead(ctx, 1); }
static inline void sws_ctx_set_session_cache_server(SSL_CTX *ctx) { SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER); }
/* Clients: OpenSSL hands each new session (TLS 1.3 ticket) to the new-session callback and keeps
 * none itself; the application stores them by host and port. */
static inline void sws_ctx_set_session_cache_client(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}
static inline int sws_ssl_new_ex_index(void) { return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
static inline int sws_set_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline long sws_mode_release_buffers(void) { return SSL_MODE_RELEASE_BUFFERS; }
static inline long sws_mode_partial_write(void) { return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; }
static inline uint64_t sws_default_options(void) {
    /* No renegotiation (client- or server-initiated); an EOF without close_notify is an end of
     * stream (the WebSocket close handshake already tells a clean end from a cut one). */
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION;
}
static inline uint64_t sws_option_no_ticket(void) { return SSL_OP_NO_TICKET; }

/* Servers: the cipher suite the server prefers, among the ones both sides offer. The same suites
 * as OpenSSL's defaults, in another order: AES-128-GCM first (with AES-NI the cheapest per byte
 * and per record: 10 AES rounds instead of AES-256's 14), then OpenSSL's own order. A client
 * that puts ChaCha20-Poly1305 first (no AES instructions) still gets it (PRIORITIZE_CHACHA).
 * Without server preference OpenSSL follows the client's order, and OpenSSL clients (curl,
 * Python, the bench's loadgen) offer AES-256-GCM first. 1 on success. */
static inline int sws_ctx_prefer_aes128_gcm(SSL_CTX *ctx) {
    static const char tls13[] = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    /* TLS 1.2: OpenSSL's default list (ALL:!COMPLEMENTOFDEFAULT:!eNULL) with the two ECDHE
     * AES-128-GCM suites moved to the front; the set is unchanged. */
    static const char tls12[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ALL:!COMPLEMENTOFDEFAULT:!eNULL";
    if (SSL_CTX_set_ciphersuites(ctx, tls13) != 1 || SSL_CTX_set_cipher_list(ctx, tls12) != 1) return 0;
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    return 1;
}

/* ---- ALPN: the server selects http/1.1 when offered, else none (not fatal) ---- */

static int sws_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outLength,
                           const unsigned char *in, unsigned int inLength, void *argument) {
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char *selected = NULL;
    (void)ssl; (void)argument;
    if (SSL_select_next_proto(&selected, outLength, http11, sizeof http11 - 1, in, inLength) == OPENSSL_NPN_NEGOTIATED) {
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}
static inline void sws_ctx_select_alpn_http11(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, sws_alpn_select, NULL); }
static inline int sws_ssl_offer_alpn_http11(SSL *ssl) {
    static const unsigned char http11[] = "\x08http/1.1";
    return SSL_set_alpn_protos(ssl, http11, sizeof http11 - 1) == 0;
}

/* ---- SNI: a server's further certificates, chosen by the name the client asks for ---- */

typedef struct sws_sni_table {
    size_t count;
    SSL_CTX **contexts; /* each with one certificate; the first whose names match is used */
} sws_sni_table;

static int sws_sni_select(SSL *ssl, int *alert, void *argument) {
    const sws_sni_table *table = argument;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    (void)alert;
    if (name == NULL || table == NULL) return SSL_TLSEXT_ERR_OK; /* the main certificate */
    for (size_t i = 0; i < table->count; i++) {
        X509 *cert = SSL_CTX_get0_certificate(table->contexts[i]);
        if (cert != NULL && X509_check_host(cert, name, 0, 0, NULL) == 1) {
            SSL_set_SSL_CTX(ssl, table->contexts[i]);
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

static inline void sws_ctx_set_sni_table(SSL_CTX *ctx, sws_sni_table *table) {
    SSL_CTX_set_tlsext_servername_callback(ctx, sws_sni_select);
    SSL_CTX_set_tlsext_servername_arg(ctx, table);
}

/* ---- PEM in memory ---- */

/* Loads a certificate chain (leaf first, then intermediates) from PEM text. 1 on success. */
static inline int sws_ctx_use_chain_pem(SSL_CTX *ctx, const void *pem, size_t length) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return 0;
    X509 *leaf = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    int ok = leaf != NULL && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509_free(leaf);
    if (ok) {
        SSL_CTX_clear_chain_certs(ctx);
        X509 *extra;
        while ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
            if (!SSL_CTX_add0_chain_cert(ctx, extra)) { X509_free(extra); ok = 0; break; }
        }
        ERR_clear_error();  /* the end of the PEM text */
    }
    BIO_free(bio);
    return ok;
}

/* OpenSSL's password callback for encrypted keys: copies the password given as its userdata (a
 * NUL-terminated string; NULL: none, which fails the read). Installed on every context so that
 * OpenSSL never falls back to its default callback, which would prompt on the terminal and block
 * a server's loop. */
static int sws_key_password_callback(char *buffer, int size, int rwflag, void *userdata) {
    (void)rwflag;
    if (userdata == NULL || size <= 0) return -1;
    size_t length = strlen((const char *)userdata);
    if (length > (size_t)size) return -1;
    memcpy(buffer, userdata, length);
    return (int)length;
}

/* The password for the keys the context reads next (NULL: none); only read during those calls. */
static inline void sws_ctx_set_key_password(SSL_CTX *ctx, const char *password) {
    SSL_CTX_set_default_passwd_cb(ctx, sws_key_password_callback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)password);
}

/* Reads a private key from PEM text (encrypted with `password`, or NULL) and makes it the
 * context's key. 1 on success. */
static inline int sws_ctx_use_key_pem(SSL_CTX *ctx, const void *pem, size_t length, const char *password) {
    EVP_PKEY *key = NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio != NULL) key = PEM_read_bio_PrivateKey(bio, NULL, sws_key_password_callback, (void *)password);
    BIO_free(bio);
    int ok = key != NULL && SSL_CTX_use_PrivateKey(ctx, key) == 1;
    EVP_PKEY_free(key);
    return ok;
}

/* Adds the certificates of PEM text to the trust store. 1 when at least one was added. */
static inline int sws_ctx_add_trust_pem(SSL_CTX *ctx, const void *pem, size_t length) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return 0;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    int added = 0;
    X509 *cert;
    while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_cert(store, cert) == 1) added++;
        X509_free(cert);
    }
    ERR_clear_error();
    BIO_free(bio);
    return added > 0;
}

/* The peer certificate's subject as one line ("CN=client,O=Example"), written into `buffer`.
 * Returns the length, 0 without a peer certificate. */
static inline size_t sws_ssl_peer_subject(SSL *ssl, char *buffer, size_t capacity) {
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || capacity == 0) return 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return 0;
    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
    int got = BIO_read(bio, buffer, (int)capacity - 1);
    BIO_free(bio);
    if (got < 0) got = 0;
    buffer[got] = 0;
    return (size_t)got;
}
#endif
