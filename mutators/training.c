/*
 * training.c - Training: a PaddlePaddle training job (SPEC §2, §4.1, §4.2).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mutators/configchanges.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/projects.h"

static void check_project(const char *path, const json_t *v, struct fielderr_list *errs)
{
    if (!projects_find(json_string_value(v)))
        fielderr_add(errs, FIELDERR_NOT_SUPPORTED, path, v, "supported values: %s", projects_supported());
}

static json_t *normalize_project(const char *s)
{
    const struct project *p = projects_find(s);

    return p && strcmp(p->name, s) != 0 ? json_string(p->name) : NULL;
}

/* needConvert follows saveInference. */
static json_t *default_need_convert(const json_t *obj, const struct context *ctx)
{
    const json_t *save = json_object_get(json_object_get(obj, "spec"), "saveInference");

    (void)ctx;
    return json_is_boolean(save) ? json_incref((json_t *)save) : NULL;
}

static const struct field fields[] = {
    { .name = "project", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .check = check_project,
      .normalize = normalize_project },
    { .name = "image", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .check = fields_check_image },
    { .name = "configPath", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_relpath },
    { .name = "dataset", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
    { .name = "pvcName", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
    { .name = "workerReplicas", .type = FIELD_INT, .flags = FIELD_REQUIRED | FIELD_MIN, .min = 0,
      .settings_cap = SETTINGS_CAP(max_worker_replicas), .cap_name = "maxWorkerReplicas" },
    { .name = "psReplicas", .type = FIELD_INT, .flags = FIELD_DEFAULT | FIELD_MIN, .min = 0,
      .settings_cap = SETTINGS_CAP(max_ps_replicas), .cap_name = "maxPsReplicas" },
    { .name = "gpuPerNode", .type = FIELD_INT, .flags = FIELD_DEFAULT | FIELD_MIN, .min = 0,
      .settings_cap = SETTINGS_CAP(max_gpu_per_node), .cap_name = "maxGpuPerNode" },
    { .name = "configChanges", .type = FIELD_STRING }, /* judged with the project below */
    { .name = "pretrainModel", .type = FIELD_STRING, .check = fields_check_pretrain_model },
    { .name = "trainLabel", .type = FIELD_STRING, .check = fields_check_relpath },
    { .name = "testLabel", .type = FIELD_STRING, .check = fields_check_relpath },
    { .name = "useVisualDL", .type = FIELD_BOOL, .flags = FIELD_DEFAULT, .idefault = 0 },
    { .name = "saveInference", .type = FIELD_BOOL, .flags = FIELD_DEFAULT, .idefault = 1 },
    { .name = "needConvert", .type = FIELD_BOOL, .fdefault = default_need_convert },
};

static void validate(const json_t *obj, const struct context *ctx, struct fielderr_list *errs,
                     json_t *warnings)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *workers = json_object_get(spec, "workerReplicas");
    const json_t *changes = json_object_get(spec, "configChanges");
    const char *project = kinds_spec_string(obj, "project");
    long long w = json_integer_value(workers), ps = kinds_spec_int(obj, "psReplicas");
    long long gpus = kinds_spec_int(obj, "gpuPerNode"), cap = ctx->settings->max_total_gpus;
    json_t *entries;

    if (workers && w >= 0 && ps >= 0 && w + ps < 1)
        fielderr_add(errs, FIELDERR_INVALID, "spec.workerReplicas", workers,
                     "workerReplicas + psReplicas must be at least 1");
    if (kinds_spec_bool(obj, "needConvert") && !kinds_spec_bool(obj, "saveInference"))
        fielderr_add(errs, FIELDERR_INVALID, "spec.needConvert", json_true(),
                     "requires spec.saveInference to be true");
    if (kinds_spec_bool(obj, "useVisualDL") && workers && w != 1) {
        char msg[160];

        snprintf(msg, sizeof(msg),
                 "spec.useVisualDL: VisualDL shows the logs of one worker, but workerReplicas is %lld", w);
        json_array_append_new(warnings, json_string(msg));
    }
    if (!ctx->exempt && cap != POLICY_NO_LIMIT && w > 0 && gpus > 0 && w * gpus > cap)
        fielderr_add_policy(errs, "spec.gpuPerNode", json_object_get(spec, "gpuPerNode"),
                            "workerReplicas x gpuPerNode = %lld exceeds the limit maxTotalGpus=%lld "
                            "(policy rule: %s)", w * gpus, cap, ctx->settings->rule);
    if (json_is_string(changes)) {
        entries = configchanges_parse(json_string_value(changes), "spec.configChanges",
                                      project ? projects_find(project) : NULL, errs);
        json_decref(entries);
    }
}

const struct kind training_kind = {
    .name = "Training",
    .plural = "trainings",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .validate = validate,
};
