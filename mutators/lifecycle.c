/*
 * lifecycle.c - desired children and status of one parent (see lifecycle.h).
 *
 * One pass over the rendered children, in creation order, gives each a
 * state: its phase read from the observed object when Metacontroller saw
 * it, else why it is (or is not) in the answer. The answer's children list
 * and its status both derive from those states, so they never disagree.
 *
 * Choices the spec leaves open (see also lifecycle.h):
 * - An observed child is always kept in the answer (unless spec.action is
 *   delete or the parent is finalizing), whatever its "after" target's
 *   state: Metacontroller deletes every owned child the answer leaves out,
 *   so withholding a running export Job would kill it. Ordering only gates
 *   creation.
 * - action create returns an existing child unchanged: the configuration
 *   Metacontroller last applied to it (its last-applied annotation), which
 *   makes Metacontroller's 3-way merge a no-op. Echoing the observed object
 *   would not be: the annotation would change, and under updateStrategy
 *   Recreate (our Jobs and PaddleJob) the child would be deleted and
 *   created again. Without the annotation (server-side apply) the observed
 *   object is returned minus what the apiserver writes (status, uid,
 *   resourceVersion, managedFields, ...). action create and patch also keep
 *   observed children the spec no longer renders (neither action deletes);
 *   only apply prunes them.
 * - The children are what was admitted (SPEC §9.1). A parent whose
 *   spec.seal verifies gets its spec.generated as it is: rendered and
 *   sealed by the mutating webhook under the policy of that moment, so a
 *   later policy edit or an upgrade of this binary changes no child (a
 *   changed desired form would make Metacontroller recreate or update
 *   it). Any other parent (created where the webhook does not run, or
 *   while it was down, or before seals existed) is judged afresh, in full,
 *   under the rules and the policy in force, with no exemption (no
 *   requester is known here), and gets the children they render.
 * - A parent that is invalid now keeps every child Metacontroller
 *   observes, as it is, and gets no new one; status.message says why.
 *   Returning no children would make Metacontroller delete its running
 *   PaddleJob or InferenceService.
 */
#include "mutators/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/conditions.h"
#include "mutators/fielderr.h"
#include "mutators/json/jsonparse.h"
#include "mutators/json/strbuf.h"
#include "mutators/kinds.h"
#include "mutators/order.h"
#include "mutators/policy.h"

#define AFTER_ANNOTATION KINDS_GROUP "/after"
#define GROUP_KEY_MAX 320           /* "<Kind>.<apiVersion>" of a child we render */

enum phase {
    PH_PENDING, PH_WAITING, PH_SKIPPED, PH_ABSENT, PH_RUNNING, PH_SUCCEEDED, PH_FAILED, PH_READY,
};

static const char *const phase_names[] = {
    [PH_PENDING] = "Pending", [PH_WAITING] = "Waiting", [PH_SKIPPED] = "Skipped",
    [PH_ABSENT] = "Absent",   [PH_RUNNING] = "Running", [PH_SUCCEEDED] = "Succeeded",
    [PH_FAILED] = "Failed",   [PH_READY] = "Ready",
};

enum action { ACT_APPLY, ACT_CREATE, ACT_PATCH, ACT_DELETE };

static const char *const action_names[] = { "apply", "create", "patch", "delete", NULL };

/* A status.phase word and the phase it means; a NULL word ends the table
 * and gives the phase of every other word (and of none). */
struct word {
    const char *word;
    enum phase phase;
};

/* paddle-operator writes Completed (older releases Succeed); the spec also
 * names Succeeded. Aborted and Terminated end without a model: the chain
 * stops as for Failed. Starting means pods are being created. */
static const struct word paddlejob_words[] = {
    { "Succeeded", PH_SUCCEEDED }, { "Succeed", PH_SUCCEEDED },  { "Completed", PH_SUCCEEDED },
    { "Failed", PH_FAILED },       { "Aborted", PH_FAILED },     { "Terminated", PH_FAILED },
    { "Running", PH_RUNNING },     { "Restarting", PH_RUNNING }, { "Scaling", PH_RUNNING },
    { "Completing", PH_RUNNING },  { "Aborting", PH_RUNNING },   { "Terminating", PH_RUNNING },
    { NULL, PH_PENDING },
};

