/*
 * kinds.c - one engine for the four kinds: defaults, field rules, expansion.
 *
 * engine() is every path's: it defaults a spec in place, judges it and
 * renders the children as pool nodes. kinds_mutate() runs it on the object
 * itself and lists what it set (the mutation contract, kinds.h);
 * kinds_validate() and kinds_render() run it on a "view", a shallow copy
 * of the object with a copy of its spec, so /validate reaches the same
 * verdict whether or not /mutate ran first, and the children it renders
 * are the ones the mutator wrote into spec.generated.
 */
#include "mutators/kinds.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/fields.h"
#include "mutators/json/jsondump.h"
#include "mutators/kinds_table.h"
#include "mutators/json/strbuf.h"

#define PATH_MAX_LEN 128

const struct kind *const kinds_table[] = {
    &dataset_kind,
    &training_kind,
    &modelhub_kind,
    &serving_kind,
};
_Static_assert(sizeof(kinds_table) / sizeof(kinds_table[0]) == KINDS_COUNT, "KINDS_COUNT: the kinds in kinds_table");

static const char *const actions[] = { "apply", "create", "patch", "delete", NULL };

static json_t *default_namespace(const json_t *obj, const struct context *ctx)
{
    const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));

    if (!ns || !*ns)
        ns = ctx->namespace;
    return json_string(ns && *ns ? ns : "kubeflow");
}

/* Fields every kind has, judged before the kind's own. */
static const struct field common_fields[] = {
    { .name = "namespace", .type = FIELD_STRING, .fdefault = default_namespace,
      .check = fields_check_dns1123_label },
    { .name = "action", .type = FIELD_STRING, .flags = FIELD_DEFAULT, .sdefault = "apply",
      .one_of = actions },
};

#define NCOMMON (sizeof(common_fields) / sizeof(common_fields[0]))

const struct kind *kinds_find(const char *group, const char *version, const char *kind)
{
    if (!group || !kind || strcmp(group, KINDS_GROUP) != 0)
        return NULL;
    if (version && strcmp(version, KINDS_VERSION) != 0)
        return NULL;
    for (size_t i = 0; i < KINDS_COUNT; i++)
        if (!strcmp(kinds_table[i]->name, kind))
            return kinds_table[i];
    return NULL;
}

const struct kind *kinds_of_object(const json_t *obj)
{
    const char *av = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));

    if (!av || strcmp(av, KINDS_API_VERSION) != 0)
        return NULL;
    return kinds_find(KINDS_GROUP, KINDS_VERSION, kind);
}

/* Walks the common fields, then the kind's. */
static const struct field *field_at(const struct kind *k, size_t i)
{
    return i < NCOMMON ? &common_fields[i] : &k->fields[i - NCOMMON];
}

static size_t nfields(const struct kind *k)
{
    return NCOMMON + k->nfields;
}

/* The index of the field named name, or nfields(k). */
static size_t field_index(const struct kind *k, const char *name)
{
    size_t i;

    for (i = 0; i < nfields(k); i++)
        if (field_at(k, i)->name[0] == name[0] && !strcmp(field_at(k, i)->name, name))
            break;
    return i;
}

/* A spec's value of each field (NULL when absent), found in one walk over
 * the spec rather than a hashed lookup per field, and kept current while
 * defaults go in; the rules read them from here. A field sent as null is
 * absent (SPEC §9.4: the apiserver prunes such nulls before admission;
 * render and review read manifests raw): its default applies, Required
 * fires, and a null with neither is removed. */
struct spec_values {
    const json_t *vals[NCOMMON + KINDS_MAX_FIELDS];
    unsigned char null[NCOMMON + KINDS_MAX_FIELDS];     /* sent as null */
    size_t unknown;             /* members that are no field (spec.generated aside) */
    struct kinds_parsed parsed; /* what the kind's validate() left for its expand() */
};

