/*
 * policy.h - the effective settings an object is judged and expanded with,
 * and the multi-tenant policy that chooses them (SPEC §4.8).
 *
 * Without a policy file the built-in settings apply. A policy file replaces
 * defaults, caps and allow-lists for the whole cluster and per namespace:
 *
 *     apiVersion: paddlex.paddlepaddle.org/v1alpha1
 *     kind: WebhookPolicy
 *     defaults:   {endpoint, port, downloaderImage, uploaderImage, visualdlImage, credentialsSecret,
 *                  credentialsAccessKey, credentialsSecretKey, trainingOperator, engineSecret,
 *                  dataSyncImage, dataClaimSize, dataStorageClass,
 *                  pod: {tolerations, nodeSelector, serviceAccountName, priorityClassName,
 *                        labels, annotations,
 *                        resources: {requests, limits,
 *                                    worker|ps|helper|serving|visualdl: {requests, limits}}}}
 *     limits:     {maxGpuPerNode, maxWorkerReplicas, maxPsReplicas, maxTotalGpus, maxPartitions}
 *     allow:      {imageRegistries, sourceUriSchemes, endpointHosts, pretrainModelHosts}
 *     namespaces: [{match: "team-*" | "exact-name", defaults, limits, allow}]
 *     exempt:     {users, groups}
 *
 * Every section is optional. An absent limit keeps the built-in cap, an
 * absent allow-list allows all. A namespaces[] entry's keys replace the
 * cluster's one by one; the entry that applies is the exact name, else the
 * longest matching glob (`*` and `?`), ties going to the first in the file.
 * Exempt users and groups skip limits and allow-lists, not defaults.
 * defaults.pod is laid over key by key as well: a namespaces[] entry's
 * defaults.pod.tolerations replaces the cluster's, its other pod keys stay.
 *
 * Allow-list matching:
 *   imageRegistries     prefixes of the image reference, tried on it as
 *                       written and fully qualified ("paddle/x" is also
 *                       "docker.io/paddle/x"); a prefix not ending in '/'
 *                       must end where a path component, tag or digest does
 *                       ("reg.io/team" allows "reg.io/team:1", "reg.io/team/x",
 *                       not "reg.io/teamevil")
 *   sourceUriSchemes    the scheme of Dataset spec.sourceUri, exactly
 *   endpointHosts       host globs of spec.endpoint and of every http(s) URL a
 *                       generated container is given (STORAGE_URI, the
 *                       upload target), pretrainModel's own host excepted
 *   pretrainModelHosts  host globs of Training spec.pretrainModel
 */
#ifndef POLICY_H
#define POLICY_H

#include <stddef.h>
#include <jansson.h>

#define POLICY_NO_LIMIT (-1LL)

/* defaults.trainingOperator: what runs a Training's PaddleJob. */
#define POLICY_OPERATOR_PADDLE "paddle-operator"   /* batch.paddlepaddle.org/v1, sampleset build */
#define POLICY_OPERATOR_KUBEFLOW "kubeflow"        /* kubeflow.org/v1, the Training Operator */

struct settings {
    const char *rule;               /* which rule applied: "built-in", "cluster", "namespaces[team-*]" */

    /* defaults */
    const char *endpoint;           /* ModelHub/Serving spec.endpoint */
    long long port;                 /* Serving spec.port */
    const char *downloader_image;   /* pretrainModel init container */
    const char *uploader_image;     /* ModelHub upload Job */
    const char *visualdl_image;     /* VisualDL Deployment */
    const char *credentials_secret; /* MinIO credentials Secret (Kubeflow Pipelines') */
    const char *credentials_access_key;  /* its key of the access key: "accesskey" */
    const char *credentials_secret_key;  /* its key of the secret key: "secretkey" */