/* paddle-operator's SampleSetPhase (sampleset branch,
 * controllers/extensions/common/constants.go; the order of
 * SampleSetController.reconcilePhase): "" (no PV yet), Bound, Mount
 * (runtime up), Syncing, PartialReady (mounted, not every partition
 * cached yet: reconcilePartialReady moves it on), Ready; SyncFailed stays
 * until the spec changes (reconcileSyncFailed), so it is a failure. */
static const struct word sampleset_words[] = {
    { "Ready", PH_READY },          { "SyncFailed", PH_FAILED }, { "Bound", PH_RUNNING },
    { "Mount", PH_RUNNING },        { "Syncing", PH_RUNNING },   { "PartialReady", PH_RUNNING },
    { NULL, PH_PENDING },
};

/* PersistentVolumeClaim status.phase: Pending, Bound, Lost. */
static const struct word claim_words[] = {
    { "Bound", PH_READY }, { "Lost", PH_FAILED }, { NULL, PH_PENDING },
};

/* KServe's modelStatus.transitionStatus when the model cannot be served. */
static const struct word isvc_transition_words[] = {
    { "BlockedByFailedLoad", PH_FAILED }, { "InvalidSpec", PH_FAILED }, { NULL, PH_PENDING },
};

/* How to read one child kind's progress from its observed object. */
struct child_kind {
    const char *kind;
    const char *api_version;    /* as the CompositeController's childResources name it */
    int completes;              /* runs to completion: the parent succeeds when all such did */
    const struct word *words;   /* read status.phase through this table, or */
    enum phase (*observe)(const json_t *obj);   /* ask this */
};

static enum phase observe_job(const json_t *obj);
static enum phase observe_kubeflow_job(const json_t *obj);
static enum phase observe_isvc(const json_t *obj);
static enum phase observe_deployment(const json_t *obj);
static enum phase observe_exists(const json_t *obj);

static const struct child_kind child_kinds[] = {
    { "PaddleJob", "batch.paddlepaddle.org/v1", 1, paddlejob_words, NULL },
    { "PaddleJob", "kubeflow.org/v1", 1, NULL, observe_kubeflow_job },
    { "PersistentVolumeClaim", "v1", 0, claim_words, NULL },
    { "Job", "batch/v1", 1, NULL, observe_job },
    { "InferenceService", "serving.kserve.io/v1beta1", 0, NULL, observe_isvc },
    { "SampleSet", "batch.paddlepaddle.org/v1alpha1", 0, sampleset_words, NULL },
    { "Deployment", "apps/v1", 0, NULL, observe_deployment },
    { "Service", "v1", 0, NULL, observe_exists },
};

/* A kind not in the table: it is there once observed. */
static const struct child_kind other_kind = { NULL, NULL, 0, NULL, observe_exists };

/* What one child is in this sync. */
struct state {
    const char *kind, *name;    /* borrowed from rendered or observed; never NULL */
    const json_t *rendered;     /* borrowed from the rendered array, or NULL */
    const json_t *observed;     /* borrowed from the request, or NULL */
    const struct child_kind *ck;
    const char *after;          /* "Kind/name" it waits for (borrowed), or NULL */
    enum phase phase;
};

static const json_t *get(const json_t *obj, const char *key)
{
    return json_object_get(obj, key);
}

static const char *get_string(const json_t *obj, const char *key)
{
    return json_string_value(get(obj, key));
}

static enum phase by_word(const char *word, const struct word *words)
{
    for (; words->word; words++)
        if (word && !strcmp(words->word, word))
            break;
    return words->phase;
}

/* 1 when obj.status.conditions has {type, status: "True"}. */
static int condition_true(const json_t *obj, const char *type)
{
    const json_t *conds = get(get(obj, "status"), "conditions"), *c;
    size_t i;

    json_array_foreach(conds, i, c) {
        const char *t = get_string(c, "type"), *s = get_string(c, "status");

        if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
            return 1;
    }
    return 0;
}

static enum phase observe_job(const json_t *obj)
{
    if (condition_true(obj, "Complete"))
        return PH_SUCCEEDED;
    if (condition_true(obj, "Failed"))
        return PH_FAILED;
    if (json_integer_value(get(get(obj, "status"), "active")) > 0)
        return PH_RUNNING;
    return PH_PENDING;
}

/* The Training Operator's JobStatus conditions (pkg/apis/kubeflow.org/v1
 * common_types.go: Created, Running, Restarting, Succeeded, Suspended,
 * Failed); a finished job keeps Running with status False. */
