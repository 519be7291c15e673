/*
 * test_jsondump.c - the compact writer agrees with jansson's json_dumps().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mutators/json/jsondump.h"

/* jsondump_append(v) must equal json_dumps(v, JSON_COMPACT) and parse back. */
static void assert_same(json_t *v)
{
    struct strbuf sb = STRBUF_INIT;
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *back;

    jsondump_append(&sb, v);
    assert_non_null(want);
    assert_string_equal(sb.buf, want);
    back = json_loads(sb.buf, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    assert_non_null(back);
    assert_true(json_equal(back, v));
    json_decref(back);
    free(want);
    strbuf_release(&sb);
    json_decref(v);
}

static void test_scalars(void **state)
{
    (void)state;
    assert_same(json_integer(0));
    assert_same(json_integer(-9223372036854775807LL - 1));
    assert_same(json_true());
    assert_same(json_false());
    assert_same(json_null());
    assert_same(json_real(1.5));
    assert_same(json_real(-0.25));
}

static void test_strings_at_every_offset(void **state)
{
    /* every byte that needs escaping, at every position of the first two
     * 16-byte blocks of the SSE2 scan and of its byte tail, between plain
     * and multibyte text */
    static const char specials[] = { '"', '\\', '\n', '\t', '\r', '\b', '\f', 0x01, 0x1f, 0x7f };
    char buf[64];

    (void)state;
    for (size_t s = 0; s < sizeof(specials); s++) {
        for (size_t at = 0; at < 40; at++) {
            memset(buf, 'a', sizeof(buf));
            memcpy(buf, "\xc3\xa9", 2);
            buf[2 + at] = specials[s];
            assert_same(json_stringn(buf, 2 + at + 9));
        }
    }
    assert_same(json_string(""));
    assert_same(json_stringn("a\0b", 3));
}

/* jsondump_plain() (SSE2 blocks, then bytes) against a byte loop: every
 * byte value at every position of a string of three blocks. */
static void test_plain_prefix_equals_byte_loop(void **state)
{
    unsigned char buf[48];

    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        for (size_t at = 0; at < sizeof(buf); at++) {
            size_t want = 0;

            memset(buf, 'a', sizeof(buf));
            buf[at] = (unsigned char)c;
            while (want < sizeof(buf) && buf[want] >= 0x20 && buf[want] != '"' && buf[want] != '\\')
                want++;
            for (size_t len = at; len <= sizeof(buf); len += 7)
                assert_int_equal(jsondump_plain((const char *)buf, len), want < len ? want : len);
        }
    }
}

static void test_containers_keep_order(void **state)
{
    json_t *v = json_loads("{\"z\":[1,{\"b\":\"x\\\"y\",\"a\":[]}],\"a\":{},\"m\":\"\\u00e9\"}", 0, NULL);

    (void)state;
    assert_non_null(v);
    assert_same(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_strings_at_every_offset),
        cmocka_unit_test(test_plain_prefix_equals_byte_loop),
        cmocka_unit_test(test_containers_keep_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