    /* which operator runs a Training, and what a Dataset becomes (SPEC §9.2) */
    const char *training_operator;  /* POLICY_OPERATOR_PADDLE or POLICY_OPERATOR_KUBEFLOW */
    const char *engine_secret;      /* paddle-operator: SampleSet spec.secretRef, the JuiceFS
                                     * engine's Secret (keys name, storage, metaurl, bucket) */
    const char *data_sync_image;    /* kubeflow: the Dataset's sync Job (juicefs sync) */
    const char *data_claim_size;    /* kubeflow: the Dataset's claim, a quantity */
    const char *data_storage_class; /* kubeflow: its storageClassName; NULL: the cluster's default */

    /* defaults.pod: laid on every generated pod template; borrowed, NULL when unset */
    struct {
        const json_t *tolerations;      /* list of Tolerations */
        const json_t *node_selector;    /* map of strings */
        const char *service_account;    /* serviceAccountName */
        const char *priority_class;     /* priorityClassName */
        const json_t *labels;           /* map of strings, on the pods */
        const json_t *annotations;      /* map of strings, on the pods; may set
                                         * sidecar.istio.io/inject otherwise */
        const json_t *resources;        /* {requests, limits} for all, role -> {requests, limits}
                                         * over those, over the built-in requests */
    } pod;

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

/* 1 when the settings pick the Kubeflow Training Operator. */
int policy_kubeflow(const struct settings *st);

struct policy;        /* a loaded policy file (mutators/policyload.h); reference-counted, immutable */
struct context;       /* mutators/kinds.h */
struct fielderr_list; /* mutators/fielderr.h */

#define POLICY_API_VERSION "paddlex.paddlepaddle.org/v1alpha1"
#define POLICY_KIND "WebhookPolicy"

/* Builds a policy from a parsed document (borrowed: the policy takes a
 * reference of its own and reads it as long as it lives, so the caller must
 * not change it afterwards; loading never changes it).
 * Loading is strict: unknown keys, wrong types, negative limits, bad globs
 * and bad default values are refused, and so is a default (or a built-in
 * helper image) outside the policy's own allow-lists, for the cluster and
 * for each namespaces[] entry as merged. Returns a new policy holding one
 * reference (release with policy_unref()), or NULL with every problem in
 * err, one line, "<source>: <key path>: <why>; <key path>: <why>", e.g.
 * "policy.yaml: namespaces[1].limits.maxGpuPerNode: must be an integer ≥ 0";
 * past 20 problems the rest are counted ("; and 3 more problems"). */
struct policy *policy_parse(const json_t *doc, const char *source, char *err, size_t errlen);

/* Takes one more reference to p and returns p; NULL stays NULL. Safe from
 * any thread while the caller holds (or guards) a reference. */
struct policy *policy_ref(struct policy *p);

/* Drops one reference; the last one frees p. NULL is ignored. */
void policy_unref(struct policy *p);

/* Fills ctx->settings and ctx->exempt for ctx->namespace, ctx->username and
 * ctx->groups under policy p (borrowed; NULL means the built-in settings).
 * A NULL namespace gets the cluster rule. The settings stay valid while the
 * caller holds its reference to p. */
void policy_apply(const struct policy *p, struct context *ctx);

/* The allow-lists of ctx->settings, unless ctx->exempt, on what will run:
 * spec.image, spec.endpoint, spec.pretrainModel and spec.sourceUri of obj
 * (borrowed: the defaulted view), then every container and initContainer of
 * children (borrowed; NULL when none were rendered): their image, and the
 * http(s) URLs in their env values, args and command. A child's image equal
 * to spec.image, and a URL on spec.endpoint's or spec.pretrainModel's host,
 * are judged once, at the spec field; spec fields that already have an error
 * in errs are skipped. Appends policy denials to errs. */
/* 1 when policy_check() looks at the children for ctx: it is not exempt and
 * an image or endpoint-host allow-list applies. Callers that hold the
 * children in another form convert them only then. */
int policy_checks_children(const struct context *ctx);

void policy_check(const json_t *obj, const json_t *children, const struct context *ctx,
                  struct fielderr_list *errs);

#endif