static enum phase observe_kubeflow_job(const json_t *obj)
{
    if (condition_true(obj, "Succeeded"))
        return PH_SUCCEEDED;
    if (condition_true(obj, "Failed"))
        return PH_FAILED;
    if (condition_true(obj, "Running") || condition_true(obj, "Restarting"))
        return PH_RUNNING;
    return PH_PENDING;
}

static enum phase observe_isvc(const json_t *obj)
{
    if (condition_true(obj, "Ready"))
        return PH_READY;
    return by_word(get_string(get(get(obj, "status"), "modelStatus"), "transitionStatus"),
                   isvc_transition_words);
}

static enum phase observe_deployment(const json_t *obj)
{
    return json_integer_value(get(get(obj, "status"), "availableReplicas")) > 0 ? PH_READY : PH_PENDING;
}

static enum phase observe_exists(const json_t *obj)
{
    (void)obj;
    return PH_READY;
}

static enum phase observe(const struct child_kind *ck, const json_t *obj)
{
    if (ck->words)
        return by_word(get_string(get(obj, "status"), "phase"), ck->words);
    return ck->observe(obj);
}

/* The table entry of kind (len bytes) at api_version (NULL: any, the
 * first of that kind), or other_kind. Two operators' PaddleJobs differ by
 * their apiVersion only. */
static const struct child_kind *child_kind_of(const char *kind, size_t len, const char *api_version)
{
    for (size_t i = 0; i < sizeof(child_kinds) / sizeof(child_kinds[0]); i++)
        if (strlen(child_kinds[i].kind) == len && !strncmp(child_kinds[i].kind, kind, len) &&
            (!api_version || !strcmp(child_kinds[i].api_version, api_version)))
            return &child_kinds[i];
    return &other_kind;
}

/* request.children["<kind>.<apiVersion>"][name] (borrowed), or NULL. */
static const json_t *observed_child(const json_t *observed, const char *api_version, const char *kind,
                                    const char *name)
{
    char key[GROUP_KEY_MAX];
    int n;

    if (!api_version || !kind || !name)
        return NULL;
    n = snprintf(key, sizeof(key), "%s.%s", kind, api_version);
    if (n < 0 || (size_t)n >= sizeof(key))
        return NULL;
    return get(get(observed, key), name);
}

/* The phase of the child that "Kind/name" names: a child planned before
 * it (expand lists targets first), else an observed one, else Waiting. */
static enum phase target_phase(const struct state *st, size_t i, const json_t *observed)
{
    const char *after = st[i].after, *slash = strchr(after, '/');
    const struct child_kind *ck;
    const json_t *obj;
    size_t klen;

    if (!slash)
        return PH_WAITING;
    klen = (size_t)(slash - after);
    for (size_t j = 0; j < i; j++)
        if (strlen(st[j].kind) == klen && !strncmp(st[j].kind, after, klen) &&
            !strcmp(st[j].name, slash + 1))
            return st[j].phase;
    /* every apiVersion of that kind: the target's operator is not named */
    for (size_t k = 0; k < sizeof(child_kinds) / sizeof(child_kinds[0]); k++) {
        ck = &child_kinds[k];
        if (strlen(ck->kind) != klen || strncmp(ck->kind, after, klen) != 0)
            continue;
        obj = observed_child(observed, ck->api_version, ck->kind, slash + 1);
        if (obj)
            return observe(ck, obj);
    }
    return PH_WAITING;
}

/* Plans rendered child i: observed, or to be created now, or withheld. */
static void plan_rendered(struct state *st, size_t i, const json_t *child, const json_t *observed,
                          int creating, const struct order_gate *gate)
{
    struct state *s = &st[i];
    const json_t *md = get(child, "metadata");
    enum phase t;

    s->rendered = child;
    s->kind = get_string(child, "kind") ?: "";
    s->name = get_string(md, "name") ?: "";
    s->ck = child_kind_of(s->kind, strlen(s->kind), get_string(child, "apiVersion") ?: "");
    s->after = get_string(get(md, "annotations"), AFTER_ANNOTATION);
    s->observed = observed_child(observed, get_string(child, "apiVersion"), s->kind, s->name);
    if (s->observed) {
        s->phase = observe(s->ck, s->observed);
    } else if (!creating) {
        s->phase = PH_ABSENT;
    } else if (order_withholds(gate, s->kind, s->name)) {
        s->after = gate->target;    /* mutators/order.h: waits for a related object */
        s->phase = PH_WAITING;
    } else if (!s->after) {
        s->phase = PH_PENDING;
    } else {
        t = target_phase(st, i, observed);
        s->phase = t == PH_SUCCEEDED || t == PH_READY ? PH_PENDING
                   : t == PH_FAILED || t == PH_SKIPPED ? PH_SKIPPED
                                                       : PH_WAITING;
    }
}

