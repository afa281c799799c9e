/*
 * The parts tcp_echo.c, tcp_whole.c and tls_echo.c share (the ceilings of bench/echo/run.sh): listening,
 * the epoll descriptor, stopping on a signal, and accepting. Each includes this file once; it is
 * not a library.
 */
#ifndef ECHO_SERVER_H
#define ECHO_SERVER_H
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int epfd;
static volatile sig_atomic_t echo_stopping;

/* SIGINT/SIGTERM end the loop and main returns: a clean exit, so that valgrind writes its counts
 * (bench/echo/instructions.sh stops servers with SIGINT, which a background job starts ignoring). */
static void echo_stop(int signal_number) { (void)signal_number; echo_stopping = 1; }

/* Listens on host:port (0: any free port) with epfd watching the listener (data.ptr NULL), prints
 * "listening on HOST:PORT", and returns the listener; exits with status 1 or 2 on failure. Stop
 * signals are blocked from now on except inside echo_wait, so that one that comes while events are
 * handled cannot be missed before the next wait. */
static int echo_listen(const char *name, const char *host, int port) {
    signal(SIGPIPE, SIG_IGN);
    struct sigaction on_stop = {.sa_handler = echo_stop};
    sigaction(SIGINT, &on_stop, NULL);
    sigaction(SIGTERM, &on_stop, NULL);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_signals, NULL);
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "%s: bad host\n", name); exit(2); }
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 4096) != 0) {
        fprintf(stderr, "%s: bind/listen: %s\n", name, strerror(errno));
        exit(1);
    }
    socklen_t addr_len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &addr_len);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event listen_ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &listen_ev);
    printf("listening on %s:%d\n", host, ntohs(addr.sin_port));
    fflush(stdout);
    return listener;
}

/* Waits for events (stop signals unblocked meanwhile): their count, or -1 once a stop signal came. */
static int echo_wait(struct epoll_event *events, int capacity) {
    sigset_t while_waiting;
    sigprocmask(SIG_SETMASK, NULL, &while_waiting);
    sigdelset(&while_waiting, SIGINT);
    sigdelset(&while_waiting, SIGTERM);
    for (;;) {
        int n = epoll_pwait(epfd, events, capacity, -1, &while_waiting);
        if (echo_stopping) return -1;
        if (n >= 0) return n;
        if (errno != EINTR) { perror("epoll_pwait"); exit(1); }
    }
}

/* Watches `events` on the connection `fd` (its state at `connection`) from now on. */
static void echo_watch(int fd, void *connection, unsigned events) {
    struct epoll_event ev = {.events = events, .data.ptr = connection};
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/* The next waiting connection (non-blocking, TCP_NODELAY), or -1 when none is left. */
static int echo_accept(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}
#endif