/* 1 for the spec members the webhook writes, not the user. */
static int system_member(const char *key)
{
    return !strcmp(key, "generated") || !strcmp(key, "seal");
}

static size_t spec_values(const struct kind *k, const json_t *spec, const json_t **vals,
                          unsigned char *null)
{
    const char *key;
    json_t *v;
    size_t unknown = 0, i;

    if (k->nfields > KINDS_MAX_FIELDS)
        abort();        /* a kind table out of bounds: test_kinds checks them */
    memset(vals, 0, nfields(k) * sizeof(*vals));
    memset(null, 0, nfields(k));
    json_object_foreach((json_t *)spec, key, v) {
        i = field_index(k, key);
        if (i < nfields(k) && json_is_null(v))
            null[i] = 1;
        else if (i < nfields(k))
            vals[i] = v;
        else if (!system_member(key))
            unknown++;
    }
    return unknown;
}

static json_t *default_of(const struct field *f, const json_t *obj, const struct context *ctx)
{
    if (f->fdefault)
        return f->fdefault(obj, ctx);
    if (!(f->flags & FIELD_DEFAULT))
        return NULL;
    switch (f->type) {
    case FIELD_STRING:
        return json_string(f->sdefault);
    case FIELD_INT:
        return json_integer(f->idefault);
    case FIELD_BOOL:
        return json_boolean(f->idefault);
    }
    return NULL;
}

/* Records in m (unless NULL) that spec.<member> was set to value (NULL:
 * removed). */
static void record(struct kinds_mutation *m, const char *member, enum kinds_op op, const json_t *value)
{
    if (!m)
        return;
    if (m->nchanges == KINDS_MAX_CHANGES)
        abort();        /* a kind table out of bounds: test_kinds checks them */
    m->changes[m->nchanges++] = (struct kinds_change){ member, op, value };
}

/* Fills defaults and canonical spellings into spec (changed in place), its
 * values into sv; each member set is recorded in m unless it is NULL. */
static void fill_defaults(const struct kind *k, const json_t *obj, json_t *spec,
                          const struct context *ctx, struct kinds_mutation *m, struct spec_values *sv)
{
    sv->unknown = spec_values(k, spec, sv->vals, sv->null);
    for (size_t i = 0; i < nfields(k); i++) {
        const struct field *f = field_at(k, i);
        const json_t *v = sv->vals[i];
        json_t *nv;

        if (!v)
            nv = default_of(f, obj, ctx);
        else if (f->normalize && json_is_string(v) &&
                 strlen(json_string_value(v)) == json_string_length(v))
            nv = f->normalize(json_string_value(v));
        else
            nv = NULL;
        if (!nv && sv->null[i]) {       /* null, no default: absent */
            record(m, f->name, KINDS_REMOVE, NULL);
            json_object_del(spec, f->name);
        }
        if (!nv)
            continue;
        json_object_set_new_nocheck(spec, f->name, nv);     /* names are ASCII */
        record(m, f->name, v || sv->null[i] ? KINDS_REPLACE : KINDS_ADD, nv);
        sv->vals[i] = nv;
    }
}

/* A shallow copy of obj with a copy of its spec when that is an object:
 * what the engine may default without changing obj; new reference. */
