/*
 * dataset.c - Dataset: a sample data set brought near the GPUs (SPEC §2,
 * §4.4, §9.2). What it becomes depends on the operator the policy picks:
 *
 *   paddle-operator  a SampleSet (batch.paddlepaddle.org/v1alpha1, the
 *                    sampleset build): its JuiceFS engine syncs the source
 *                    and the PaddleJob mounts it through sampleSetRef;
 *   kubeflow         a PersistentVolumeClaim and a Job that fills it with
 *                    `juicefs sync` from the source: the Training
 *                    Operator's PaddleJob has no sampleSetRef, its pods
 *                    mount the claim read-only at CHILDREN_DATA_CENTER.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mutators/children.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/kinds_table.h"

static const struct field fields[] = {
    { .name = "partitions", .type = FIELD_INT, .flags = FIELD_DEFAULT | FIELD_MIN, .idefault = 1,
      .min = 1, .settings_cap = SETTINGS_CAP(max_partitions), .cap_name = "maxPartitions" },
    { .name = "sourceUri", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_source_uri },
    { .name = "sourceSecret", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
};

/* The keys of the source credentials in sourceSecret: those the JuiceFS
 * engine reads for a sync (juicefs.go JuiceFSSecretAK/JuiceFSSecretSK,
 * CreateSyncJobOptions), under both operators, so that one Secret serves
 * both. The kubeflow sync Job reads the policy's credential key names
 * instead when sourceSecret is the credentials Secret (Kubeflow Pipelines'
 * mlpipeline-minio-artifact: accesskey, secretkey), the data then being in
 * Kubeflow's own MinIO. */
#define SOURCE_ACCESS_KEY "access-key"
#define SOURCE_SECRET_KEY "secret-key"

/* Copies the source into $2 (the claim): `juicefs sync` with the source
 * credentials, when the Secret has them, in the address as JuiceFS reads
 * them ([NAME://][ACCESS_KEY:SECRET_KEY@]BUCKET[.ENDPOINT][/PREFIX]), and
 * both ends ending in '/' (a directory, as paddle-operator's sync makes
 * them). Fixed text: the source URI arrives as a positional argument,
 * the credentials from the environment. */
static const char sync_script[] =
    "set -eu\n"
    "src=$1 dst=$2\n"
    "scheme=${src%%://*} rest=${src#*://}\n"
    "case $src in */) ;; *) src=$src/ rest=$rest/ ;; esac\n"
    "if [ -n \"${ACCESS_KEY:-}\" ]; then\n"
    "  src=$scheme://$ACCESS_KEY:${SECRET_KEY:-}@$rest\n"
    "fi\n"
    "exec juicefs sync \"$src\" \"$dst\"\n";

/* Under paddle-operator the Dataset's name is the SampleSet's, and so the
 * name of a volume in every pod of the PaddleJob that mounts it. Under
 * kubeflow partitions (cache nodes of the JuiceFS engine) mean nothing. */
static void validate(const json_t *obj, const struct context *ctx, struct fielderr_list *errs,
                     json_t *warnings, struct kinds_parsed *parsed)
{
    (void)parsed;
    const json_t *name = json_object_get(json_object_get(obj, "metadata"), "name");
    const char *clash;

    if (policy_kubeflow(ctx->settings)) {
        if (kinds_spec_int(json_object_get(obj, "spec"), "partitions") > 1)
            json_array_append_new(warnings,
                                  json_string("spec.partitions: trainingOperator kubeflow copies the data "
                                              "into one claim; partitions are cache nodes of "
                                              "paddle-operator's SampleSet only"));
    } else if ((clash = children_reserved_volume(json_string_value(name)))) {
        fielderr_add(errs, FIELDERR_FORBIDDEN, "metadata.name", name,
                     "paddle-operator names a volume of each PaddleJob pod after the SampleSet, and "
                     "those pods already have a volume \"%s\"", clash);
    }
}

/* paddle-operator: SampleSet spec.secretRef is the engine's Secret
 * (JuiceFS keys name, storage, metaurl, bucket: juicefs.go
 * JuiceFSSecretDataKeys, checked by CreatePV), the source credentials are
 * spec.source.secretRef (base_controller.go SourceSecretObjectKey). */