/* Appends a state for every observed child no rendered child claimed;
 * returns the new count. */
static size_t plan_unclaimed(struct state *st, size_t n, const json_t *observed)
{
    const char *key, *name;
    json_t *group, *obj;
    size_t m = n, j;

    json_object_foreach((json_t *)observed, key, group) {
        json_object_foreach(group, name, obj) {
            for (j = 0; j < n && st[j].observed != obj; j++)
                ;
            if (j < n)
                continue;
            st[m].kind = get_string(obj, "kind") ?: "";
            st[m].name = get_string(get(obj, "metadata"), "name") ?: name;
            st[m].observed = obj;
            st[m].ck = child_kind_of(st[m].kind, strlen(st[m].kind), get_string(obj, "apiVersion") ?: "");
            st[m].phase = observe(st[m].ck, obj);
            m++;
        }
    }
    return m;
}

/* A copy of an observed child without what the apiserver and Metacontroller
 * write (new reference). */
static json_t *as_observed(const json_t *obj)
{
    static const char *const written[] = {
        "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds", "selfLink", "managedFields",
    };
    json_t *copy = json_deep_copy(obj), *md, *ann;

    json_object_del(copy, "status");
    md = json_object_get(copy, "metadata");
    for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
        json_object_del(md, written[i]);
    ann = json_object_get(md, "annotations");
    json_object_del(ann, LIFECYCLE_LAST_APPLIED);
    if (json_is_object(ann) && json_object_size(ann) == 0)
        json_object_del(md, "annotations");
    return copy;
}

static int same_string(const json_t *a, const json_t *b)
{
    return json_is_string(a) && json_equal((json_t *)a, (json_t *)b);
}

/* What Metacontroller last applied to an observed child (new reference),
 * when its annotation holds that configuration and it names the same
 * object; else NULL. The annotation's value is its JSON text (see
 * LIFECYCLE_LAST_APPLIED): a string literal, whose text is the JSON. */
static json_t *last_applied(const json_t *obj)
{
    const json_t *raw = get(get(get(obj, "metadata"), "annotations"), LIFECYCLE_LAST_APPLIED);
    struct jsonparse_error err;
    json_t *literal, *last = NULL;

    if (!json_is_string(raw))
        return NULL;
    literal = jsonparse(json_string_value(raw), json_string_length(raw), 1, NULL, &err);
    if (json_is_string(literal))
        last = jsonparse(json_string_value(literal), json_string_length(literal), LIFECYCLE_MAX_DEPTH, NULL,
                         &err);
    json_decref(literal);
    if (same_string(get(last, "apiVersion"), get(obj, "apiVersion")) &&
        same_string(get(last, "kind"), get(obj, "kind")) &&
        same_string(get(get(last, "metadata"), "name"), get(get(obj, "metadata"), "name")))
        return last;
    json_decref(last);
    return NULL;
}

/* The child as the answer lists it into *form (new reference), or NULL to
 * leave it out (Metacontroller then deletes it when it exists). An
 * existing child that is not to be updated goes back unchanged: as last
 * applied, else as observed, which needs it whole. Returns 0, or
 * LIFECYCLE_WHOLE when skimmed and it needs the observed child whole. */
static int desired_form(const struct state *s, enum action act, int finalizing, int skimmed, json_t **form)
{
    *form = NULL;
    if (finalizing || act == ACT_DELETE)
        return 0;
    if (s->observed && (act == ACT_CREATE || !s->rendered)) {
        *form = last_applied(s->observed);
        if (*form)
            return 0;
        if (skimmed)
            return LIFECYCLE_WHOLE;
        *form = as_observed(s->observed);
    } else if (s->observed || s->phase == PH_PENDING) {
        *form = json_incref((json_t *)s->rendered);
    }
    return 0;
}

/* Failed when any child failed; Succeeded when every run-to-completion
 * child succeeded; Ready when there is none and every child is Ready;
 * Running once any child runs or is done; else Pending. */
static enum phase parent_phase(const struct state *st, size_t n)
{
    size_t completes = 0, succeeded = 0, ready = 0, started = 0;