static json_t *view_of(const json_t *obj)
{
    json_t *view = json_copy((json_t *)obj);
    json_t *spec = json_object_get(obj, "spec");

    if (view && json_is_object(spec))
        json_object_set_new(view, "spec", json_copy(spec));
    return view;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

/* Appends the wrong-type error; returns 1 when v has type t. */
static int check_type(const char *path, const json_t *v, enum field_type t, struct fielderr_list *errs)
{
    static const char *const want[] = {
        [FIELD_STRING] = "a string", [FIELD_INT] = "an integer", [FIELD_BOOL] = "a boolean",
    };
    int ok = (t == FIELD_STRING && json_is_string(v)) || (t == FIELD_INT && json_is_integer(v)) ||
             (t == FIELD_BOOL && json_is_boolean(v));
    json_t *tn;

    if (!ok) {
        tn = json_string(type_name(v));
        fielderr_add(errs, FIELDERR_INVALID, path, tn, "%s must be %s", path, want[t]);
        json_decref(tn);
    }
    return ok;
}

static void check_one_of(const char *path, const json_t *v, const char *const *one_of,
                         struct fielderr_list *errs)
{
    struct strbuf sb = STRBUF_INIT;

    for (const char *const *o = one_of; *o; o++)
        if (!strcmp(*o, json_string_value(v)))
            return;
    strbuf_addstr(&sb, "supported values: ");
    for (const char *const *o = one_of; *o; o++)
        strbuf_addf(&sb, "%s\"%s\"", o == one_of ? "" : ", ", *o);
    fielderr_add(errs, FIELDERR_NOT_SUPPORTED, path, v, "%s", sb.buf);
    strbuf_release(&sb);
}

/* Every integer field is "format: int32" in its CRD (manifests/crds/),
 * which the apiserver does not enforce for custom resources: the range is
 * checked here, so no later sum or product sees more than 31 bits. */
static void check_int(const struct field *f, const char *path, const json_t *v,
                      const struct context *ctx, struct fielderr_list *errs)
{
    long long n = json_integer_value(v), cap;
    long long min = (f->flags & FIELD_MIN) ? f->min : INT32_MIN;
    long long max = (f->flags & FIELD_MAX) ? f->max : INT32_MAX;

    /* the hard bounds are what the expansion relies on (a --gpus list of
     * gpuPerNode entries): never ratcheted, unlike a policy's caps */
    if (n < min) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be greater than or equal to %lld", min);
        fielderr_always(errs, errs->len - 1);
        return;
    }
    if (n > max) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be less than or equal to %lld", max);
        fielderr_always(errs, errs->len - 1);
        return;
    }
    if (!f->settings_cap || ctx->exempt)
        return;
    cap = *(const long long *)((const char *)ctx->settings + f->settings_cap - 1);
    if (cap != POLICY_NO_LIMIT && n > cap)
        fielderr_add_policy(errs, path, v, "%lld exceeds the limit %s=%lld (policy rule: %s)", n,
                            f->cap_name, cap, ctx->settings->rule);
}

/* "spec.<name>" into path (PATH_MAX_LEN bytes); names are ours and short,
 * and this runs for every field of every review, so no snprintf. */
static void spec_path(char *path, const char *name)
{
    size_t n = strlen(name);

    if (n > PATH_MAX_LEN - sizeof("spec."))
        n = PATH_MAX_LEN - sizeof("spec.");
    memcpy(path, "spec.", 5);
    memcpy(path + 5, name, n);
    path[5 + n] = '\0';
}

/* Judges one field's value v (NULL when absent): type, then its rule. */
static void check_field(const struct field *f, const json_t *v, const struct context *ctx,
                       struct fielderr_list *errs)
{
    char path[PATH_MAX_LEN];
    size_t before = errs->len;

    spec_path(path, f->name);
    if (!v) {
        if (f->flags & FIELD_REQUIRED)
            fielderr_add(errs, FIELDERR_REQUIRED, path, NULL, NULL);
        goto shape;
    }
    if (!check_type(path, v, f->type, errs))
        goto shape;
    if (f->type == FIELD_STRING && strlen(json_string_value(v)) != json_string_length(v)) {
        fielderr_add(errs, FIELDERR_INVALID, path, NULL, "must not contain NUL characters");
        goto shape;
    }
    if (f->type == FIELD_INT)
        check_int(f, path, v, ctx, errs);
    else if (f->type != FIELD_STRING)
        ;
    else if ((f->flags & FIELD_REQUIRED) && json_string_length(v) == 0)
        fielderr_add(errs, FIELDERR_REQUIRED, path, NULL, NULL);
    else if (f->one_of)
        check_one_of(path, v, f->one_of, errs);
    else if (f->check)
        f->check(path, v, errs);
    return;
shape:
    /* nothing may be built from a value of the wrong shape: an UPDATE
     * that keeps it is refused as a CREATE would be */
    fielderr_always(errs, before);
}

