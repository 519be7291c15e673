/*
 * policy.c - the built-in settings, and what a loaded policy decides for a
 * request: which rule applies (policy_apply) and what its allow-lists deny
 * (policy_check). Loading is mutators/policyload.c; the resolved policy
 * between the two is mutators/policyload.h.
 */
#include "mutators/policy.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mutators/fielderr.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/policyindex.h"
#include "mutators/policyload.h"
#include "mutators/policymatch.h"

#define POLICY_MAX_HOST 253
#define POLICY_MAX_SPEC_PATH 64     /* "spec.pretrainModel" */
#define POLICY_MAX_CHILD_PATH 256   /* "spec.generated[2].spec.template.spec.containers[0].image" */

const struct settings policy_builtin = {
    .rule = "built-in",
    .endpoint = "http://minio-service.kubeflow:9000",
    .port = 8040,
    .downloader_image = "curlimages/curl:8.5.0",
    .uploader_image = "minio/mc:RELEASE.2024-01-13T08-44-48Z",
    .visualdl_image = "paddlepaddle/visualdl:2.5.3",
    /* Kubeflow Pipelines' artifact store Secret, in every profile namespace
     * (kubeflow/pipelines: the profile controller's sync.py copies
     * mlpipeline-minio-artifact with keys accesskey and secretkey) */
    .credentials_secret = "mlpipeline-minio-artifact",
    .credentials_access_key = "accesskey",
    .credentials_secret_key = "secretkey",
    .training_operator = POLICY_OPERATOR_PADDLE,
    /* the engine Secret paddlex-backend's operator/src/dataset.py names */
    .engine_secret = "data-center",
    /* the JuiceFS CSI driver's community mount image: sh and juicefs */
    .data_sync_image = "juicedata/mount:ce-v1.1.0",
    .data_claim_size = "10Gi",
    .data_storage_class = NULL,
    .max_gpu_per_node = 16,
    .max_worker_replicas = POLICY_NO_LIMIT,
    .max_ps_replicas = POLICY_NO_LIMIT,
    .max_total_gpus = POLICY_NO_LIMIT,
    .max_partitions = 64,
};

int policy_kubeflow(const struct settings *st)
{
    return !strcmp(st->training_operator, POLICY_OPERATOR_KUBEFLOW);
}

/* ------------------------------------------------------------ lifecycle */

struct policy *policy_parse(const json_t *doc, const char *source, char *err, size_t errlen)
{
    return policyload_parse(doc, source, err, errlen);
}

