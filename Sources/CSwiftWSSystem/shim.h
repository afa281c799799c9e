/*
 * Linux system headers that Swift's Glibc module does not bring in, seen by Swift as the module
 * CSwiftWSSystem: getrandom(2), epoll(7), eventfd(2), timerfd, TCP options. Declarations only;
 * nothing to link beyond libc.
 */
#ifndef SWIFTWS_SYSTEM_SHIM_H
#define SWIFTWS_SYSTEM_SHIM_H
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
#endif