static void check_metadata(const json_t *obj, const json_t *spec, const struct context *ctx,
                           struct fielderr_list *errs)
{
    const json_t *md = json_object_get(obj, "metadata");
    const json_t *name = json_object_get(md, "name");
    const json_t *mdns = json_object_get(md, "namespace");
    const char *ns = json_string_value(mdns);
    size_t nslen = json_string_length(mdns);    /* compared whole: NULs included */
    const json_t *sns = json_object_get(spec, "namespace");

    if (!json_is_object(md)) {
        fielderr_add(errs, FIELDERR_REQUIRED, "metadata", NULL, NULL);
        return;
    }
    if (!name || json_is_null(name) || (json_is_string(name) && json_string_length(name) == 0)) {
        if (json_object_get(md, "generateName") && !json_is_null(json_object_get(md, "generateName")))
            fielderr_add(errs, FIELDERR_REQUIRED, "metadata.name", NULL,
                         "generateName is not supported: child names derive from metadata.name");
        else
            fielderr_add(errs, FIELDERR_REQUIRED, "metadata.name", NULL, NULL);
    } else if (check_type("metadata.name", name, FIELD_STRING, errs)) {
        if (strlen(json_string_value(name)) != json_string_length(name))
            fielderr_add(errs, FIELDERR_INVALID, "metadata.name", NULL, "must not contain NUL characters");
        else
            fields_check_name("metadata.name", name, errs);
    }
    if (!ns || !*ns) {
        ns = ctx->namespace;
        nslen = ns ? strlen(ns) : 0;
    }
    if (ns && *ns && json_is_string(sns) &&
        (nslen != json_string_length(sns) || memcmp(ns, json_string_value(sns), nslen) != 0))
        fielderr_add(errs, FIELDERR_INVALID, "spec.namespace", sns,
                     "must equal the object's namespace \"%s\": children live beside their owner", ns);
}

/* One error per member of spec that is no field of k. */
static void unknown_fields(const struct kind *k, const json_t *spec, struct fielderr_list *errs)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)spec, key, v) {
        char path[PATH_MAX_LEN];

        if (field_index(k, key) < nfields(k) || system_member(key))
            continue;
        int n = (int)fields_utf8_clip(key, 100);

        snprintf(path, sizeof(path), "spec.%.*s", n, key);
        fielderr_add(errs, FIELDERR_FORBIDDEN, path, NULL, "unknown field \"%.*s\"", n, key);
    }
}

/* Field rules, unknown fields and cross-field rules on a view, whose
 * spec's values fill_defaults() left in sv. */
static void check_view(const struct kind *k, const json_t *view, struct spec_values *sv,
                       const struct context *ctx, struct fielderr_list *errs, json_t *warnings)
{
    const json_t *spec = json_object_get(view, "spec");
    size_t before = errs->len;
    json_t *tn;

    check_metadata(view, spec, ctx, errs);
    fielderr_always(errs, before);      /* children are named and placed by it */
    if (!json_is_object(spec)) {
        tn = json_string(type_name(spec));
        fielderr_add(errs, FIELDERR_INVALID, "spec", tn, "spec must be an object");
        json_decref(tn);
        return;
    }
    for (size_t i = 0; i < nfields(k); i++)
        check_field(field_at(k, i), sv->vals[i], ctx, errs);
    if (sv->unknown)
        unknown_fields(k, spec, errs);
    /* cross-field rules check the types they read: all errors at once */
    if (k->validate)
        k->validate(view, ctx, errs, warnings, &sv->parsed);
}

/* The member an error path names, "spec.<field>..." or
 * "metadata.<field>...", of obj into *v (NULL when absent); 0 for a path
 * that names none, or names spec.generated (tampering is always judged). */
