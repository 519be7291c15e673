/*
 * policy.h - the effective settings an object is judged and expanded with.
 *
 * Without a policy file the built-in settings apply. A policy file (SPEC
 * §4.8) replaces defaults, caps and allow-lists for the whole cluster and per
 * namespace; policy_resolve() answers the settings for one namespace.
 */
#ifndef POLICY_H
#define POLICY_H

#include <jansson.h>

#define POLICY_NO_LIMIT (-1LL)

struct settings {
    const char *rule;               /* which rule applied: "built-in", "cluster", "namespaces[team-*]" */

    /* defaults */
    const char *endpoint;           /* ModelHub/Serving spec.endpoint */
    long long port;                 /* Serving spec.port */
    const char *downloader_image;   /* pretrainModel init container */
    const char *uploader_image;     /* ModelHub upload Job */
    const char *visualdl_image;     /* VisualDL Deployment */
    const char *credentials_secret; /* MinIO credentials: keys access-key, secret-key */

    /* limits; POLICY_NO_LIMIT when none */
    long long max_gpu_per_node;
    long long max_worker_replicas;
    long long max_ps_replicas;
    long long max_total_gpus;
    long long max_partitions;

    /* allow-lists: borrowed arrays of strings; NULL allows all */
    const json_t *image_registries;
    const json_t *source_uri_schemes;
    const json_t *endpoint_hosts;
    const json_t *pretrain_model_hosts;
};

/* The built-in settings, used when no policy file is given. */
extern const struct settings policy_builtin;

struct policy;   /* a loaded policy file */
struct context;  /* mutators/kinds.h */

/* Fills ctx->settings and ctx->exempt for ctx->namespace, ctx->username and
 * ctx->groups under policy p (borrowed; NULL means the built-in settings).
 * The settings stay valid while p lives. */
void policy_apply(const struct policy *p, struct context *ctx);

#endif
