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

/* accept4(2) is declared only under _GNU_SOURCE, which the Glibc module is not built with;
 * this wrapper gives Swift a stable name for it (atomic SOCK_NONBLOCK | SOCK_CLOEXEC on accept). */
extern int accept4(int, struct sockaddr *, socklen_t *, int);
static inline int swiftws_accept4(int fd, struct sockaddr *address, socklen_t *length, int flags) {
    return accept4(fd, address, length, flags);
}
#endif