static int member_at(const json_t *obj, const char *path, const json_t **v)
{
    const char *dot = strchr(path, '.'), *end;
    char top[16], field[PATH_MAX_LEN];

    if (!dot || (size_t)(dot - path) >= sizeof(top))
        return 0;
    memcpy(top, path, (size_t)(dot - path));
    top[dot - path] = '\0';
    if (strcmp(top, "spec") != 0 && strcmp(top, "metadata") != 0)
        return 0;
    end = dot + 1 + strcspn(dot + 1, ".[");
    if ((size_t)(end - dot - 1) >= sizeof(field))
        return 0;
    memcpy(field, dot + 1, (size_t)(end - dot - 1));
    field[end - dot - 1] = '\0';
    if (!strcmp(top, "spec") && system_member(field))
        return 0;
    *v = json_object_get(json_object_get(obj, top), field);
    return 1;
}

/* 1 when obj and old hold the same value (or both none) at path. */
static int same_at(const json_t *obj, const json_t *old, const char *path)
{
    const json_t *a, *b;

    if (!member_at(obj, path, &a) || !member_at(old, path, &b))
        return 0;
    return a == b || (a && b && json_equal((json_t *)a, (json_t *)b));
}

struct ratchet {
    const json_t *obj, *old;
};

/* Keeps an error to judge: one whose field (or the second field its
 * rule read) has a value the old object did not have. */
static int changed(const struct fielderr *e, void *arg)
{
    const struct ratchet *r = arg;

    return e->always || !same_at(r->obj, r->old, e->path) || (e->also && !same_at(r->obj, r->old, e->also));
}

/* Ratchets errs from index `from` on, as the apiserver does on UPDATE
 * (apiextensions-apiserver pkg/apiserver/validation/ratcheting.go): a
 * value unchanged since ctx->old is not failed again by a rule or limit
 * that tightened since; a changed one is judged in full. */
static void ratchet(const json_t *view, const struct context *ctx, struct fielderr_list *errs,
                    size_t from)
{
    struct ratchet r = { view, ctx->old };

    if (ctx->old && errs->len > from)
        fielderr_filter(errs, from, changed, &r);
}

/* The engine, every path's: defaults obj's spec in place (created when
 * absent or null; each member set recorded in m unless it is NULL),
 * judges it (errors appended to errs, ratcheted against ctx->old; warning
 * strings to warnings) and, when it validates and render is 1, renders
 * its children into the node pool in force. Returns them, or NULL. */
static struct node *engine(const struct kind *k, json_t *obj, const struct context *ctx,
                           struct kinds_mutation *m, struct fielderr_list *errs, json_t *warnings,
                           int render)
{
    json_t *spec = json_object_get(obj, "spec");
    size_t before = errs->total, from = errs->len;      /* errors found; where ours begin */
    struct node *children = NULL;
    struct spec_values sv = { .parsed = { NULL } };

    if (!spec || json_is_null(spec)) {     /* a null spec is absent */
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    if (json_is_object(spec))
        fill_defaults(k, obj, spec, ctx, m, &sv);
    check_view(k, obj, &sv, ctx, errs, warnings);
    ratchet(obj, ctx, errs, from);
    if (render && errs->total == before) {
        children = node_array();
        if (k->expand && k->expand(obj, ctx, &sv.parsed, children, errs) < 0)
            children = NULL;
    }
    json_decref(sv.parsed.config_changes);
    return children;
}

json_t *kinds_render(const struct kind *k, const json_t *obj, const struct context *ctx,
                     struct fielderr_list *errs, json_t *warnings)
{
    json_t *view = view_of(obj), *children = NULL;
    size_t before = errs->total;
    struct node_pool pool;
    struct node *rendered;

    node_pool_begin(&pool);
    rendered = engine(k, view, ctx, NULL, errs, warnings, 1);
    if (rendered)
        children = node_to_json(rendered);      /* the edge: the policy walk, sync's answer */
    node_pool_end(&pool);
    policy_check(view, children, ctx, errs);
    if (errs->total > before) {
        json_decref(children);
        children = NULL;
    }
    json_decref(view);
    return children;
}

int kinds_sealed(const struct kind *k, const json_t *obj, const struct context *ctx)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *seal = json_string_value(json_object_get(spec, "seal"));

    return ctx->sealer && seal && json_is_array(json_object_get(spec, "generated")) &&
           ctx->sealer->verify(ctx->sealer->keys, k->name, kinds_name(obj), spec, NULL, 0, seal);
}

