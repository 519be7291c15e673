/*
 * test_arena.c - per-request allocation for jansson.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mutators/json/arena.h"
#include "webhook/review.h"

static const char review[] =
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":\"u1\","
    "\"kind\":{\"group\":\"paddlex.paddlepaddle.org\",\"version\":\"v1alpha1\",\"kind\":\"Serving\"},"
    "\"operation\":\"CREATE\",\"namespace\":\"ns\",\"object\":{\"apiVersion\":"
    "\"paddlex.paddlepaddle.org/v1alpha1\",\"kind\":\"Serving\",\"metadata\":{\"name\":\"s\"},"
    "\"spec\":{\"image\":\"registry.example.com/serving:1\"}}}}";

/* A value made before the bracket may be freed inside it, and values made
 * inside may be freed inside it (a no-op) without harm: the value made
 * outside stays intact while the one inside holds it, and is really freed
 * with it (a thousand rounds leave the heap as they found it; one round is
 * not measured: glibc's per-thread cache counts freed blocks as in use).
 * Under AddressSanitizer the arena is off; the sanitizer checks the same. */
static void round_of_mixed_lifetimes(void)
{
    json_t *outside = json_pack("{s:[i,i,i]}", "a", 1, 2, 3), *inside;

    assert_non_null(outside);
    arena_begin();
    inside = json_pack("{s:s, s:o}", "k", "v", "big", json_stringn(review, sizeof(review) - 1));
    assert_non_null(inside);
    assert_int_equal(json_object_set(inside, "outside", outside), 0);
    json_decref(outside);
    assert_int_equal(outside->refcount, 1);     /* inside holds it */
    assert_int_equal(json_integer_value(json_array_get(json_object_get(outside, "a"), 2)), 3);
    json_decref(inside);                        /* frees outside for good */
    arena_end();
    arena_thread_release();
}

static void test_mixed_lifetimes(void **state)
{
    size_t before, after;

    (void)state;
    for (int i = 0; i < 20; i++)                /* warm: one-time setup, caches */
        round_of_mixed_lifetimes();
    before = mallinfo2().uordblks;
    for (int i = 0; i < 1000; i++)
        round_of_mixed_lifetimes();
    after = mallinfo2().uordblks;
    if (after > before + 16 * 1024)
        fail_msg("heap in use grew by %zu bytes over 1000 rounds", after - before);
}

/* The answer outlives the bracket: it is malloc'd text, and the same on
 * every round, including rounds that need more than a chunk. */
static void test_review_answers_survive(void **state)
{
    struct review_result first, r;
    char *big = malloc(3 * ARENA_CHUNK);

    (void)state;
    assert_int_equal(review_handle(REVIEW_MUTATE, review, sizeof(review) - 1, NULL, NULL, &first), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(review_handle(REVIEW_MUTATE, review, sizeof(review) - 1, NULL, NULL, &r), 0);
        assert_string_equal(r.body, first.body);
        review_result_release(&r);
    }
    /* a body larger than a chunk: a 400, but parsed through the arena */
    memset(big, '[', 3 * ARENA_CHUNK);
    assert_int_equal(review_handle(REVIEW_VALIDATE, big, 3 * ARENA_CHUNK, NULL, NULL, &r), 0);
    assert_int_equal(r.http_status, 400);
    review_result_release(&r);
    review_result_release(&first);
    free(big);
    arena_thread_release();
}

/* A thousand reviews leave the heap as they found it: whatever a review
 * makes outside the bracket (its verdict's warnings array) it frees, and
 * whatever it leaves to arena_end() is in the arena. Plain builds only:
 * under AddressSanitizer the arena is off and the sanitizer counts leaks. */
static void test_no_growth(void **state)
{
    struct review_result r;
    size_t before, after;

    (void)state;
    for (int i = 0; i < 20; i++) {      /* warm: chunks, caches */
        assert_int_equal(review_handle(REVIEW_MUTATE, review, sizeof(review) - 1, NULL, NULL, &r), 0);
        review_result_release(&r);
    }
    before = mallinfo2().uordblks;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(review_handle(REVIEW_MUTATE, review, sizeof(review) - 1, NULL, NULL, &r), 0);
        review_result_release(&r);
    }
    after = mallinfo2().uordblks;
    if (after > before + 16 * 1024)
        fail_msg("heap in use grew by %zu bytes over 1000 reviews", after - before);
    arena_thread_release();
}

/* A request that needs more than ARENA_KEEP leaves one large chunk kept
 * and says so once; small requests after it, even those carved from it,
 * do not count as using it; arena_drop_large() gives it back. */
static void test_large_chunk_kept_and_dropped(void **state)
{
    size_t big = 1u << 20;
    char *text = malloc(big);
    int used = -1;

    (void)state;
    arena_begin();
    if (!arena_in_force()) {            /* under AddressSanitizer */
        arena_end();
        free(text);
        skip();
    }
    memset(text, 'x', big);
    assert_non_null(json_stringn(text, big));
    arena_end();
    assert_int_equal(arena_large_kept(&used), 1);
    assert_int_equal(used, 1);
    assert_int_equal(arena_large_kept(&used), 1);
    assert_int_equal(used, 0);          /* told once */
    for (int i = 0; i < 10; i++) {
        arena_begin();
        assert_non_null(json_pack("{s:[i,i,i]}", "a", 1, 2, 3));
        arena_end();
    }
    assert_int_equal(arena_large_kept(&used), 1);
    assert_int_equal(used, 0);
    arena_drop_large();
    assert_int_equal(arena_large_kept(&used), 0);
    free(text);
    arena_thread_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_lifetimes),
        cmocka_unit_test(test_review_answers_survive),
        cmocka_unit_test(test_no_growth),
        cmocka_unit_test(test_large_chunk_kept_and_dropped),
    };

    arena_install();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
