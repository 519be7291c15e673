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
 * Ownership: functions returning json_t * return a new reference; "stolen"
 * arguments are consumed even on failure; other json_t * are borrowed.
 * Allocation failure aborts, as everywhere in mutators/.
 */
#ifndef CHILDREN_H
#define CHILDREN_H

#include <jansson.h>

/* Shared volume layout of every pod we generate. */
#define CHILDREN_TASK_CENTER "/mnt/task-center"     /* the pvcName claim */
#define CHILDREN_DATA_CENTER "/mnt/data-center"     /* the SampleSet (paddle-operator mounts it) */
#define CHILDREN_VOLUME_TASK_CENTER "task-center"

/* The MinIO bucket ModelHub uploads into and Serving downloads from. */
#define CHILDREN_MODEL_BUCKET "model-center"

/* Retries of every Job we generate before it is marked Failed. */
#define CHILDREN_JOB_BACKOFF_LIMIT 3

/* Image of the convert Job: Paddle Serving's client (paddle_serving_client),
 * with tar and mv. The image the original PaddleX pipeline converts with. */
#define CHILDREN_CONVERTER_IMAGE "registry.baidubce.com/paddleflow-public/serving:v0.6.2"

/* s as a string Kubernetes will not expand: every '$' doubled. New. */
json_t *children_literal(const char *s);

/* Builders for the children's JSON. Every string they are given is either
 * our own text or a value jansson already checked as UTF-8, so they skip
 * jansson's checks (json_pack re-parsed its format and re-checked every
 * string on each call: a quarter of a review's CPU time). */

/* A new string of s. */
json_t *children_str(const char *s);

/* A new object from key, value pairs ended by NULL; values are stolen. */
json_t *children_obj(const char *key, json_t *value, ...);

/* A new array of the values, ended by NULL; values are stolen. */
json_t *children_list(json_t *value, ...);

/* Appends s to args as one element, escaped by children_literal(). */
void children_arg(json_t *args, const char *s);

/* The same, formatted. */
void children_argf(json_t *args, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A new args array of the NULL-terminated list of fixed strings. */
json_t *children_args(const char *const *list);

/* A new container {name, image, command, args}. command is a
 * NULL-terminated list of fixed strings (never user text); args is stolen
 * (built with children_arg) and omitted when NULL. */
json_t *children_container(const char *name, const char *image, const char *const *command,
                           json_t *args);

/* Appends a volumeMount {name, mountPath[, readOnly: true]} to container. */
void children_mount(json_t *container, const char *volume, const char *path, int read_only);

/* Appends env {name, value} to container; value escaped. */
void children_env(json_t *container, const char *name, const char *value);

/* Appends env {name, valueFrom.secretKeyRef {name: secret, key}}. */
void children_env_secret(json_t *container, const char *name, const char *secret, const char *key);

/* Sets container.resources.limits["nvidia.com/gpu"] = gpus (gpus > 0). */
void children_gpus(json_t *container, long long gpus);

/* A new volume backed by the claim. */
json_t *children_volume_claim(const char *name, const char *claim);

/* A new emptyDir volume; medium is "Memory" or NULL for the node's disk. */
json_t *children_volume_empty(const char *name, const char *medium);

/* The labels of child's pods: a new copy of child's (borrowed)
 * metadata.labels plus app.kubernetes.io/component=component. Also the
 * selector of a Deployment or Service over those pods. */
json_t *children_pod_labels(const json_t *child, const char *component);

/* A new pod template {metadata.labels: children_pod_labels(), spec};
 * pod_spec is stolen. */
json_t *children_pod_template(const json_t *child, const char *component, json_t *pod_spec);

/* A new batch/v1 Job named name, owned by owner (borrowed, defaulted), that
 * waits for after ("Kind/name" or NULL): restartPolicy Never, backoffLimit
 * CHILDREN_JOB_BACKOFF_LIMIT. pod_spec is stolen; restartPolicy is set on it. */
json_t *children_job(const json_t *owner, const char *name, const char *after,
                     const char *component, json_t *pod_spec);

#endif