    for (size_t i = 0; i < n; i++) {
        if (st[i].phase == PH_FAILED)
            return PH_FAILED;
        completes += (size_t)st[i].ck->completes;
        succeeded += st[i].ck->completes && st[i].phase == PH_SUCCEEDED;
        ready += st[i].phase == PH_READY;
        started += st[i].phase == PH_RUNNING || st[i].phase == PH_SUCCEEDED || st[i].phase == PH_READY;
    }
    if (completes > 0 && succeeded == completes)
        return PH_SUCCEEDED;
    if (completes == 0 && n > 0 && ready == n)
        return PH_READY;
    return started ? PH_RUNNING : PH_PENDING;
}

/* Starts one more clause of status.message. */
static void next_note(struct strbuf *msg)
{
    if (msg->len)
        strbuf_addstr(msg, "; ");
}

/* status.message: what failed, what waits, and what the action withholds. */
static void explain(struct strbuf *msg, const struct state *st, size_t n, enum action act,
                    int finalizing)
{
    int absent = 0;

    for (size_t i = 0; i < n; i++) {
        const struct state *s = &st[i];

        if (s->phase == PH_FAILED) {
            next_note(msg);
            strbuf_addf(msg, "%s/%s failed", s->kind, s->name);
        } else if (s->phase == PH_WAITING) {
            next_note(msg);
            strbuf_addf(msg, "%s/%s waits for %s", s->kind, s->name, s->after);
        } else if (s->phase == PH_SKIPPED) {
            next_note(msg);
            strbuf_addf(msg, "%s/%s is not created: %s did not succeed", s->kind, s->name, s->after);
        }
        absent |= s->phase == PH_ABSENT;
    }
    if (finalizing || act == ACT_DELETE || absent)
        next_note(msg);
    if (finalizing)
        strbuf_addstr(msg, "finalizing: children are removed");
    else if (act == ACT_DELETE)
        strbuf_addstr(msg, "spec.action is delete: children are removed");
    else if (absent)
        strbuf_addstr(msg, "spec.action is patch: absent children are not created");
}

/* status with phase and observedGeneration (new reference). */
static json_t *status_new(const json_t *parent, enum phase phase)
{
    json_t *status = json_pack("{s:s}", "phase", phase_names[phase]);
    const json_t *gen = get(get(parent, "metadata"), "generation");

    if (json_is_integer(gen))
        json_object_set_new(status, "observedGeneration", json_integer(json_integer_value(gen)));
    return status;
}

static json_t *status_of(const json_t *parent, const struct state *st, size_t n, enum action act,
                         int finalizing, const char *note)
{
    /* an invalid parent without children has failed */
    json_t *status = status_new(parent, note && n == 0 ? PH_FAILED : parent_phase(st, n));
    json_t *entries = json_array(), *e;
    struct strbuf msg = STRBUF_INIT;
    const char *url;

    if (note)
        strbuf_addstr(&msg, note);
    for (size_t i = 0; i < n; i++) {
        e = json_pack("{s:s, s:s, s:s}", "kind", st[i].kind, "name", st[i].name, "phase",
                      phase_names[st[i].phase]);
        url = get_string(get(st[i].observed, "status"), "url");
        if (url) {
            json_object_set_new(e, "url", json_string(url));
            if (!json_object_get(status, "url"))
                json_object_set_new(status, "url", json_string(url));
        }
        json_array_append_new(entries, e);
    }
    explain(&msg, st, n, act, finalizing);
    if (msg.len)
        json_object_set_new(status, "message", json_string(msg.buf));
    json_object_set_new(status, "children", entries);
    strbuf_release(&msg);
    return status;
}

static enum action action_of(const json_t *parent)
{
    const char *a = get_string(get(parent, "spec"), "action");

    for (int i = 0; a && action_names[i]; i++)
        if (!strcmp(action_names[i], a))
            return (enum action)i;
    return ACT_APPLY;   /* absent: the default; anything else made the parent invalid */
}

static size_t count_observed(const json_t *observed)
{
    const char *key;
    json_t *group;
    size_t n = 0;

    json_object_foreach((json_t *)observed, key, group)
        n += json_object_size(group);
    return n;
}

/* The answer for children rendered (borrowed) under act into *answer (new
 * reference); note, when not NULL, opens status.message. Returns 0, -1
 * when memory ran out, or LIFECYCLE_WHOLE (see lifecycle_answer()). */
