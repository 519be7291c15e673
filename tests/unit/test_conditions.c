/*
 * Unit tests of mutators/conditions.c: status.conditions in the shape of
 * k8s.io/apimachinery pkg/apis/meta/v1 types.go (Condition), derived from
 * the status the sync hook composed, with lastTransitionTime kept while a
 * condition's status does not change.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/conditions.h"

#define T0      1767225600 /* 2026-01-01T00:00:00Z */
#define T0_TEXT "2026-01-01T00:00:00Z"
#define T1      (T0 + 3600)
#define T1_TEXT "2026-01-01T01:00:00Z"

/* A parent of kind at generation gen whose status is old_status (stolen,
 * may be NULL). */
static json_t *parent(const char *kind, int gen, json_t *old_status)
{
    json_t *p = json_pack("{s:s, s:s, s:{s:s, s:i}}", "apiVersion", "paddlex.paddlepaddle.org/v1alpha1",
                          "kind", kind, "metadata", "name", "x", "generation", gen);

    if (old_status)
        json_object_set_new(p, "status", old_status);
    return p;
}

/* A composed status: phase, message (may be NULL), children phases. */
static json_t *status(const char *phase, const char *message, const char *child_phase)
{
    json_t *s = json_pack("{s:s, s:[]}", "phase", phase, "children");

    if (message)
        json_object_set_new(s, "message", json_string(message));
    if (child_phase)
        json_array_append_new(json_object_get(s, "children"),
                              json_pack("{s:s, s:s, s:s}", "kind", "Job", "name", "j", "phase", child_phase));
    return s;
}

static const json_t *cond(const json_t *st, const char *type)
{
    const json_t *c;
    size_t i;

    json_array_foreach(json_object_get(st, "conditions"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "type")), type))
            return c;
    fail_msg("no %s condition", type);
    return NULL;
}

static const char *field(const json_t *st, const char *type, const char *key)
{
    return json_string_value(json_object_get(cond(st, type), key));
}

/* Every condition has the six members of metav1.Condition, with the types
 * and value sets the CRD schema asks for. */
static void assert_shape(const json_t *st, int gen)
{
    const json_t *c;
    size_t i;

    assert_int_equal(json_array_size(json_object_get(st, "conditions")), 2);
    json_array_foreach(json_object_get(st, "conditions"), i, c) {
        const char *s = json_string_value(json_object_get(c, "status"));
        const char *r = json_string_value(json_object_get(c, "reason"));

        assert_int_equal(json_object_size(c), 6);
        assert_true(!strcmp(s, "True") || !strcmp(s, "False"));
        assert_non_null(r);
        assert_true(*r >= 'A' && *r <= 'Z');
        assert_non_null(json_string_value(json_object_get(c, "message")));
        assert_int_equal(strlen(json_string_value(json_object_get(c, "lastTransitionTime"))), 20);
        assert_int_equal(json_integer_value(json_object_get(c, "observedGeneration")), gen);
    }
}

