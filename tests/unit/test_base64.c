/*
 * test_base64.c - the patch encoding: RFC 4648's vectors, and the vector
 * path byte for byte equal to the scalar one at every length and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "webhook/base64.h"

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
        assert_string_equal(a.buf + 2, want[i][1]);
        assert_string_equal(b.buf, want[i][1]);
        strbuf_release(&a);
        strbuf_release(&b);
    }
}

/* Every 6-bit field value, every tail length, vector steps and the
 * scalar steps after them: lengths 0..400 over bytes that cycle through
 * all 256 values in a scrambled order. */
static void test_vector_equals_scalar(void **state)
{
    unsigned char in[400];
    uint32_t x = 2463534242u;

    (void)state;
    for (size_t i = 0; i < sizeof(in); i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        in[i] = i < 256 ? (unsigned char)(i * 167 + 13) : (unsigned char)x;
    }
    for (size_t n = 0; n <= sizeof(in); n++) {
        for (size_t off = 0; off < 3 && off <= n; off++) {
            struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;

            base64_append(&a, (const char *)in + off, n - off);
            base64_append_scalar(&b, (const char *)in + off, n - off);
            assert_int_equal(a.len, (n - off + 2) / 3 * 4);
            assert_string_equal(a.buf, b.buf);
            strbuf_release(&a);
            strbuf_release(&b);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_vector_equals_scalar),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
