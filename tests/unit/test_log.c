/*
 * test_log.c - the admission lines on stdout: valid JSON, escaped fields,
 * held until log_flush() on a holding thread, never more than 4 KiB held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "webhook/log.h"
#include "webhook/review.h"

static FILE *out;
static int saved = -1;

/* stdout (fd 1) into a new temporary file, read back with written();
 * cmocka's own output goes to the real stdout around it. */
static void capture(void)
{
    fflush(stdout);
    out = tmpfile();
    assert_non_null(out);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0 && dup2(fileno(out), STDOUT_FILENO) >= 0);
    log_set_level(LOG_INFO);
}

static void restore(void)
{
    dup2(saved, STDOUT_FILENO);
    close(saved);
    fclose(out);
}

static size_t written(void)
{
    return (size_t)lseek(fileno(out), 0, SEEK_END);
}

static struct review_result result(const char *uid)
{
    struct review_result r;

    memset(&r, 0, sizeof(r));
    snprintf(r.uid, sizeof(r.uid), "%s", uid);
    snprintf(r.kind, sizeof(r.kind), "Training");
    snprintf(r.namespace, sizeof(r.namespace), "team-a");
    snprintf(r.name, sizeof(r.name), "ocr");
    snprintf(r.operation, sizeof(r.operation), "CREATE");
    r.http_status = 200;
    r.allowed = 1;
    return r;
}

static void test_lines_are_json_held_until_flushed(void **state)
{
    struct review_result r = result("a\"b\\c\x01\xc3\xa9");
    size_t before = 0, n = 0;
    char *text, *line, *save;
    json_t *v;

    (void)state;
    capture();
    log_admission("/mutate", &r, 0.0012345);
    assert_true(written() > before);                    /* not held: out at once */
    log_hold();
    before = written();
    log_admission("/validate", &r, 2.5);
    assert_int_equal(written(), before);                /* held */
    log_flush();
    assert_true(written() > before);
    log_release();

    text = calloc(1, written() + 1);
    assert_int_equal(pread(fileno(out), text, written(), 0), (ssize_t)written());
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        v = json_loads(line, 0, NULL);
        assert_non_null(v);
        assert_string_equal(json_string_value(json_object_get(v, "uid")), r.uid);
        assert_string_equal(json_string_value(json_object_get(v, "msg")), "admission");
        assert_true(json_is_true(json_object_get(v, "allowed")));
        assert_int_equal(json_integer_value(json_object_get(v, "status")), 200);
        assert_true(json_real_value(json_object_get(v, "durationMs")) == (n ? 2500.0 : 1.234));
        assert_int_equal(strlen(json_string_value(json_object_get(v, "ts"))), 24);
        json_decref(v);
    }
    assert_int_equal(n, 2);
    free(text);
    restore();
}

/* A holding thread writes what it holds before it would pass 4 KiB. */
static void test_held_lines_are_bounded(void **state)
{
    struct review_result r = result("bounded");
    size_t held = 0, most = 0, last = 0;

    (void)state;
    capture();
    log_hold();
    for (int i = 0; i < 100; i++) {
        log_admission("/mutate", &r, 0.001);
        if (written() != last) {
            /* what went out is whole lines, at most 4 KiB of them */
            assert_true(written() - last <= 4096);
            last = written();
            held = 1;
        } else {
            held++;
        }
        most = held > most ? held : most;
    }
    assert_true(last > 0);                              /* some went out unasked */
    assert_true(most * 200 <= 4096);                    /* lines are over 200 bytes */
    log_release();
    restore();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_json_held_until_flushed),
        cmocka_unit_test(test_held_lines_are_bounded),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