static void test_ready_per_phase(void **state)
{
    static const struct {
        const char *kind, *phase, *child, *ready, *reason, *failed, *failed_reason;
        int invalid;
    } rows[] = {
        { "Dataset", "Ready", "Ready", "True", "DataSynced", "False", "NoFailure", 0 },
        { "Training", "Succeeded", "Succeeded", "True", "ModelTrained", "False", "NoFailure", 0 },
        { "ModelHub", "Succeeded", "Succeeded", "True", "ModelUploaded", "False", "NoFailure", 0 },
        { "Serving", "Ready", "Ready", "True", "ModelServed", "False", "NoFailure", 0 },
        { "Training", "Running", "Running", "False", "Running", "False", "NoFailure", 0 },
        { "Training", "Pending", "Waiting", "False", "Waiting", "False", "NoFailure", 0 },
        { "Serving", "Pending", "Pending", "False", "Pending", "False", "NoFailure", 0 },
        { "ModelHub", "Failed", "Failed", "False", "Failed", "True", "ChildFailed", 0 },
        /* not valid: whatever the children did, nothing new happens */
        { "Training", "Pending", NULL, "False", "InvalidSpec", "True", "InvalidSpec", 1 },
        { "Serving", "Ready", "Ready", "False", "InvalidSpec", "True", "InvalidSpec", 1 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        json_t *p = parent(rows[i].kind, 4, NULL), *st = status(rows[i].phase, "why", rows[i].child);

        assert_int_equal(conditions_set_at(st, p, rows[i].invalid, T0), 0);
        assert_shape(st, 4);
        assert_string_equal(field(st, "Ready", "status"), rows[i].ready);
        assert_string_equal(field(st, "Ready", "reason"), rows[i].reason);
        assert_string_equal(field(st, "Failed", "status"), rows[i].failed);
        assert_string_equal(field(st, "Failed", "reason"), rows[i].failed_reason);
        assert_string_equal(field(st, "Ready", "lastTransitionTime"), T0_TEXT);
        if (!strcmp(rows[i].failed, "True"))
            assert_string_equal(field(st, "Failed", "message"), "why");
        if (!strcmp(rows[i].ready, "False"))
            assert_string_equal(field(st, "Ready", "message"), "why");
        json_decref(p);
        json_decref(st);
    }
}

static void test_transition_time_is_stable(void **state)
{
    json_t *p, *st, *first;

    (void)state;
    /* first sync at T0: Running */
    p = parent("Training", 1, NULL);
    st = status("Running", NULL, "Running");
    conditions_set_at(st, p, 0, T0);
    json_decref(p);

    /* a resync at T1, nothing changed: times kept, even with a new message */
    first = st;
    p = parent("Training", 1, json_deep_copy(first));
    st = status("Running", "something else", "Running");
    conditions_set_at(st, p, 0, T1);
    assert_string_equal(field(st, "Ready", "lastTransitionTime"), T0_TEXT);
    assert_string_equal(field(st, "Failed", "lastTransitionTime"), T0_TEXT);
    json_decref(p);
    json_decref(first);

    /* at T1 it succeeds: Ready moves, Failed (still False) keeps its time */
    first = st;
    p = parent("Training", 2, json_deep_copy(first));
    st = status("Succeeded", NULL, "Succeeded");
    conditions_set_at(st, p, 0, T1);
    assert_string_equal(field(st, "Ready", "status"), "True");
    assert_string_equal(field(st, "Ready", "lastTransitionTime"), T1_TEXT);
    assert_string_equal(field(st, "Failed", "lastTransitionTime"), T0_TEXT);
    assert_shape(st, 2);
    json_decref(p);
    json_decref(first);
    json_decref(st);

    /* an old condition without a time, or a status that is not a string, gets now */
    p = parent("Training", 1,
               json_pack("{s:[{s:s, s:s}, {s:s, s:i, s:s}]}", "conditions", "type", "Ready", "status",
                         "False", "type", "Failed", "status", 0, "lastTransitionTime",
                         "2020-01-01T00:00:00Z"));
    st = status("Running", NULL, NULL);
    conditions_set_at(st, p, 0, T1);
    assert_string_equal(field(st, "Ready", "lastTransitionTime"), T1_TEXT);
    assert_string_equal(field(st, "Failed", "lastTransitionTime"), T1_TEXT);
    json_decref(p);
    json_decref(st);
}

static void test_odd_input(void **state)
{
    json_t *p = parent("Training", 1, json_string("garbage")), *st = json_object(), *arr = json_array();
    char *big = malloc(CONDITIONS_MESSAGE_MAX + 10);

    (void)state;
    /* no phase: Pending; a parent status that is not an object is ignored */
    assert_int_equal(conditions_set_at(st, p, 0, T0), 0);
    assert_string_equal(field(st, "Ready", "reason"), "Pending");
    assert_int_equal(conditions_set_at(arr, p, 0, T0), -1);
    json_decref(st);

    /* a message over the API's limit is clipped at a character boundary */
    memset(big, 'a', CONDITIONS_MESSAGE_MAX - 1);
    memcpy(big + CONDITIONS_MESSAGE_MAX - 1, "\xc3\xa9\xc3\xa9", 5);
    big[CONDITIONS_MESSAGE_MAX + 4] = '\0';
    st = status("Failed", big, "Failed");
    conditions_set_at(st, p, 0, T0);
    assert_int_equal(strlen(field(st, "Failed", "message")), CONDITIONS_MESSAGE_MAX - 1);
    free(big);
    json_decref(st);
    json_decref(arr);
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_per_phase),
        cmocka_unit_test(test_transition_time_is_stable),
        cmocka_unit_test(test_odd_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