/* 1 when specs a and b hold the same members, the webhook's own aside. */
static int same_but_system(const json_t *a, const json_t *b)
{
    const char *key;
    json_t *v;
    size_t na = 0, nb = 0;

    json_object_foreach((json_t *)a, key, v) {
        const json_t *w = json_object_get(b, key);

        if (system_member(key))
            continue;
        if (!w || !json_equal(v, (json_t *)w))
            return 0;
        na++;
    }
    json_object_foreach((json_t *)b, key, v)
        nb += !system_member(key);
    return na == nb;
}

/* Records that spec.<member> becomes v (borrowed) unless spec holds it
 * already; with KINDS_INTO_OBJECT sets it too. */
static void set_member(struct kinds_mutation *m, json_t *spec, const char *member, const json_t *v,
                       unsigned flags)
{
    const json_t *cur = json_object_get(spec, member);

    if (!v || (cur && json_equal((json_t *)cur, (json_t *)v)))
        return;
    record(m, member, cur ? KINDS_REPLACE : KINDS_ADD, v);
    if (flags & KINDS_INTO_OBJECT)
        json_object_set_nocheck(spec, member, (json_t *)v);
}

/* Decides spec.generated and spec.seal of obj, whose children m holds. */
static void settle(const struct kind *k, json_t *obj, const struct context *ctx, unsigned flags,
                   struct kinds_mutation *m)
{
    json_t *spec = json_object_get(obj, "spec"), *prev = json_object_get(ctx->old, "spec"), *cur;
    char seal[KINDS_SEAL_MAX];
    int changed;

    if (prev && same_but_system(spec, prev) && kinds_sealed(k, ctx->old, ctx)) {
        /* the spec the owner wrote is unchanged: what was admitted stays */
        set_member(m, spec, "generated", json_object_get(prev, "generated"), flags);
        set_member(m, spec, "seal", json_object_get(prev, "seal"), flags);
        return;
    }
    cur = json_object_get(spec, "generated");
    changed = !(cur && node_equal_json(m->children, cur));
    if (flags & KINDS_INTO_OBJECT) {
        if (changed) {
            json_object_set_new_nocheck(spec, "generated", node_to_json(m->children));
            record(m, "generated", cur ? KINDS_REPLACE : KINDS_ADD, json_object_get(spec, "generated"));
        }
    } else if (changed || ctx->sealer) {
        /* canonical key order: the text the seal covers is the patch's own */
        node_dump_canonical(&m->text, m->children);
        if (changed)
            record(m, "generated", cur ? KINDS_REPLACE : KINDS_ADD, NULL);
    }
    if (!ctx->sealer || ctx->sealer->sign(ctx->sealer->keys, k->name, kinds_name(obj), spec,
                                          m->text.len ? m->text.buf : NULL, m->text.len, seal) < 0)
        return;
    m->seal = json_string(seal);
    set_member(m, spec, "seal", m->seal, flags);
}

void kinds_mutate(const struct kind *k, json_t *obj, const struct context *ctx, unsigned flags,
                  struct kinds_mutation *m)
{
    const json_t *spec = json_object_get(obj, "spec");

