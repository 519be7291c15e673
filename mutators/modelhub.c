/*
 * modelhub.c - ModelHub: upload a trained model into MinIO with a version
 * (SPEC §2, §4.5).
 */
#include <stddef.h>

#include "mutators/children.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/kinds_table.h"

/* Waits for the packed model ($3: the convert Job of a Training publishes
 * it), then uploads it to bucket $2 of endpoint $1 under key $4, typed so
 * KServe's storage initializer unpacks it (a .tar.gz must be served as
 * application/x-tar, x-gtar, x-gzip or gzip), and lets that version's prefix
 * be downloaded anonymously: the storage initializer fetches an http(s)
 * STORAGE_URI without credentials. Fixed text: every user value is a
 * positional argument; credentials come from the environment. */
static const char upload_script[] =
    "set -eu\n"
    "endpoint=$1 bucket=$2 file=$3 key=$4\n"
    "until [ -f \"$file\" ]; do\n"
    "  echo \"paddlex: waiting for $file\"\n"
    "  sleep 30\n"
    "done\n"
    "mc alias set target \"$endpoint\" \"$MINIO_ACCESS_KEY\" \"$MINIO_SECRET_KEY\" >/dev/null\n"
    "mc mb --ignore-existing \"target/$bucket\"\n"
    "mc cp --attr \"Content-Type=application/x-gzip\" \"$file\" \"target/$bucket/$key\"\n"
    "mc anonymous set download \"target/$bucket/${key%/*}/\"\n";

static const struct field fields[] = {
    KINDS_FIELD_ENDPOINT,
    KINDS_FIELD_MODEL_NAME,
    KINDS_FIELD_MODEL_VERSION,
    { .name = "pvcName", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
};

/* ModelHub -> <name>-upload Job (SPEC §4.5). */
static int expand(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                  struct node *children, struct fielderr_list *errs)
{
    static const char *const sh[] = { "sh", "-c", upload_script, "paddlex-upload", NULL };
    const json_t *spec = json_object_get(obj, "spec");
    const char *model = kinds_spec_string(spec, "modelName");
    const char *secret = ctx->settings->credentials_secret;
    const char *file = node_cat(CHILDREN_TASK_CENTER "/", model, ".tar.gz", NULL);
    const char *key = node_cat(model, "/", kinds_spec_string(spec, "modelVersion"), "/", model, ".tar.gz", NULL);
    struct owner owner;
    struct node *c;

    (void)parsed;
    (void)errs;
    kinds_owner(&modelhub_kind, obj, &owner);
    c = children_container("upload", ctx->settings->uploader_image, sh,
                           children_args((const char *const[]){ kinds_spec_string(spec, "endpoint"),
                                                                CHILDREN_MODEL_BUCKET, file, key, NULL }));
    /* by default Kubeflow Pipelines' mlpipeline-minio-artifact, keys
     * accesskey and secretkey (policy credentials*) */
    children_env_secret(c, "MINIO_ACCESS_KEY", secret, ctx->settings->credentials_access_key);
    children_env_secret(c, "MINIO_SECRET_KEY", secret, ctx->settings->credentials_secret_key);
    children_mount(c, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 1);
    node_append(children,
                          children_job(&owner, ctx->settings, node_cat(owner.name, "-upload", NULL), NULL, "upload",
                                       node_obj("containers", node_list(c, NULL), "volumes",
                                                    node_list(children_volume_claim(
                                                                      CHILDREN_VOLUME_TASK_CENTER,
                                                                      kinds_spec_string(spec, "pvcName")),
                                                                  NULL),
                                                    NULL)));
    return 0;
}

const struct kind modelhub_kind = {
    .name = "ModelHub",
    .plural = "modelhubs",
    .owner_label = KINDS_GROUP "/modelhub",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .expand = expand,
};
