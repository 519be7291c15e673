/*
 * test_outbox.c - outbox.c's setsockopt(): on a worker's own connection a
 * TCP_NODELAY or TCP_CORK that would change nothing makes no system call;
 * every other call is the system call, whose effect the kernel shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "webhook/serverstate.h"
#include "webhook/workers.h"

#define TABLE 1024

struct fixture {
    int listener, client, fd;       /* fd: the accepted end, the worker's connection */
    struct worker w;
    struct conn k;
    struct conn *by_fd[TABLE];
};

/* The kernel's value of a TCP option, read past any wrapper. */
static int kernel(int fd, int name)
{
    int v = -1;
    socklen_t len = sizeof(v);

    assert_int_equal(getsockopt(fd, IPPROTO_TCP, name, &v, &len), 0);
    return v;
}

/* Sets a TCP option behind the wrapper's back, as another program could. */
static void behind(int fd, int name, int v)
{
    assert_int_equal(syscall(SYS_setsockopt, fd, IPPROTO_TCP, name, &v, sizeof(v)), 0);
}

static int set(int fd, int level, int name, int v)
{
    return setsockopt(fd, level, name, &v, sizeof(v));
}

static int setup(void **state)
{
    static struct fixture f;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);

    memset(&f, 0, sizeof(f));
    f.listener = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f.listener >= 0);
    assert_int_equal(bind(f.listener, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f.listener, 1), 0);
    assert_int_equal(getsockname(f.listener, (struct sockaddr *)&a, &alen), 0);
    f.client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(f.client, (struct sockaddr *)&a, sizeof(a)), 0);
    f.fd = accept(f.listener, NULL, NULL);
    assert_true(f.fd >= 0 && f.fd < TABLE);
    f.w.by_fd = f.by_fd;
    f.w.nfd = TABLE;
    f.k.fd = f.fd;
    f.k.worker = &f.w;
    f.k.nodelay = f.k.corked = -1;      /* as outbox_attach() leaves them */
    f.by_fd[f.fd] = &f.k;
    workers_self = &f.w;
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    workers_self = NULL;
    close(f->fd);
    close(f->client);
    close(f->listener);
    return 0;
}

static void test_unchanged_makes_no_call(void **state)
{
    struct fixture *f = *state;

    /* unknown at first: both go to the kernel, which then knows them */
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_CORK, 0), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 1);
    assert_int_equal(f->k.nodelay, 1);
    assert_int_equal(f->k.corked, 0);
    /* changed behind its back: a call that would change nothing (as far
     * as the connection's record knows) is not made */
    behind(f->fd, TCP_NODELAY, 0);
    behind(f->fd, TCP_CORK, 1);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_CORK, 0), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 0);
    assert_int_equal(kernel(f->fd, TCP_CORK), 1);
}

static void test_changes_reach_the_kernel(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_CORK, 1), 0);
    assert_int_equal(kernel(f->fd, TCP_CORK), 1);
    assert_int_equal(f->k.corked, 1);
    /* corked, TCP_NODELAY on pushes what the cork holds (tcp(7)): made */
    behind(f->fd, TCP_NODELAY, 0);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 1);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_CORK, 0), 0);
    assert_int_equal(kernel(f->fd, TCP_CORK), 0);
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 0), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 0);
    assert_int_equal(f->k.nodelay, 0);
    /* off, TCP_NODELAY on is a change */
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 1);
}

static void test_others_are_system_calls(void **state)
{
    struct fixture *f = *state;
    int v = 0;
    socklen_t len = sizeof(v);

    /* another option on the connection */
    assert_int_equal(set(f->fd, SOL_SOCKET, SO_KEEPALIVE, 1), 0);
    assert_int_equal(getsockopt(f->fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    assert_int_equal(v, 1);
    /* a socket that is no connection of the worker's */
    assert_int_equal(set(f->client, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    behind(f->client, TCP_NODELAY, 0);
    assert_int_equal(set(f->client, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(kernel(f->client, TCP_NODELAY), 1);
    /* a thread that is no worker */
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    behind(f->fd, TCP_NODELAY, 0);
    workers_self = NULL;
    assert_int_equal(set(f->fd, IPPROTO_TCP, TCP_NODELAY, 1), 0);
    assert_int_equal(kernel(f->fd, TCP_NODELAY), 1);
    workers_self = &f->w;
    /* errors are the kernel's */
    errno = 0;
    assert_int_equal(set(-1, IPPROTO_TCP, TCP_NODELAY, 1), -1);
    assert_int_equal(errno, EBADF);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged_makes_no_call, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes_reach_the_kernel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_others_are_system_calls, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
