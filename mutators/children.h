/*
 * children.h - the building blocks of generated children, written once:
 * containers, volumes, pod templates, Jobs.
 *
 * The one rule that keeps user text inert (SPEC §4): a container's command
 * is fixed text of ours; everything that may carry user text goes into
 * `args` or an env value through these builders, one value per element.
 * Kubernetes itself expands "$(VAR)" in args and env values, so the builders
 * double every '$': the process receives the text exactly as written.
 *
 * Values are nodes (mutators/json/node.h), built in the node pool in force.
 * "stolen" arguments join the value built; other nodes are only read.
 * Allocation failure aborts, as everywhere in mutators/.
 */
#ifndef CHILDREN_H
#define CHILDREN_H

#include <jansson.h>

#include "mutators/json/node.h"

struct owner;

/* Shared volume layout of every pod we generate. */
#define CHILDREN_TASK_CENTER "/mnt/task-center"     /* the pvcName claim */
#define CHILDREN_DATA_CENTER "/mnt/data-center"     /* the SampleSet (paddle-operator mounts it),
                                                     * or the Dataset's claim (kubeflow) */
#define CHILDREN_VOLUME_DATA_CENTER "data-center"   /* kubeflow: the Dataset's claim in a pod */
#define CHILDREN_VOLUME_TASK_CENTER "task-center"

/* The MinIO bucket ModelHub uploads into and Serving downloads from. */
#define CHILDREN_MODEL_BUCKET "model-center"

/* Retries of every Job we generate before it is marked Failed. */
#define CHILDREN_JOB_BACKOFF_LIMIT 3

/* Image of the convert Job: Paddle Serving's client (paddle_serving_client),
 * with tar and mv. The image the original PaddleX pipeline converts with. */
#define CHILDREN_CONVERTER_IMAGE "registry.baidubce.com/paddleflow-public/serving:v0.6.2"

/* What a container does, for its cpu and memory requests (the built-in
 * ones below, under policy defaults.pod.resources.<role>). */
enum children_role {
    CHILDREN_ROLE_WORKER,       /* a PaddleJob's trainers */
    CHILDREN_ROLE_PS,           /* its parameter servers (kubeflow: its Master) */
    CHILDREN_ROLE_HELPER,       /* Jobs and init containers: download, export, convert, upload, sync */
    CHILDREN_ROLE_SERVING,      /* the InferenceService predictor */
    CHILDREN_ROLE_VISUALDL,
    CHILDREN_ROLE_COUNT,
};

/* Istio's per-pod switch: Kubeflow labels every profile namespace
 * istio-injection=enabled, and a sidecar keeps a Job's pod running after
 * its work is done (the Job never completes) and starts after the init
 * containers (their downloads have no network). */
#define CHILDREN_ISTIO_INJECT "sidecar.istio.io/inject"

struct settings;

/* Lays the settings' pod defaults over template ({metadata, spec}, changed
 * in place): annotations CHILDREN_ISTIO_INJECT "false" then
 * defaults.pod.annotations (which may set it otherwise), defaults.pod.labels
 * where the pod has no label of that key (the owner labels and selectors
 * stay), tolerations, nodeSelector, serviceAccountName and
 * priorityClassName; every container gets the requests of role, every init
 * container those of CHILDREN_ROLE_HELPER (children_resources()). */
void children_pod_settings(struct node *template, const struct settings *st, enum children_role role);

/* Sets container.resources for role under st: requests cpu and memory
 * (built-in, then defaults.pod.resources.requests, then
 * defaults.pod.resources.<role>.requests over them), limits likewise from
 * the policy; a resource limited there and not requested gets no built-in
 * request (the apiserver defaults a request to its limit). Limits already
 * on the container (GPUs) are kept. */
void children_resources(struct node *container, const struct settings *st, enum children_role role);

/* A new node of the JSON value v (borrowed: its strings must outlive the
 * pool, as the policy's do). false, null and reals have no node and are
 * left out; policy_parse() admits none where this is used. */
struct node *children_from_json(const json_t *v);

/* The volume names of the PaddleJob pods a Training generates for
 * paddle-operator, NULL-terminated. paddle-operator adds to each PaddleJob pod a volume named after the
 * SampleSet (controllers/paddlejob_helper.go, constructPodWithSampleSet,
 * sampleset branch), so a Dataset may not be named like one of them. */
extern const char *const children_pod_volumes[];

/* The entry of children_pod_volumes equal to name, or NULL. */
const char *children_reserved_volume(const char *name);

/* s as a string Kubernetes will not expand: every '$' doubled. New. */
struct node *children_literal(const char *s);

/* Appends s to args as one element, escaped by children_literal(). */
void children_arg(struct node *args, const char *s);

/* The same, of the strings joined, ended by NULL. */
void children_argcat(struct node *args, ...) __attribute__((sentinel));

/* A new args array of the NULL-terminated list of fixed strings. */
struct node *children_args(const char *const *list);

/* A new container {name, image, command, args}. command is a
 * NULL-terminated list of fixed strings (never user text); args is stolen
 * (built with children_arg) and omitted when NULL. */
struct node *children_container(const char *name, const char *image, const char *const *command,
                                struct node *args);

/* Appends a volumeMount {name, mountPath[, readOnly: true]} to container. */
void children_mount(struct node *container, const char *volume, const char *path, int read_only);

/* Appends env {name, value} to container; value escaped. */
void children_env(struct node *container, const char *name, const char *value);

/* Appends env {name, valueFrom.secretKeyRef {name: secret, key}}. */
void children_env_secret(struct node *container, const char *name, const char *secret, const char *key);

/* Sets container.resources.limits["nvidia.com/gpu"] = gpus (gpus > 0). */
void children_gpus(struct node *container, long long gpus);

/* A new volume backed by the claim. */
struct node *children_volume_claim(const char *name, const char *claim);

/* A new emptyDir volume; medium is "Memory" or NULL for the node's disk. */
struct node *children_volume_empty(const char *name, const char *medium);

/* The labels of child's pods: a new copy of child's (borrowed)
 * metadata.labels plus app.kubernetes.io/component=component. Also the
 * selector of a Deployment or Service over those pods. */
struct node *children_pod_labels(const struct node *child, const char *component);

/* A new pod template {metadata.labels: children_pod_labels(), spec};
 * pod_spec is stolen. */
struct node *children_pod_template(const struct node *child, const char *component, struct node *pod_spec);

/* A new batch/v1 Job named name, a child of owner, that
 * waits for after ("Kind/name" or NULL): restartPolicy Never, backoffLimit
 * CHILDREN_JOB_BACKOFF_LIMIT, its pod under st's pod defaults
 * (children_pod_settings(), CHILDREN_ROLE_HELPER). pod_spec is stolen;
 * restartPolicy is set on it. */
struct node *children_job(const struct owner *owner, const struct settings *st, const char *name,
                          const char *after, const char *component, struct node *pod_spec);

#endif
