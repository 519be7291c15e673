/*
 * conditions.c - Ready and Failed from the composed status (see
 * conditions.h).
 */
#include "mutators/conditions.h"

#include <stdio.h>
#include <string.h>

#define TIME_MAX 32 /* "2006-01-02T15:04:05Z" and room */

/* What Ready True says, per kind. */
static const struct done {
    const char *kind;
    const char *reason;
    const char *message;
} dones[] = {
    { "Dataset", "DataSynced", "the data is synced" },
    { "Training", "ModelTrained", "the model is trained and exported" },
    { "ModelHub", "ModelUploaded", "the model is uploaded" },
    { "Serving", "ModelServed", "the model is served" },
};

static const struct done done_other = { NULL, "Done", "the work is done" };

static const char *get_string(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static const struct done *done_of(const char *kind)
{
    for (size_t i = 0; i < sizeof(dones) / sizeof(dones[0]); i++)
        if (kind && !strcmp(dones[i].kind, kind))
            return &dones[i];
    return &done_other;
}

/* 1 when some status.children[] entry has this phase. */
static int child_in(const json_t *status, const char *phase)
{
    const json_t *children = json_object_get(status, "children"), *c;
    size_t i;

    json_array_foreach(children, i, c) {
        const char *p = get_string(c, "phase");

        if (p && !strcmp(p, phase))
            return 1;
    }
    return 0;
}

/* The parent's existing condition of this type (borrowed), or NULL. */
static const json_t *old_condition(const json_t *parent, const char *type)
{
    const json_t *conds = json_object_get(json_object_get(parent, "status"), "conditions"), *c;
    size_t i;

    json_array_foreach(conds, i, c) {
        const char *t = get_string(c, "type");

        if (t && !strcmp(t, type))
            return c;
    }
    return NULL;
}

/* text, cut at a UTF-8 character boundary to fit the API's limit (new). */
static json_t *clipped(const char *text)
{
    size_t n = strlen(text);

    if (n <= CONDITIONS_MESSAGE_MAX)
        return json_string(text);
    n = CONDITIONS_MESSAGE_MAX;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
        n--;
    return json_stringn(text, n);
}

/* One condition (new reference). */
static json_t *condition(const json_t *parent, const char *type, int on, const char *reason,
                         const char *message, const char *now)
{
    const json_t *old = old_condition(parent, type);
    const char *was = get_string(old, "status"), *since = get_string(old, "lastTransitionTime");
    const char *status = on ? "True" : "False";
    const json_t *gen = json_object_get(json_object_get(parent, "metadata"), "generation");
    json_t *c;

    if (!was || strcmp(was, status) || !since || !*since)
        since = now;
    c = json_pack("{s:s, s:s, s:s, s:s, s:o}", "type", type, "status", status, "lastTransitionTime", since,
                  "reason", reason, "message", clipped(message));
    if (c && json_is_integer(gen))
        json_object_set_new(c, "observedGeneration", json_integer(json_integer_value(gen)));
    return c;
}

int conditions_set_at(json_t *status, const json_t *parent, int invalid, time_t now)
{
    const struct done *done = done_of(get_string(parent, "kind"));
    const char *phase = get_string(status, "phase"), *msg = get_string(status, "message");
    int ready, failed;
    const char *ready_reason, *failed_reason;
    char when[TIME_MAX];
    struct tm tm;
    json_t *conds;

    if (!json_is_object(status))
        return -1;
    phase = phase ? phase : "Pending";
    if (!gmtime_r(&now, &tm) || !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(when, sizeof(when), "%s", "1970-01-01T00:00:00Z");
    ready = !invalid && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Ready"));
    failed = invalid || !strcmp(phase, "Failed");
    if (invalid)
        ready_reason = "InvalidSpec";
    else if (ready)
        ready_reason = done->reason;
    else if (failed)
        ready_reason = "Failed";
    else if (!strcmp(phase, "Running"))
        ready_reason = "Running";
    else if (child_in(status, "Waiting"))
        ready_reason = "Waiting";
    else
        ready_reason = "Pending";
    failed_reason = !failed ? "NoFailure" : invalid ? "InvalidSpec" : "ChildFailed";
    conds = json_array();
    json_array_append_new(conds, condition(parent, "Ready", ready, ready_reason,
                                           ready         ? done->message
                                           : msg && *msg ? msg
                                                         : "the work is not done yet",
                                           when));
    json_array_append_new(conds, condition(parent, "Failed", failed, failed_reason,
                                           failed && msg && *msg ? msg
                                           : failed              ? "failed"
                                                                 : "nothing failed",
                                           when));
    json_object_set_new(status, "conditions", conds);
    return 0;
}

int conditions_set(json_t *status, const json_t *parent, int invalid)
{
    return conditions_set_at(status, parent, invalid, time(NULL));
}
