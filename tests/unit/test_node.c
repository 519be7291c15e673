/*
 * test_node.c - the pool-built values of the generated children.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/jsonparse.h"
#include "mutators/json/node.h"

/* n written out, then read back: the text is valid JSON and the value
 * equals node_to_json(n). */
static void assert_round_trip(const struct node *n, const char *want)
{
    struct strbuf sb = STRBUF_INIT;
    struct jsonparse_error err;
    json_t *parsed, *direct = node_to_json(n);

    node_dump(&sb, n);
    assert_string_equal(sb.buf, want);
    parsed = jsonparse(sb.buf, sb.len, 64, NULL, &err);
    assert_non_null(parsed);
    assert_true(json_equal(parsed, direct));
    json_decref(parsed);
    json_decref(direct);
    strbuf_release(&sb);
}

static void test_dump_in_insertion_order(void **state)
{
    struct node_pool pool;

    (void)state;
    node_pool_begin(&pool);
    assert_round_trip(node_obj("z", node_int(-9223372036854775807LL - 1), "a",
                               node_list(node_true(), node_int(0), node_object(), node_array(), NULL),
                               "m", node_str(""), NULL),
                      "{\"z\":-9223372036854775808,\"a\":[true,0,{},[]],\"m\":\"\"}");
    node_pool_end(&pool);
}

static void test_escaping(void **state)
{
    struct node_pool pool;
    struct node *o;

    (void)state;
    node_pool_begin(&pool);
    /* values are escaped; keys are literals that need no escaping */
    o = node_obj("k", node_strn("a\nb\x01\"\\/\xc3\xa9", 9), NULL);
    node_set(o, "plain", node_strn("x\0y", 3));
    assert_round_trip(o, "{\"k\":\"a\\nb\\u0001\\\"\\\\/\xc3\xa9\",\"plain\":\"x\\u0000y\"}");
    node_pool_end(&pool);
}

/* Strings are scanned sixteen bytes at a time for bytes to escape, as
 * copied to the text, the last block reading past the string's end:
 * every length up to two blocks and a half, with one byte to escape at
 * every position (or none), is written as jsondump_string() writes it,
 * whatever bytes the text's buffer held past it. */
static void test_escaping_at_every_length_and_position(void **state)
{
    static const char specials[] = { '"', '\\', '\n', '\x1f', '\0' };

    (void)state;
    for (size_t len = 0; len <= 40; len++)
        for (size_t at = 0; at <= len; at++)
            for (size_t k = 0; k < sizeof(specials); k++) {
                struct node_pool pool;
                struct strbuf got = STRBUF_INIT, want = STRBUF_INIT;
                char s[40];

                for (size_t i = 0; i < len; i++)
                    s[i] = (char)('a' + i);
                if (at < len)
                    s[at] = specials[k];
                strbuf_grow(&got, 128);
                memset(got.buf, specials[k], 128);
                node_pool_begin(&pool);
                node_dump(&got, node_strn(s, len));
                node_pool_end(&pool);
                jsondump_string(&want, s, len);
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.buf, want.buf, want.len);
                strbuf_release(&got);
                strbuf_release(&want);
            }
}

/* Keys of every length up to past a block are written whole. */
static void test_keys_of_every_length(void **state)
{
    static const char keys[] = "abcdefghijklmnopqrstuvwxyz";

    (void)state;
    for (size_t len = 1; len < sizeof(keys); len++) {
        struct node_pool pool;
        struct strbuf got = STRBUF_INIT;
        char want[64];
        struct node *o;

        node_pool_begin(&pool);
        o = node_object();
        node_setn(o, keys, len, node_int(1));
        node_dump(&got, o);
        node_pool_end(&pool);
        snprintf(want, sizeof(want), "{\"%.*s\":1}", (int)len, keys);
        assert_string_equal(got.buf, want);
        strbuf_release(&got);
    }
}

static void test_set_replaces_in_place(void **state)
{
    struct node_pool pool;
    struct node *o;

    (void)state;
    node_pool_begin(&pool);
    o = node_obj("a", node_int(1), "b", node_int(2), "c", node_int(3), NULL);
    node_set(o, "b", node_str("two"));
    node_set(o, "c", node_str("three"));    /* the last member: appends still follow it */
    node_set(o, "d", node_int(4));
    assert_round_trip(o, "{\"a\":1,\"b\":\"two\",\"c\":\"three\",\"d\":4}");
    assert_string_equal(node_get(o, "c")->u.str.s, "three");
    assert_null(node_get(o, "e"));
    assert_null(node_get(NULL, "a"));
    assert_null(node_get(node_get(o, "a"), "a"));
    node_pool_end(&pool);
}

