/*
 * Linux system headers that Swift's Glibc module does not bring in, seen by Swift as the module
 * CSwiftWSSystem: getrandom(2), epoll(7), eventfd(2), timerfd, TCP options. Declarations only;
 * nothing to link beyond libc.
 */
#ifndef SWIFTWS_SYSTEM_SHIM_H
#define SWIFTWS_SYSTEM_SHIM_H
#include <malloc.h>      /* malloc_usable_size: the idle-footprint test weighs heap blocks */
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include "utf8_lookup.h"   /* the AVX2 form of the UTF-8 vector pass (header-only) */
#include "mask_avx2.h"     /* the AVX2 form of payload masking (header-only) */

/* accept4(2) is declared only under _GNU_SOURCE, which the Glibc module is not built with;
 * this wrapper gives Swift a stable name for it (atomic SOCK_NONBLOCK | SOCK_CLOEXEC on accept). */
extern int accept4(int, struct sockaddr *, socklen_t *, int);
static inline int swiftws_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}

/* fcntl(2) is variadic, which Swift cannot call: an adopted descriptor (socket activation, a
 * connection handed over) gets O_NONBLOCK and FD_CLOEXEC as the loop's own sockets have.
 * 0, or -1 with errno. */
static inline int swiftws_make_nonblocking_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -1;
    return fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ? -1 : 0;
}
#endif