static int children_answer(const struct lifecycle_sync *in, const json_t *rendered, enum action act,
                           const char *note, const struct order_gate *gate, json_t **answer)
{
    const json_t *observed = in->children;
    int finalizing = in->finalizing, creating = !finalizing && (act == ACT_APPLY || act == ACT_CREATE);
    size_t n = json_array_size(rendered), total;
    struct state *st = calloc(n + count_observed(observed) + 1, sizeof(*st));
    json_t *desired = NULL, *child;
    int waiting = 0, rc = -1;

    *answer = NULL;
    if (!st)
        goto out;
    for (size_t i = 0; i < n; i++)
        plan_rendered(st, i, json_array_get(rendered, i), observed, creating, gate);
    total = !finalizing && (act == ACT_CREATE || act == ACT_PATCH) ? plan_unclaimed(st, n, observed) : n;
    desired = json_array();
    for (size_t i = 0; i < total; i++) {
        rc = desired_form(&st[i], act, finalizing, in->skimmed, &child);
        if (rc)
            goto out;
        if (child)
            json_array_append_new(desired, child);
        waiting |= st[i].phase == PH_WAITING;
    }
    *answer = json_pack("{s:o, s:O}", "status", status_of(in->parent, st, total, act, finalizing, note),
                        "children", desired);
    if (*answer && waiting)
        json_object_set_new(*answer, "resyncAfterSeconds", json_integer(LIFECYCLE_RESYNC_SECONDS));
    rc = *answer ? 0 : -1;
out:
    json_decref(desired);
    free(st);
    return rc;
}

/* Why a parent that does not validate gets nothing new: a new string
 * "<Kind> "<name>" is invalid: [...]: ..." (free()). */
static char *invalid_note(const struct kind *k, const json_t *parent, const struct fielderr_list *errs)
{
    struct strbuf msg = STRBUF_INIT;
    const char *name = kinds_name(parent);

    strbuf_addf(&msg, "%s \"%s\" is invalid: ", k->name, name ? name : "");
    fielderr_join(&msg, errs);
    strbuf_addstr(&msg, ": existing children are kept as they are, none is created or updated");
    return strbuf_detach(&msg);
}

/* 1 when parent's spec.seal verifies (over its spec.generated as sent,
 * in->generated_sealed, or over the tree) and its spec names its own
 * namespace (the seal covers the spec, not metadata). */
static int admitted(const struct lifecycle_sync *in, const struct context *ctx)
{
    const char *ns = get_string(get(in->parent, "metadata"), "namespace");
    const char *sns = get_string(get(in->parent, "spec"), "namespace");

    return ns && sns && !strcmp(ns, sns) && (in->generated_sealed || kinds_sealed(in->kind, in->parent, ctx));
}

int lifecycle_answer(const struct lifecycle_sync *in, const struct policy *p, const struct sealer *sealer,
                     json_t **answer)
{
    const struct kind *k = in->kind;
    const json_t *parent = in->parent;
    struct order_gate gate;
    struct context ctx = { 0 };
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *warnings = json_array(), *rendered, *none;
    char *note;
    int rc;

    ctx.namespace = get_string(get(parent, "metadata"), "namespace");
    ctx.sealer = sealer;
    policy_apply(p, &ctx);
    ctx.exempt = 0;     /* judged afresh: no requester to exempt */
    if (admitted(in, &ctx))
        rendered = json_incref((json_t *)get(get(parent, "spec"), "generated"));
    else
        rendered = kinds_render(k, parent, &ctx, &errs, warnings);
    if (rendered) {
        order_gate(k->name, parent, in->related, &gate);
        rc = children_answer(in, rendered, action_of(parent), NULL, &gate, answer);
    } else {
        /* keep what exists, as patch keeps it, and create nothing; but
         * spec.action delete, which only ever removes, still removes */
        none = json_array();
        note = invalid_note(k, parent, &errs);
        rc = children_answer(in, none, action_of(parent) == ACT_DELETE ? ACT_DELETE : ACT_PATCH, note, NULL,
                             answer);
        free(note);
        json_decref(none);
    }
    if (rc == 0)
        conditions_set(json_object_get(*answer, "status"), parent, !rendered);
    if (rc == 0 && in->finalizing)
        json_object_set_new(*answer, "finalized", json_boolean(count_observed(in->children) == 0));
    json_decref(rendered);
    json_decref(warnings);
    fielderr_release(&errs);
    return rc;
}
