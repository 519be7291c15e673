/*
 * test_peers.c - per-address connection counts: the cap per address,
 * addresses apart, IPv4-mapped IPv6 as IPv4, entries given back and reused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "webhook/peers.h"

static struct sockaddr_storage v4(const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *ip)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_cap_per_address(void **state)
{
    struct peers p;
    struct sockaddr_storage a = v4("127.0.0.2"), b = v4("127.0.0.1");

    (void)state;
    assert_int_equal(peers_init(&p, 8), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(peers_take(&p, SA(a), 3), 0);
    assert_int_equal(peers_take(&p, SA(a), 3), -1);
    assert_int_equal(peers_take(&p, SA(b), 3), 0);      /* another address is not held up */
    assert_int_equal(peers_count(&p, SA(a)), 3);
    peers_give(&p, SA(a));
    assert_int_equal(peers_take(&p, SA(a), 3), 0);
    peers_release(&p);
}

static void test_mapped_ipv6_is_ipv4(void **state)
{
    struct peers p;
    struct sockaddr_storage a = v4("10.0.0.7"), m = v6("::ffff:10.0.0.7"), x = v6("2001:db8::7");

    (void)state;
    assert_int_equal(peers_init(&p, 8), 0);
    assert_int_equal(peers_take(&p, SA(a), 2), 0);
    assert_int_equal(peers_take(&p, SA(m), 2), 0);
    assert_int_equal(peers_take(&p, SA(m), 2), -1);
    assert_int_equal(peers_take(&p, SA(x), 2), 0);
    assert_int_equal(peers_count(&p, SA(x)), 1);
    peers_release(&p);
}

/* Entries of addresses whose count fell to 0 are reused: the table never
 * needs more entries than connections at once. */
static void test_entries_are_reused(void **state)
{
    struct peers p;
    char ip[32];

    (void)state;
    assert_int_equal(peers_init(&p, 4), 0);
    for (int i = 0; i < 1000; i++) {
        struct sockaddr_storage a;

        snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250);
        a = v4(ip);
        assert_int_equal(peers_take(&p, SA(a), 1), 0);
        assert_int_equal(peers_count(&p, SA(a)), 1);
        peers_give(&p, SA(a));
        assert_int_equal(peers_count(&p, SA(a)), 0);
    }
    peers_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_per_address),
        cmocka_unit_test(test_mapped_ipv6_is_ipv4),
        cmocka_unit_test(test_entries_are_reused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
