/*
 * fuzz_sync.c - libFuzzer target for sync_handle() (SPEC §4.6, §4.7), the
 * Metacontroller sync/finalize hook, with the built-in settings and with a
 * fixed policy.
 *
 * Invariants, beyond no crash/leak/UB:
 *   - the status is 200 or 400 (500 is out of memory: never here); 400
 *     exactly when the body is not JSON, nests deeper than
 *     REVIEW_MAX_JSON_DEPTH, or is malformed as sync.h lists it; a 400
 *     reason is one short line;
 *   - a 200 is a JSON object {status, children[, resyncAfterSeconds]
 *     [, finalized]}: status.phase one of the parent phases,
 *     status.children entries {kind, name, phase[, url]} with a child
 *     phase; children an array of objects; resyncAfterSeconds is
 *     LIFECYCLE_RESYNC_SECONDS and only while some child waits; finalized only
 *     when finalizing (true exactly when no child is observed); no child
 *     is returned while finalizing or for spec.action delete;
 *   - status.conditions is [Ready, Failed], each True or False; Failed
 *     True when status.phase is Failed, else only for a parent that does
 *     not validate, with Ready False, both reason InvalidSpec
 *     (mutators/conditions.h);
 *   - the same input gives the same bytes twice, but for
 *     lastTransitionTime, which is the clock's when no earlier condition
 *     gives it;
 *   - the customize hook (related_customize) on the same bytes answers
 *     200 with {relatedResources: [...]} or 400 with one short line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/kinds.h"
#include "mutators/lifecycle.h"
#include "mutators/policy.h"
#include "tests/fuzz/fuzz_util.h"
#include "webhook/related.h"
#include "webhook/review.h"
#include "webhook/sync.h"

static const char policy_text[] =
    "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"WebhookPolicy\","
    /* its helper images inside its own list, or it is refused at load */
    " \"defaults\": {\"downloaderImage\": \"registry.baidubce.com/paddleflow-public/curl:8.5.0\","
    "  \"uploaderImage\": \"registry.baidubce.com/paddleflow-public/mc:1\","
    "  \"visualdlImage\": \"registry.baidubce.com/paddleflow-public/visualdl:2.5.3\"},"
    " \"limits\": {\"maxGpuPerNode\": 2, \"maxPartitions\": 4},"
    " \"allow\": {\"imageRegistries\": [\"registry.baidubce.com/paddleflow-public/\"],"
    "  \"sourceUriSchemes\": [\"bos\"], \"endpointHosts\": [\"minio-service.kubeflow\"]},"
    " \"namespaces\": [{\"match\": \"kube*\", \"defaults\": {\"port\": 9000}}]}";

static struct policy *fixed_policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fixed_policy = fz_start(policy_text);
    return 0;
}

static const char *const parent_phases[] = { "Failed", "Succeeded", "Ready", "Running", "Pending", NULL };
static const char *const child_phases[] = { "Pending", "Waiting", "Skipped", "Absent", "Running",
                                            "Succeeded", "Failed", "Ready", NULL };