    memset(m, 0, sizeof(*m));
    m->spec = !spec ? KINDS_SPEC_ABSENT : json_is_null(spec) ? KINDS_SPEC_NULL
            : json_is_object(spec) ? KINDS_SPEC_OBJECT : KINDS_SPEC_OTHER;
    m->warnings = json_array();
    node_pool_begin(&m->pool);
    m->children = engine(k, obj, ctx, m, &m->errs, m->warnings, 1);
    if (m->children)
        settle(k, obj, ctx, flags, m);
}

void kinds_mutation_release(struct kinds_mutation *m)
{
    node_pool_end(&m->pool);
    strbuf_release(&m->text);
    fielderr_release(&m->errs);
    json_decref(m->seal);
    json_decref(m->warnings);
    m->children = NULL;
    m->seal = m->warnings = NULL;
    m->nchanges = 0;
}

void kinds_validate(const struct kind *k, const json_t *obj, const struct context *ctx,
                    struct fielderr_list *errs, json_t *warnings)
{
    json_t *view = view_of(obj), *children = NULL;
    const json_t *generated = json_object_get(json_object_get(obj, "spec"), "generated");
    size_t from = errs->len;
    struct node_pool pool;
    struct node *rendered;
    int sealed = ctx->generated_sealed || kinds_sealed(k, obj, ctx);

    node_pool_begin(&pool);
    /* a sealed spec.generated was rendered from this very spec by a
     * mutating replica, with defaults its policy had checked at load */
    rendered = engine(k, view, ctx, NULL, errs, warnings, !sealed);
    if (rendered && policy_checks_children(ctx))
        children = node_to_json(rendered);      /* the edge: the policy walk */
    policy_check(view, children, ctx, errs);
    ratchet(view, ctx, errs, from);
    if (!rendered)
        ;
    else if (!generated)
        json_array_append_new(warnings,
                              json_string("spec.generated is absent: the mutating webhook did not "
                                          "run; the children are rendered from the spec"));
    else if (!node_equal_json(rendered, generated))
        fielderr_add(errs, FIELDERR_FORBIDDEN, "spec.generated", NULL,
                     "does not match the children rendered from the spec: it is written by the "
                     "mutating webhook and may not be edited");
    node_pool_end(&pool);
    json_decref(children);
    json_decref(view);
}

void kinds_owner(const struct kind *k, const json_t *obj, struct owner *o)
{
    o->name = kinds_name(obj);
    o->namespace = kinds_spec_string(json_object_get(obj, "spec"), "namespace");
    o->label = k->owner_label;
}

struct node *kinds_child(const struct owner *o, const char *api_version, const char *kind,
                         const char *name, const char *after)
{
    struct node *md;

    md = node_obj("name", node_str(name), "namespace", node_str(o->namespace), "labels",
                  node_obj("app.kubernetes.io/managed-by", node_str("paddlex-webhook"),
                           "app.kubernetes.io/part-of", node_str("paddlex"), o->label,
                           node_str(o->name), NULL),
                  NULL);

    if (after)
        node_set(md, "annotations", node_obj("paddlex.paddlepaddle.org/after", node_str(after), NULL));
    return node_obj("apiVersion", node_str(api_version), "kind", node_str(kind), "metadata", md, NULL);
}

const char *kinds_spec_string(const json_t *spec, const char *key)
{
    return json_string_value(json_object_get(spec, key));
}

long long kinds_spec_int(const json_t *spec, const char *key)
{
    return json_integer_value(json_object_get(spec, key));
}

int kinds_spec_bool(const json_t *spec, const char *key)
{
    return json_is_true(json_object_get(spec, key));
}

const char *kinds_name(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
}

json_t *kinds_default_endpoint(const json_t *obj, const struct context *ctx)
{
    (void)obj;
    return json_string(ctx->settings->endpoint);
}

json_t *kinds_default_model_name(const json_t *obj, const struct context *ctx)
{
    const char *name = kinds_name(obj);

    (void)ctx;
    return name && *name ? json_string(name) : NULL;
}