static struct node *sampleset(const struct owner *owner, const json_t *spec, const struct context *ctx)
{
    struct node *set = kinds_child(owner, "batch.paddlepaddle.org/v1alpha1", "SampleSet", owner->name, NULL);

    node_set(set, "spec",
             node_obj("partitions", node_int(kinds_spec_int(spec, "partitions")), "source",
                      node_obj("uri", node_str(kinds_spec_string(spec, "sourceUri")), "secretRef",
                               node_obj("name", node_str(kinds_spec_string(spec, "sourceSecret")), NULL),
                               NULL),
                      "secretRef", node_obj("name", node_str(ctx->settings->engine_secret), NULL), NULL));
    return set;
}

/* env name from secret's key, absent when the Secret lacks it (a public
 * source needs none). */
static void env_optional_secret(struct node *c, const char *name, const char *secret, const char *key)
{
    struct node *env = node_get(c, "env");

    if (!env) {
        env = node_array();
        node_set(c, "env", env);
    }
    node_append(env, node_obj("name", node_str(name), "valueFrom",
                              node_obj("secretKeyRef",
                                       node_obj("name", node_str(secret), "key", node_str(key), "optional",
                                                node_true(), NULL),
                                       NULL),
                              NULL));
}

/* kubeflow: the claim <name> and the Job <name>-sync that fills it. */
static void claim_and_sync(const struct owner *owner, const json_t *spec, const struct context *ctx,
                           struct node *children)
{
    static const char *const sh[] = { "sh", "-c", sync_script, "paddlex-sync", NULL };
    const struct settings *st = ctx->settings;
    const char *secret = kinds_spec_string(spec, "sourceSecret");
    struct node *pvc = kinds_child(owner, "v1", "PersistentVolumeClaim", owner->name, NULL);
    struct node *pvc_spec, *c;

    /* many trainer pods on many nodes read it: ReadWriteMany, as the
     * pvcName claim every Training shares */
    pvc_spec = node_obj("accessModes", node_list(node_str("ReadWriteMany"), NULL), "resources",
                        node_obj("requests", node_obj("storage", node_str(st->data_claim_size), NULL), NULL),
                        NULL);
    if (st->data_storage_class)
        node_set(pvc_spec, "storageClassName", node_str(st->data_storage_class));
    node_set(pvc, "spec", pvc_spec);
    node_append(children, pvc);

    c = children_container("sync", st->data_sync_image, sh,
                           children_args((const char *const[]){ kinds_spec_string(spec, "sourceUri"),
                                                                CHILDREN_DATA_CENTER "/", NULL }));
    if (!strcmp(secret, st->credentials_secret)) {
        env_optional_secret(c, "ACCESS_KEY", secret, st->credentials_access_key);
        env_optional_secret(c, "SECRET_KEY", secret, st->credentials_secret_key);
    } else {
        env_optional_secret(c, "ACCESS_KEY", secret, SOURCE_ACCESS_KEY);
        env_optional_secret(c, "SECRET_KEY", secret, SOURCE_SECRET_KEY);
    }
    children_mount(c, CHILDREN_VOLUME_DATA_CENTER, CHILDREN_DATA_CENTER, 0);
    node_append(children,
                children_job(owner, st, node_cat(owner->name, "-sync", NULL), NULL, "sync",
                             node_obj("containers", node_list(c, NULL), "volumes",
                                      node_list(children_volume_claim(CHILDREN_VOLUME_DATA_CENTER,
                                                                      owner->name),
                                                NULL),
                                      NULL)));
}

static int expand(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                  struct node *children, struct fielderr_list *errs)
{
    const json_t *spec = json_object_get(obj, "spec");
    struct owner owner;

    (void)parsed;
    (void)errs;
    kinds_owner(&dataset_kind, obj, &owner);
    if (policy_kubeflow(ctx->settings))
        claim_and_sync(&owner, spec, ctx, children);
    else
        node_append(children, sampleset(&owner, spec, ctx));
    return 0;
}

const struct kind dataset_kind = {
    .name = "Dataset",
    .plural = "datasets",
    .owner_label = KINDS_GROUP "/dataset",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .validate = validate,
    .expand = expand,
};
