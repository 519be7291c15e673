/*
 * order.c - order across the kinds: the relation and the gate it feeds
 * (see order.h).
 *
 * The relation is a table: per parent kind, the related kind, its
 * resource, the spec field that names it (or none: every object of the
 * namespace, matched by match()), and the child that waits.
 */
#include "mutators/order.h"

#include <stdio.h>
#include <string.h>

#include "mutators/kinds.h"

#define DEFAULT_MODEL_VERSION "latest"

/* 1 when candidate (a related object, borrowed) is the one parent needs. */
typedef int match_fn(const json_t *parent, const json_t *candidate);

struct relation {
    const char *parent_kind;
    const char *kind;                          /* the related object's kind */
    const char *resource;                      /* its plural, for the rule */
    const char *(*name)(const json_t *parent); /* the one name to ask for, or NULL: all */
    match_fn *match;                           /* then which of them count */
    const char *child_kind;                    /* the child that waits */
    const char *child_suffix;                  /* its name: the parent's name and this */
};

static const json_t *get(const json_t *obj, const char *key)
{
    return json_object_get(obj, key);
}

static const char *get_string(const json_t *obj, const char *key)
{
    return json_string_value(get(obj, key));
}

static const char *spec_string(const json_t *obj, const char *key)
{
    const char *s = get_string(get(obj, "spec"), key);

    return s && *s ? s : NULL;
}

/* spec.modelName, defaulted as admission does (kinds_default_model_name). */
static const char *model_name(const json_t *obj)
{
    return spec_string(obj, "modelName") ?: get_string(get(obj, "metadata"), "name");
}

static const char *model_version(const json_t *obj)
{
    return spec_string(obj, "modelVersion") ?: DEFAULT_MODEL_VERSION;
}

static const char *dataset_name(const json_t *parent)
{
    return spec_string(parent, "dataset");
}

/* 1 when a and b are equal, or either is absent (nothing to tell them apart). */
static int same_or_absent(const char *a, const char *b)
{
    return !a || !b || !strcmp(a, b);
}

static int match_named(const json_t *parent, const json_t *candidate)
{
    (void)parent, (void)candidate;
    return 1;
}

/* The Training writes the archive to its own claim: the ModelHub reads
 * its claim. */
static int match_producer(const json_t *parent, const json_t *training)
{
    return same_or_absent(spec_string(parent, "pvcName"), spec_string(training, "pvcName"));
}

/* The ModelHub that uploads the object the Serving's STORAGE_URI names. */
static int match_upload(const json_t *serving, const json_t *modelhub)
{
    const char *a = model_name(serving), *b = model_name(modelhub);

    return a && b && !strcmp(a, b) && !strcmp(model_version(serving), model_version(modelhub)) &&
           same_or_absent(spec_string(serving, "endpoint"), spec_string(modelhub, "endpoint"));
}

static const struct relation relations[] = {
    { "Training", "Dataset", "datasets", dataset_name, match_named, "PaddleJob", "" },
    { "ModelHub", "Training", "trainings", model_name, match_producer, "Job", "-upload" },
    { "Serving", "ModelHub", "modelhubs", NULL, match_upload, "InferenceService", "" },
};

static const struct relation *relation_of(const char *kind_name)
{
    for (size_t i = 0; i < sizeof(relations) / sizeof(relations[0]); i++)
        if (kind_name && !strcmp(relations[i].parent_kind, kind_name))
            return &relations[i];
    return NULL;
}

json_t *order_rules(const char *kind_name, const json_t *parent)
{
    const struct relation *rel = relation_of(kind_name);
    const char *ns = get_string(get(parent, "metadata"), "namespace");
    const char *name;
    json_t *rules, *rule;

    if (!ns || !*ns)
        return NULL;
    rules = json_array();
    if (!rel)
        return rules;
    name = rel->name ? rel->name(parent) : NULL;
    if (rel->name && !name)
        return rules; /* an invalid parent names nothing: its status says so */
    /* namespace always: v4.11.22 lists every namespace without it */
    rule = json_pack("{s:s, s:s, s:s}", "apiVersion", KINDS_API_VERSION, "resource", rel->resource,
                     "namespace", ns);
    if (name)
        json_object_set_new(rule, "names", json_pack("[s]", name));
    json_array_append_new(rules, rule);
    return rules;
}