struct policy *policy_ref(struct policy *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void policy_unref(struct policy *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policyload_free(p);
}

/* ------------------------------------------------------------ applying */

static const struct settings *resolve(const struct policy *p, const char *namespace)
{
    size_t i = namespace ? policyindex_find(p->names, namespace, strlen(namespace)) : POLICYINDEX_NONE;

    return i == POLICYINDEX_NONE ? &p->cluster : &p->ns[i].settings;
}

/* user is a C string (the caller refuses names with a NUL); groups are
 * json strings, compared whole: a name with a NUL inside is never a prefix
 * that passes for another. */
static int is_exempt(const struct policy *p, const char *user, const json_t *groups)
{
    size_t i;
    json_t *g;

    if (user && policyindex_find(p->users, user, strlen(user)) != POLICYINDEX_NONE)
        return 1;
    json_array_foreach(groups, i, g)
        if (json_is_string(g) &&
            policyindex_find(p->groups, json_string_value(g), json_string_length(g)) != POLICYINDEX_NONE)
            return 1;
    return 0;
}

void policy_apply(const struct policy *p, struct context *ctx)
{
    ctx->settings = p ? resolve(p, ctx->namespace) : &policy_builtin;
    ctx->exempt = p ? is_exempt(p, ctx->username, ctx->groups) : 0;
}

/* ------------------------------------------------------------ checking */

static int has_error(const struct fielderr_list *errs, const char *path)
{
    for (size_t i = 0; i < errs->len; i++)
        if (!strcmp(errs->v[i].path, path))
            return 1;
    return 0;
}

/* The children's containers, walked without knowing their kinds. */
struct walk {
    const struct settings *st;
    const char *image;          /* spec.image: judged at the spec field */
    char endpoint_host[POLICY_MAX_HOST + 1];  /* spec.endpoint's: likewise, "" when none */
    char pretrain_host[POLICY_MAX_HOST + 1];  /* spec.pretrainModel's: its own allow-list */
    struct fielderr_list *errs;
    char path[POLICY_MAX_CHILD_PATH];
};

/* Appends to w->path at len; returns the new length (clipped at the cap). */
static size_t path_add(struct walk *w, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t path_add(struct walk *w, size_t len, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(w->path + len, sizeof(w->path) - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return len;
    return len + (size_t)n < sizeof(w->path) ? len + (size_t)n : sizeof(w->path) - 1;
}

/* An http(s) URL a container is given: its host must be an endpoint host. */
static void walk_url(struct walk *w, const json_t *v)
{
    const struct policymatch_allow *r = &policymatch_allows[POLICYMATCH_ENDPOINT];
    const char *s = json_string_value(v);
    char host[POLICY_MAX_HOST + 1];
    struct url u;

    if (!s || fields_parse_url(s, &u) < 0 || !((u.scheme_len == 4 && !strncasecmp(s, "http", 4)) ||
                                               (u.scheme_len == 5 && !strncasecmp(s, "https", 5))))
        return;
    if (fields_url_host(s, host, sizeof(host)) < 0 || !strcmp(host, w->endpoint_host) ||
        !strcmp(host, w->pretrain_host))
        return;
    if (!policymatch_allowed(r, w->st, s))
        policymatch_deny(w->errs, w->path, v, r, w->st);
}

static void walk_container(struct walk *w, const json_t *c, size_t len)
{
    static const char *const url_lists[] = { "command", "args", NULL };
    const json_t *image = json_object_get(c, "image");
    size_t i;
    json_t *v;

    if (json_is_string(image) && !(w->image && !strcmp(w->image, json_string_value(image))) &&
        !policymatch_allowed(&policymatch_allows[POLICYMATCH_IMAGE], w->st, json_string_value(image))) {
        path_add(w, len, ".image");
        policymatch_deny(w->errs, w->path, image, &policymatch_allows[POLICYMATCH_IMAGE], w->st);
    }
    if (!policymatch_list(&policymatch_allows[POLICYMATCH_ENDPOINT], w->st))
        return;
    for (const char *const *l = url_lists; *l; l++)
        json_array_foreach(json_object_get(c, *l), i, v) {
            path_add(w, len, ".%s[%zu]", *l, i);
            walk_url(w, v);
        }
    json_array_foreach(json_object_get(c, "env"), i, v) {
        path_add(w, len, ".env[%zu].value", i);
        walk_url(w, json_object_get(v, "value"));
    }
}

static void walk(struct walk *w, const json_t *v, size_t len)
{
    const char *key;
    json_t *x, *c;
    size_t i, j, n;

    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
            walk(w, x, path_add(w, len, "[%zu]", i));
        return;
    }
    json_object_foreach((json_t *)v, key, x) {
        n = path_add(w, len, ".%s", key);
        if (json_is_array(x) && (!strcmp(key, "containers") || !strcmp(key, "initContainers")))
            json_array_foreach(x, j, c)
                walk_container(w, c, path_add(w, n, "[%zu]", j));
        else if (json_is_object(x) || json_is_array(x))
            walk(w, x, n);
    }
}

/* The host of spec.<field> into buf, or "" when it has none. */
static void spec_host(const json_t *spec, const char *field, char *buf, size_t len)
{
    const char *s = json_string_value(json_object_get(spec, field));

    if (!s || fields_url_host(s, buf, len) < 0)
        buf[0] = '\0';
}

int policy_checks_children(const struct context *ctx)
{
    return !ctx->exempt && (ctx->settings->image_registries || ctx->settings->endpoint_hosts);
}

void policy_check(const json_t *obj, const json_t *children, const struct context *ctx,
                  struct fielderr_list *errs)
{
    const json_t *spec = json_object_get(obj, "spec");
    struct walk w = { .st = ctx->settings, .errs = errs };

    if (ctx->exempt)
        return;
    for (size_t i = 0; i < POLICYMATCH_COUNT; i++) {
        const struct policymatch_allow *r = &policymatch_allows[i];
        const json_t *v = json_object_get(spec, r->field);
        char path[POLICY_MAX_SPEC_PATH];

        if (!policymatch_list(r, w.st) || !json_is_string(v))
            continue;
        snprintf(path, sizeof(path), "spec.%s", r->field);
        if (!has_error(errs, path) && !policymatch_allowed(r, w.st, json_string_value(v)))
            policymatch_deny(errs, path, v, r, w.st);
    }
    if (!children || !policy_checks_children(ctx))
        return;
    w.image = json_string_value(json_object_get(spec, "image"));
    spec_host(spec, "endpoint", w.endpoint_host, sizeof(w.endpoint_host));
    spec_host(spec, "pretrainModel", w.pretrain_host, sizeof(w.pretrain_host));
    walk(&w, children, path_add(&w, 0, "spec.generated"));
}