static void test_copy_is_deep(void **state)
{
    struct node_pool pool;
    struct node *o, *c;

    (void)state;
    node_pool_begin(&pool);
    o = node_obj("labels", node_obj("app", node_str("x"), NULL), NULL);
    c = node_copy(node_get(o, "labels"));
    node_set(c, "component", node_str("worker"));
    node_set(o, "copy", c);
    assert_round_trip(o, "{\"labels\":{\"app\":\"x\"},\"copy\":{\"app\":\"x\",\"component\":\"worker\"}}");
    assert_null(node_copy(NULL));
    node_pool_end(&pool);
}

/* Pools nest; a large text gets a chunk of its own. */
static void test_pools_nest(void **state)
{
    struct node_pool outer, inner;
    static char big[100000];
    struct node *kept, *tmp;

    (void)state;
    memset(big, 'q', sizeof(big) - 1);
    node_pool_begin(&outer);
    kept = node_str("outer");
    node_pool_begin(&inner);
    tmp = node_list(node_str(node_cat(big, NULL)), NULL);
    assert_int_equal(tmp->u.kids.first->u.str.len, sizeof(big) - 1);
    node_pool_end(&inner);
    assert_string_equal(kept->u.str.s, "outer");
    kept = node_list(kept, node_str("after"), NULL);
    assert_round_trip(kept, "[\"outer\",\"after\"]");
    node_pool_end(&outer);
}

/* node_equal_json() agrees with json_equal() on node_to_json(). */
static void test_equal_json(void **state)
{
    static const char *const others[] = {
        "{\"b\":[1,true,\"x\"],\"a\":{}}",      /* members in another order: equal */
        "{\"a\":{},\"b\":[1,true,\"x\"]}",
        "{\"a\":{},\"b\":[1,true,\"x\"],\"c\":1}",
        "{\"a\":{}}",
        "{\"a\":{},\"c\":[1,true,\"x\"]}",
        "{\"a\":[],\"b\":[1,true,\"x\"]}",
        "{\"a\":{},\"b\":[1,true]}",
        "{\"a\":{},\"b\":[1,true,\"x\",null]}",
        "{\"a\":{},\"b\":[1.0,true,\"x\"]}",
        "{\"a\":{},\"b\":[1,false,\"x\"]}",
        "{\"a\":{},\"b\":[1,true,\"x\\u0000\"]}",
        "{\"a\":{},\"b\":[1,true,\"y\"]}",
        "{\"a\":null,\"b\":[1,true,\"x\"]}",
        "[]",
    };
    struct node_pool pool;
    struct node *n;
    json_t *as_json;

    (void)state;
    node_pool_begin(&pool);
    n = node_obj("a", node_object(), "b", node_list(node_int(1), node_true(), node_str("x"), NULL), NULL);
    as_json = node_to_json(n);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        struct jsonparse_error err;
        json_t *v = jsonparse(others[i], strlen(others[i]), 64, NULL, &err);

        assert_non_null(v);
        assert_int_equal(node_equal_json(n, v), json_equal(as_json, v));
        assert_int_equal(node_equal_json(n, v), i < 2);
        json_decref(v);
    }
    json_decref(as_json);
    node_pool_end(&pool);
}

static const char *vcat_of(const char *first, ...)
{
    va_list ap;
    const char *text;

    va_start(ap, first);
    text = node_vcat(ap);
    va_end(ap);
    return text;
}

static void test_cat(void **state)
{
    struct node_pool pool;

    (void)state;
    node_pool_begin(&pool);
    assert_string_equal(node_cat("ppocr", "-", "export", NULL), "ppocr-export");
    assert_string_equal(node_cat("", NULL), "");
    assert_string_equal(vcat_of("ignored", "a", "", "bc", NULL), "abc");
    assert_string_equal(vcat_of("ignored", NULL), "");
    node_pool_end(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_in_insertion_order),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_escaping_at_every_length_and_position),
        cmocka_unit_test(test_keys_of_every_length),
        cmocka_unit_test(test_set_replaces_in_place),
        cmocka_unit_test(test_copy_is_deep),
        cmocka_unit_test(test_pools_nest),
        cmocka_unit_test(test_equal_json),
        cmocka_unit_test(test_cat),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
