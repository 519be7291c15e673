/*
 * test_base64.c - the patch encoding: RFC 4648's vectors, and every length
 * and byte value against a bit-by-bit reference, in steps and appended,
 * for the AVX2 path (where the CPU has it) and the scalar one alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "webhook/base64.h"

/* RFC 4648 §4, six bits at a time, '=' for the missing ones. */
static void reference(struct strbuf *sb, const unsigned char *in, size_t n)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        size_t have = n - i < 3 ? n - i : 3;
        unsigned long v = 0;

        for (size_t k = 0; k < 3; k++)
            v = v << 8 | (k < have ? in[i + k] : 0);
        for (size_t k = 0; k < 4; k++)
            strbuf_addch(sb, k <= have ? digits[v >> (18 - 6 * k) & 63] : '=');
    }
}

static void test_rfc4648_vectors(void **state)
{
    static const char *const want[][2] = {
        { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

        strbuf_addstr(&a, "x:");
        base64_append(&a, want[i][0], strlen(want[i][0]));
        base64_append_scalar(&b, want[i][0], strlen(want[i][0]));
        assert_memory_equal(a.buf, "x:", 2);
        assert_string_equal(a.buf + 2, want[i][1]);
        assert_string_equal(b.buf, want[i][1]);
        assert_int_equal(b.len, strlen(want[i][1]));
        strbuf_release(&a);
        strbuf_release(&b);
    }
}

typedef void encoder_fn(struct strbuf *, const char *, size_t);

/* Every 6-bit field value and every tail length: lengths 0..400 over
 * bytes that cycle through all 256 values in a scrambled order, at three
 * offsets, appended to text already in the buffer. */
static void equals_reference(encoder_fn *encode)
{
    unsigned char in[400];
    uint32_t x = 2463534242u;

    for (size_t i = 0; i < sizeof(in); i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        in[i] = i < 256 ? (unsigned char)(i * 167 + 13) : (unsigned char)x;
    }
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (size_t off = 0; off < 3 && off <= n; off++) {
            struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

            strbuf_addstr(&a, "[\"");
            strbuf_addstr(&b, "[\"");
            encode(&a, (const char *)in + off, n - off);
            reference(&b, in + off, n - off);
            assert_int_equal(a.len, 2 + (n - off + 2) / 3 * 4);
            assert_int_equal(a.len, b.len);
            assert_string_equal(a.buf, b.buf);
            strbuf_release(&a);
            strbuf_release(&b);
        }
    }
}

/* AVX2 where the CPU has it: 24 bytes a step, then the scalar tail */
static void test_equals_reference(void **state)
{
    (void)state;
    equals_reference(base64_append);
}

static void test_scalar_equals_reference(void **state)
{
    (void)state;
    equals_reference(base64_append_scalar);
}

/* Past the 3 MiB base64.c encodes per call: the steps join without
 * padding between them. */
static void test_larger_than_one_step(void **state)
{
    size_t n = 3 * 1024 * 1024 + 2;
    unsigned char *in = malloc(n);
    struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

    (void)state;
    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (unsigned char)(i * 31 + (i >> 11));
    base64_append(&a, (const char *)in, n);
    reference(&b, in, n);
    assert_int_equal(a.len, (n + 2) / 3 * 4);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.buf, b.buf, b.len);
    assert_int_equal(a.buf[a.len], '\0');
    strbuf_release(&a);
    strbuf_release(&b);
    free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_equals_reference),
        cmocka_unit_test(test_scalar_equals_reference),
        cmocka_unit_test(test_larger_than_one_step),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