/* 1 when obj's Ready condition is True for its current generation. */
static int is_ready(const json_t *obj)
{
    const json_t *conds = get(get(obj, "status"), "conditions"), *c;
    const json_t *gen = get(get(obj, "metadata"), "generation"), *seen;
    size_t i;

    json_array_foreach(conds, i, c) {
        const char *t = get_string(c, "type"), *s = get_string(c, "status");

        if (!t || strcmp(t, "Ready"))
            continue;
        seen = get(c, "observedGeneration");
        if (json_is_integer(seen) && json_is_integer(gen) &&
            json_integer_value(seen) < json_integer_value(gen))
            return 0; /* Ready for a spec that has changed since */
        return s && !strcmp(s, "True");
    }
    return 0;
}

/* 1 when obj's Failed condition is True. */
static int has_failed(const json_t *obj)
{
    const json_t *conds = get(get(obj, "status"), "conditions"), *c;
    size_t i;

    json_array_foreach(conds, i, c) {
        const char *t = get_string(c, "type"), *s = get_string(c, "status");

        if (t && s && !strcmp(t, "Failed") && !strcmp(s, "True"))
            return 1;
    }
    return 0;
}

/* 1 when group key "<Kind>.<apiVersion>" is kind of our API group (any
 * version). */
static int group_is(const char *key, const char *kind)
{
    size_t n = strlen(kind);

    return !strncmp(key, kind, n) && key[n] == '.' &&
           !strncmp(key + n + 1, KINDS_GROUP "/", strlen(KINDS_GROUP "/"));
}

void order_gate(const char *kind_name, const json_t *parent, const json_t *related,
                struct order_gate *gate)
{
    const struct relation *rel = relation_of(kind_name);
    const char *ns = get_string(get(parent, "metadata"), "namespace");
    const char *pname = get_string(get(parent, "metadata"), "name");
    const char *want, *key, *name, *cns, *cname, *failed = NULL;
    const json_t *first = NULL;
    json_t *group, *obj;
    int n;

    memset(gate, 0, sizeof(*gate));
    if (!rel || !pname || !json_is_object(related))
        return;
    want = rel->name ? rel->name(parent) : NULL;
    if (rel->name && !want)
        return;
    json_object_foreach((json_t *)related, key, group) {
        if (!group_is(key, rel->kind) || !json_is_object(group))
            continue;
        json_object_foreach(group, name, obj) {
            cname = get_string(get(obj, "metadata"), "name");
            cns = get_string(get(obj, "metadata"), "namespace");
            if (!json_is_object(obj) || !cname || (want && strcmp(cname, want)) ||
                (ns && cns && strcmp(ns, cns)) || !rel->match(parent, obj))
                continue;
            if (is_ready(obj))
                return; /* one is Ready: nothing to wait for */
            if (!first)
                first = obj;
            if (!failed && has_failed(obj))
                failed = cname;
        }
    }
    if (!first)
        return; /* none in the namespace: the model comes from elsewhere */
    gate->kind = rel->child_kind;
    n = snprintf(gate->name, sizeof(gate->name), "%s%s", pname, rel->child_suffix);
    if (n < 0 || (size_t)n >= sizeof(gate->name))
        return;
    cname = failed ? failed : get_string(get(first, "metadata"), "name");
    n = snprintf(gate->target, sizeof(gate->target), "%s/%s to be Ready%s", rel->kind, cname,
                 failed ? " (it failed)" : "");
    if (n < 0 || (size_t)n >= sizeof(gate->target))
        snprintf(gate->target, sizeof(gate->target), "%s to be Ready", rel->kind);
    gate->waits = 1;
}

int order_withholds(const struct order_gate *gate, const char *kind, const char *name)
{
    return gate && gate->waits && kind && name && !strcmp(gate->kind, kind) && !strcmp(gate->name, name);
}