static int one_of(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static int children_ok(const json_t *children)
{
    const char *key, *name;
    json_t *group, *obj;

    if (!json_is_object(children))
        return 0;
    json_object_foreach((json_t *)children, key, group) {
        if (!json_is_object(group))
            return 0;
        json_object_foreach(group, name, obj)
            if (!json_is_object(obj))
                return 0;
    }
    return 1;
}

/* The status sync_handle must give, from sync.h's list of what is
 * malformed, independently of sync.c. req is the parse (or NULL). */
static int expected_status(const json_t *req)
{
    const json_t *parent = json_object_get(req, "parent"), *children = json_object_get(req, "children");
    const json_t *fin = json_object_get(req, "finalizing");

    if (!req || fz_depth(req) > REVIEW_MAX_JSON_DEPTH || !json_is_object(req) || !json_is_object(parent) ||
        !kinds_of_object(parent))
        return 400;
    if (children && !json_is_null(children) && !children_ok(children))
        return 400;
    if (fin && !json_is_null(fin) && !json_is_boolean(fin))
        return 400;
    return 200;
}

static size_t count_observed(const json_t *children)
{
    const char *key;
    json_t *group;
    size_t n = 0;

    if (!json_is_object(children))
        return 0;
    json_object_foreach((json_t *)children, key, group)
        n += json_object_size(group);
    return n;
}

static void check_answer(const json_t *req, const char *out, size_t len)
{
    json_t *ans, *status, *entries, *e, *children, *v;
    const char *key, *action;
    json_error_t jerr;
    int finalizing = json_is_true(json_object_get(req, "finalizing")), waiting = 0;
    size_t i;

    ans = json_loadb(out, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FZ_CHECK(json_is_object(ans), "200 answer is not a JSON object: %s", jerr.text);
    json_object_foreach(ans, key, v)
        FZ_CHECK(one_of(key, (const char *const[]){ "status", "children", "resyncAfterSeconds", "finalized",
                                                    NULL }),
                 "unexpected answer member %s", key);
    status = json_object_get(ans, "status");
    FZ_CHECK(json_is_object(status), "status is not an object");
    FZ_CHECK(one_of(json_string_value(json_object_get(status, "phase")), parent_phases),
             "status.phase is not a parent phase");
    v = json_object_get(status, "conditions");
    FZ_CHECK(json_array_size(v) == 2 &&
                 !strcmp(json_string_value(json_object_get(json_array_get(v, 0), "type")) ?: "", "Ready") &&
                 !strcmp(json_string_value(json_object_get(json_array_get(v, 1), "type")) ?: "", "Failed"),
             "status.conditions is not [Ready, Failed]");
    {
        const json_t *ready = json_array_get(v, 0), *failed = json_array_get(v, 1);
        const char *fs = json_string_value(json_object_get(failed, "status")) ?: "";
        int phase_failed = !strcmp(json_string_value(json_object_get(status, "phase")), "Failed");

        FZ_CHECK(!strcmp(fs, "True") || !strcmp(fs, "False"), "condition Failed is neither True nor False");
        FZ_CHECK(!phase_failed || !strcmp(fs, "True"), "phase Failed but condition Failed is not True");
        /* otherwise Failed True only for a parent that does not validate */
        FZ_CHECK(phase_failed || !strcmp(fs, "False") ||
                     (!strcmp(json_string_value(json_object_get(failed, "reason")) ?: "", "InvalidSpec") &&
                      !strcmp(json_string_value(json_object_get(ready, "reason")) ?: "", "InvalidSpec") &&
                      !strcmp(json_string_value(json_object_get(ready, "status")) ?: "", "False")),
                 "condition Failed True without a failed phase or an invalid spec");
    }
    entries = json_object_get(status, "children");
    FZ_CHECK(json_is_array(entries), "status.children is not an array");
    json_array_foreach(entries, i, e) {
        const char *phase = json_string_value(json_object_get(e, "phase"));

        FZ_CHECK(json_is_string(json_object_get(e, "kind")) && json_is_string(json_object_get(e, "name")) &&
                     one_of(phase, child_phases),
                 "status.children[%zu] is not {kind, name, phase}", i);
        waiting |= !strcmp(phase, "Waiting");
    }
    children = json_object_get(ans, "children");
    FZ_CHECK(json_is_array(children), "children is not an array");
    json_array_foreach(children, i, e)
        FZ_CHECK(json_is_object(e), "children[%zu] is not an object", i);
    action = json_string_value(json_object_get(json_object_get(json_object_get(req, "parent"), "spec"), "action"));
    if (finalizing || (action && !strcmp(action, "delete")))
        FZ_CHECK(json_array_size(children) == 0, "children returned while finalizing or for action delete");
    v = json_object_get(ans, "resyncAfterSeconds");
    FZ_CHECK(!v == !waiting, "resyncAfterSeconds %s while %s child waits", v ? "set" : "unset",
             waiting ? "a" : "no");
    FZ_CHECK(!v || json_integer_value(v) == LIFECYCLE_RESYNC_SECONDS, "resyncAfterSeconds is not %d",
             LIFECYCLE_RESYNC_SECONDS);
    v = json_object_get(ans, "finalized");
    FZ_CHECK(!v == !finalizing, "finalized %s while finalizing is %d", v ? "set" : "unset", finalizing);
    FZ_CHECK(!v || json_is_true(v) == (count_observed(json_object_get(req, "children")) == 0),
             "finalized disagrees with the observed children");
    json_decref(ans);
}

/* 1 when two answers are the same but for the conditions'
 * lastTransitionTime (the clock may have ticked between them). */
static int same_but_time(const char *a, size_t alen, const char *b, size_t blen)
{
    json_t *x = json_loadb(a, alen, JSON_ALLOW_NUL, NULL), *y = json_loadb(b, blen, JSON_ALLOW_NUL, NULL), *c;
    size_t i;
    int same;

    for (int k = 0; k < 2; k++)
        json_array_foreach(json_object_get(json_object_get(k ? y : x, "status"), "conditions"), i, c)
            json_object_del(c, "lastTransitionTime");
    same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

/* The customize hook on the same bytes: 200 with relatedResources, or a
 * one-line 400. */
static void check_customize(const char *body, size_t size)
{
    char *out = NULL;
    size_t len = 0;
    int status = related_customize(body, size, &out, &len);
    json_t *ans;

    FZ_CHECK(status != 500 && out && out[len] == '\0' && strlen(out) == len, "customize: no answer");
    if (status == 400) {
        FZ_CHECK(len > 0 && len < 300 && out[len - 1] == '\n', "customize: a 400 reason must be one short line");
    } else {
        FZ_CHECK(status == 200, "customize answered %d", status);
        ans = json_loadb(out, len, JSON_REJECT_DUPLICATES, NULL);
        FZ_CHECK(json_object_size(ans) == 1 && json_is_array(json_object_get(ans, "relatedResources")),
                 "customize: not {relatedResources: [...]}: %.200s", out);
        json_decref(ans);
    }
    free(out);
}

/* req_nul is the parse with "\u0000" allowed in strings, req without:
 * sync.h calls a body malformed when it is "not JSON", and whether a NUL
 * escape is JSON is the one point where jansson's flags and jsonparse
 * (which takes it, as review.c does) differ, so either answer is right
 * for such a body; the rest must hold whichever it is. */
static void check_one(const char *body, size_t size, const json_t *req, const json_t *req_nul,
                      const struct policy *p)
{
    char *out = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    int status = sync_handle(body, size, p, NULL, &out, &len), want = expected_status(req);

    FZ_CHECK(status != 500 && out, "sync_handle ran out of memory");
    if (status != want && !req && req_nul && status == expected_status(req_nul))
        req = req_nul;
    else
        FZ_CHECK(status == want, "status %d, expected %d: %.200s", status, want, out);
    FZ_CHECK(out[len] == '\0' && strlen(out) == len, "answer length or terminator wrong");
    if (status == 400)
        FZ_CHECK(len > 0 && len < 300 && out[len - 1] == '\n', "a 400 reason must be one short line");
    else
        check_answer(req, out, len);
    FZ_CHECK(sync_handle(body, size, p, NULL, &again, &len2) == status &&
                 ((len2 == len && !memcmp(out, again, len)) || (status == 200 && same_but_time(out, len, again, len2))),
             "the same input answered twice gives different answers");
    free(again);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    json_t *req = NULL, *req_nul = NULL;

    /* jansson's reader drops raw NUL bytes ("[2\0]" is [2] to it); JSON
     * has no place for them, so such a body is malformed: 400 */
    if (fz_text_depth_ok(body, size, 4 * REVIEW_MAX_JSON_DEPTH) && !memchr(body, '\0', size)) {
        req = json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL);
        req_nul = req ? json_incref(req) : json_loadb(body, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    }
    check_one(body, size, req, req_nul, NULL);
    check_one(body, size, req, req_nul, fixed_policy);
    check_customize(body, size);
    json_decref(req_nul);
    json_decref(req);
    return 0;
}
