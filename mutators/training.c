/*
 * training.c - Training: a PaddlePaddle training job (SPEC §2, §4.1, §4.2).
 *
 * Expands into a PaddleJob, optionally a VisualDL Deployment and Service,
 * and the export and convert Jobs that leave <name>.tar.gz for a ModelHub.
 * What differs between suites is a row of mutators/projects.c; the builders
 * here read it and know no project by name. Every builder returns a new
 * reference; struct training is borrowed throughout.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/children.h"
#include "mutators/configchanges.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/kinds_table.h"
#include "mutators/projects.h"
#include "mutators/json/strbuf.h"

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

/* Label fields work only where the project has a config key for them. */
static void check_labels(const json_t *spec, const struct project *p, struct fielderr_list *errs)
{
    static const struct {
        const char *field, *path;
        enum project_key key;
    } labels[] = {
        { "trainLabel", "spec.trainLabel", PROJECT_KEY_TRAIN_LABEL },
        { "testLabel", "spec.testLabel", PROJECT_KEY_EVAL_LABEL },
    };

    for (size_t i = 0; p && i < sizeof(labels) / sizeof(labels[0]); i++)
        if (kinds_spec_string(spec, labels[i].field) && !p->keys[labels[i].key])
            fielderr_add(errs, FIELDERR_FORBIDDEN, labels[i].path, NULL,
                         "project %s takes its annotation files from its config: point the "
                         "config's dataset at " CHILDREN_DATA_CENTER " instead", p->name);
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
    /* the hard max holds for exempt users too: it bounds the --gpus list */
    { .name = "gpuPerNode", .type = FIELD_INT, .flags = FIELD_DEFAULT | FIELD_MIN | FIELD_MAX,
      .min = 0, .max = 1024, .settings_cap = SETTINGS_CAP(max_gpu_per_node),
      .cap_name = "maxGpuPerNode" },
    { .name = "configChanges", .type = FIELD_STRING }, /* judged with the project below */
    { .name = "pretrainModel", .type = FIELD_STRING, .check = fields_check_pretrain_model },
    { .name = "trainLabel", .type = FIELD_STRING, .check = fields_check_relpath },
    { .name = "testLabel", .type = FIELD_STRING, .check = fields_check_relpath },
    { .name = "useVisualDL", .type = FIELD_BOOL, .flags = FIELD_DEFAULT, .idefault = 0 },
    { .name = "saveInference", .type = FIELD_BOOL, .flags = FIELD_DEFAULT, .idefault = 1 },
    { .name = "needConvert", .type = FIELD_BOOL, .fdefault = default_need_convert },
};

/* What the operator the policy picks cannot run (SPEC §9.2).
 * kubeflow: the Training Operator's PaddleJob has the replica types Master
 * and Worker only (pkg/webhooks/paddlepaddle validateSpec). With a Master
 * it runs in PS mode: Master pods are the parameter servers
 * (PADDLE_SERVER_NUM=1) and Worker pods the trainers (PADDLE_TRAINER_NUM=1),
 * master-0 being the rendezvous (pkg/controller.v1/paddlepaddle/envvar.go,
 * setPodEnv). Parameter servers without a trainer would wait for ever.
 * paddle-operator: its pods get a volume named after the SampleSet
 * (children_pod_volumes). */
static void check_operator(const json_t *spec, const struct context *ctx, struct fielderr_list *errs)
{
    const json_t *workers = json_object_get(spec, "workerReplicas");
    const json_t *ps = json_object_get(spec, "psReplicas");
    const char *dataset = kinds_spec_string(spec, "dataset"), *clash;

    if (policy_kubeflow(ctx->settings)) {
        if (json_is_integer(workers) && json_is_integer(ps) && json_integer_value(ps) > 0 &&
            json_integer_value(workers) == 0) {
            fielderr_add(errs, FIELDERR_FORBIDDEN, "spec.psReplicas", ps,
                         "trainingOperator kubeflow (policy rule: %s) runs parameter servers as the "
                         "PaddleJob's Master beside its Worker trainers: psReplicas > 0 needs "
                         "workerReplicas >= 1", ctx->settings->rule);
            fielderr_also(errs, errs->len - 1, "spec.workerReplicas");
        }
    } else if ((clash = children_reserved_volume(dataset))) {
        fielderr_add(errs, FIELDERR_FORBIDDEN, "spec.dataset", json_object_get(spec, "dataset"),
                     "paddle-operator names the SampleSet's volume in each pod after it, and the "
                     "pods already have a volume \"%s\"", clash);
    }
}

static void validate(const json_t *obj, const struct context *ctx, struct fielderr_list *errs,
                     json_t *warnings, struct kinds_parsed *parsed)
{
    const json_t *spec = json_object_get(obj, "spec");
    const json_t *workers = json_object_get(spec, "workerReplicas");
    const json_t *changes = json_object_get(spec, "configChanges");
    const char *project = kinds_spec_string(spec, "project");
    long long w = json_integer_value(workers), ps = kinds_spec_int(spec, "psReplicas");
    long long gpus = kinds_spec_int(spec, "gpuPerNode"), cap = ctx->settings->max_total_gpus;
    json_t *entries;
    size_t before;
    long long sum, total;
    const json_t *save = json_object_get(spec, "saveInference");
    int counts = json_is_integer(workers) && json_is_integer(json_object_get(spec, "psReplicas"));
    /* the field rules refuse values past int32, but this runs beside them
     * (all errors at once), on whatever 64-bit values came: checked, so a
     * workerReplicas of 2^62 cannot wrap a product under maxTotalGpus */
    int sum_over = __builtin_add_overflow(w, ps, &sum);
    int total_over = __builtin_mul_overflow(w, gpus, &total);

    /* every rule reads only values of the right type: a wrong type is
     * reported by the field rules, the other errors still come with it */
    if (counts && w >= 0 && ps >= 0 && !sum_over && sum < 1) {
        fielderr_add(errs, FIELDERR_INVALID, "spec.workerReplicas", workers,
                     "workerReplicas + psReplicas must be at least 1");
        fielderr_also(errs, errs->len - 1, "spec.psReplicas");
    }
    if (kinds_spec_bool(spec, "needConvert") && json_is_false(save)) {
        fielderr_add(errs, FIELDERR_INVALID, "spec.needConvert", json_true(),
                     "requires spec.saveInference to be true");
        fielderr_also(errs, errs->len - 1, "spec.saveInference");
    }
    if (kinds_spec_bool(spec, "useVisualDL") && json_is_integer(workers) && w != 1) {
        char msg[160];

        snprintf(msg, sizeof(msg),
                 "spec.useVisualDL: VisualDL shows the logs of one worker, but workerReplicas is %lld", w);
        json_array_append_new(warnings, json_string(msg));
    }
    if (!ctx->exempt && cap != POLICY_NO_LIMIT && w > 0 && gpus > 0 && (total_over || total > cap)) {
        if (total_over)
            fielderr_add_policy(errs, "spec.gpuPerNode", json_object_get(spec, "gpuPerNode"),
                                "workerReplicas x gpuPerNode = %lld x %lld exceeds the limit "
                                "maxTotalGpus=%lld (policy rule: %s)", w, gpus, cap, ctx->settings->rule);
        else
            fielderr_add_policy(errs, "spec.gpuPerNode", json_object_get(spec, "gpuPerNode"),
                                "workerReplicas x gpuPerNode = %lld exceeds the limit maxTotalGpus=%lld "
                                "(policy rule: %s)", total, cap, ctx->settings->rule);
        fielderr_also(errs, errs->len - 1, "spec.workerReplicas");
    }
    check_operator(spec, ctx, errs);
    /* what the project reserves or forbids: judged again when it changes */
    before = errs->len;
    if (json_is_string(changes)) {
        entries = configchanges_parse(json_string_value(changes), "spec.configChanges",
                                      project ? projects_find(project) : NULL, errs);
        parsed->config_changes = entries;
        /* the expansion runs what parsed: an entry it could not parse is
         * never ratcheted into an expansion without it */
        fielderr_always(errs, before);
    }
    check_labels(spec, project ? projects_find(project) : NULL, errs);
    fielderr_also(errs, before, "spec.project");
}

/* Expansion (SPEC §4.2). Everything a Training runs lives on the pvcName
 * claim, mounted at CHILDREN_TASK_CENTER in every pod:
 *   models/          checkpoints (and VisualDL logs under models/vdl/)
 *   inference/       the exported inference model
 *   pretrain_model/  the pretrainModel download (a pod-local emptyDir
 *                    mounted over it: replicas never race on one file)
 *   serving/<name>/  the Paddle Serving model (server/, client/)
 *   <name>.tar.gz    that model packed for ModelHub; <name> is the
 *                    Training's metadata.name: the "modelName" a ModelHub
 *                    and a Serving name in their spec.modelName. */
#define MODELS_DIR CHILDREN_TASK_CENTER "/models/"
#define INFERENCE_DIR CHILDREN_TASK_CENTER "/inference/"
#define PRETRAIN_DIR CHILDREN_TASK_CENTER "/pretrain_model"
#define LOG_DIR CHILDREN_TASK_CENTER "/log"
#define VDL_DIR MODELS_DIR "vdl/"
#define SERVING_DIR CHILDREN_TASK_CENTER "/serving"
#define VISUALDL_PORT 8040
#define KUBEFLOW_MASTER_PORT 36543

/* Runs "$@" with one more argument "$1=<checkpoint>", the checkpoint being
 * the only match of "$2/<any>/$3.pdparams" without its extension: where a
 * project saves under a directory named inside its config (PaddleClas:
 * Arch.name). Fixed text: every value arrives as a positional argument. */
static const char find_checkpoint_script[] =
    "set -eu\n"
    "key=$1 dir=$2 file=$3\n"
    "shift 3\n"
    "found=\n"
    "for f in \"$dir\"/*/\"$file\".pdparams; do\n"
    "  [ -f \"$f\" ] || continue\n"
    "  if [ -n \"$found\" ]; then\n"
    "    echo \"paddlex: several checkpoints match $dir/*/$file.pdparams\" >&2\n"
    "    exit 1\n"
    "  fi\n"
    "  found=${f%.pdparams}\n"
    "done\n"
    "if [ -z \"$found\" ]; then\n"
    "  echo \"paddlex: no checkpoint matches $dir/*/$file.pdparams\" >&2\n"
    "  exit 1\n"
    "fi\n"
    "exec \"$@\" \"$key=$found\"\n";

/* The defaulted, valid spec the children are built from. */
struct training {
    struct owner owner;
    const struct context *ctx;
    const struct project *p;
    const char *name, *image, *config, *dataset, *pvc, *pretrain, *train_label, *test_label;
    long long workers, ps, gpus;
    int visualdl, save_inference, need_convert;
    json_t *overrides;               /* the user's "KEY=VALUE" entries (own reference) */
    const char *pretrain_file;       /* "x.pdparams", in the node pool */
    const char *pretrain_stem;       /* "x" */
    const char *config_stem;
};

/* The expansion's view of obj; parsed is what validate() left. */
static int training_load(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                         struct training *t, struct fielderr_list *errs)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *changes = kinds_spec_string(spec, "configChanges"), *base, *dot;
    char file[FIELDS_MAX_URI + 1];  /* a file name on its way into the pool */
    size_t n;

    memset(t, 0, sizeof(*t));
    t->ctx = ctx;
    kinds_owner(&training_kind, obj, &t->owner);
    t->name = t->owner.name;
    t->p = projects_find(kinds_spec_string(spec, "project"));
    t->image = kinds_spec_string(spec, "image");
    t->config = kinds_spec_string(spec, "configPath");
    t->dataset = kinds_spec_string(spec, "dataset");
    t->pvc = kinds_spec_string(spec, "pvcName");
    t->pretrain = kinds_spec_string(spec, "pretrainModel");
    t->train_label = kinds_spec_string(spec, "trainLabel");
    t->test_label = kinds_spec_string(spec, "testLabel");
    t->workers = kinds_spec_int(spec, "workerReplicas");
    t->ps = kinds_spec_int(spec, "psReplicas");
    t->gpus = kinds_spec_int(spec, "gpuPerNode");
    t->visualdl = kinds_spec_bool(spec, "useVisualDL");
    t->save_inference = kinds_spec_bool(spec, "saveInference");
    t->need_convert = kinds_spec_bool(spec, "needConvert");
    if (!t->p) {   /* validate() refused it already; kept for callers that skip it */
        fielderr_add(errs, FIELDERR_NOT_SUPPORTED, "spec.project", NULL, "supported values: %s",
                     projects_supported());
        return -1;
    }
    if (parsed->config_changes)
        t->overrides = json_incref(parsed->config_changes);
    else
        t->overrides = changes ? configchanges_parse(changes, "spec.configChanges", t->p, errs)
                               : json_array();
    if (!t->overrides)
        return -1;
    if (t->pretrain) {
        if (fields_pretrain_file(t->pretrain, 0, file, sizeof(file)) < 0) {
            fielderr_add(errs, FIELDERR_INVALID, "spec.pretrainModel", NULL, "must name a file NAME.pdparams");
            return -1;
        }
        t->pretrain_file = node_cat(file, NULL);
        file[strlen(file) - strlen(FIELDS_PRETRAIN_EXT)] = '\0';     /* it ends so */
        t->pretrain_stem = node_cat(file, NULL);
    }
    /* the config's file name without its extension, as ppdet's load_config */
    base = strrchr(t->config, '/');
    base = base ? base + 1 : t->config;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    if (n >= sizeof(file))
        n = sizeof(file) - 1;       /* validate() bounds configPath */
    memcpy(file, base, n);
    file[n] = '\0';
    t->config_stem = node_cat(file, NULL);
    return 0;
}

/* Appends "-o" when the project wants it before every override. */
static void override_flag_each(struct node *args, const struct project *p)
{
    if (p->override_each)
        children_arg(args, p->override_flag);
}

/* Appends the override "key=<the strings joined>" (ended by NULL), after
 * "-o" when the project repeats the flag. */
static void add_override(struct node *args, const struct project *p, const char *key, ...)
    __attribute__((sentinel));

static void add_override(struct node *args, const struct project *p, const char *key, ...)
{
    va_list ap;
    const char *value;

    va_start(ap, key);
    value = node_vcat(ap);
    va_end(ap);
    override_flag_each(args, p);
    children_arg(args, node_cat(key, "=", value, NULL));
}

/* Appends "<entry> -c <configPath> [flags] [-o] <user overrides>": the part
 * of the training and export commands that is the same. */
static void add_command_head(struct node *args, const struct training *t, const char *entry,
                             const char *const *flags)
{
    size_t i;
    json_t *o;

    children_arg(args, entry);
    children_arg(args, t->p->config_flag);
    children_arg(args, t->config);
    for (; flags && *flags; flags++)
        children_arg(args, *flags);
    if (!t->p->override_each)
        children_arg(args, t->p->override_flag);
    json_array_foreach(t->overrides, i, o) {
        override_flag_each(args, t->p);
        children_arg(args, node_cat(json_string_value(o), NULL));   /* outlives overrides */
    }
}

/* "<dir><layout>/<file>", in the node pool. */
static const char *layout_path(const char *dir, enum project_layout layout, const char *file,
                               const struct training *t)
{
    if (layout == PROJECT_LAYOUT_CONFIG_STEM)
        return node_cat(dir, t->config_stem, "/", file, NULL);
    if (layout == PROJECT_LAYOUT_ANY_SUBDIR)
        return node_cat(dir, "*/", file, NULL);
    return node_cat(dir, file, NULL);
}

/* The generated training overrides, in enum project_key order (SPEC §4.2). */
static void add_training_overrides(struct node *args, const struct training *t)
{
    const struct project *p = t->p;

    for (int k = 0; k < PROJECT_KEY_TRAIN_COUNT; k++) {
        const char *key = p->keys[k];

        if (!key)
            continue;
        switch ((enum project_key)k) {
        case PROJECT_KEY_USE_VISUALDL:
            if (t->visualdl)
                add_override(args, p, key, "True", NULL);
            break;
        case PROJECT_KEY_SAVE_MODEL_DIR:
            add_override(args, p, key, MODELS_DIR, NULL);
            break;
        case PROJECT_KEY_SAVE_INFERENCE_DIR:
            add_override(args, p, key, INFERENCE_DIR, NULL);
            break;
        case PROJECT_KEY_PRETRAINED_MODEL:
            if (t->pretrain)
                add_override(args, p, key, PRETRAIN_DIR "/", t->pretrain_stem, NULL);
            break;
        case PROJECT_KEY_TRAIN_DATA_DIR:
        case PROJECT_KEY_EVAL_DATA_DIR:
            add_override(args, p, key, CHILDREN_DATA_CENTER "/", NULL);
            break;
        case PROJECT_KEY_TRAIN_LABEL:
        case PROJECT_KEY_EVAL_LABEL: {
            const char *label = k == PROJECT_KEY_TRAIN_LABEL ? t->train_label : t->test_label;

            if (label && p->label_as_list)
                add_override(args, p, key, "[\"" CHILDREN_DATA_CENTER "/", label, "\"]", NULL);
            else if (label)
                add_override(args, p, key, CHILDREN_DATA_CENTER "/", label, NULL);
            break;
        }
        default:
            break;
        }
    }
}

/* python [-m paddle.distributed.launch ...] <entry> -c <config> ...:
 * the launcher with gpus > 0 (on that many devices), or always with
 * launch (the Training Operator's rendezvous, PADDLE_MASTER and
 * PADDLE_NNODES, is read by paddle.distributed.launch only). */
static struct node *training_args(const struct training *t, long long ngpus, int launch)
{
    struct node *args = node_array();
    struct strbuf gpus = STRBUF_INIT;
    const char *flags[3] = { NULL };
    int nflags = 0;

    if (ngpus > 0 || launch) {
        children_arg(args, "-m");
        children_arg(args, "paddle.distributed.launch");
    }
    if (ngpus > 0) {
        for (long long g = 0; g < ngpus; g++) {
            if (g)
                strbuf_addch(&gpus, ',');
            strbuf_adddec(&gpus, (unsigned long long)g, 1);
        }
        children_arg(args, "--gpus");
        children_arg(args, node_cat(gpus.buf, NULL));
    }
    if (ngpus > 0 || launch) {
        children_arg(args, "--log_dir");
        children_arg(args, LOG_DIR);
    }
    if (t->visualdl && t->p->vdl_switch_flag)
        flags[nflags++] = node_cat(t->p->vdl_switch_flag, "=True", NULL);
    if (t->visualdl && t->p->vdl_dir_flag)
        flags[nflags++] = node_cat(t->p->vdl_dir_flag, "=" VDL_DIR, NULL);
    add_command_head(args, t, t->p->train_entry, flags);
    add_training_overrides(args, t);
    strbuf_release(&gpus);
    return args;
}

/* curl of pretrainModel into the pod-local pretrain_model directory. */
static struct node *pretrain_container(const struct training *t)
{
    static const char *const curl[] = { "curl", NULL };
    struct node *args = children_args((const char *const[]){ "-fsSL", "--retry", "3", "-o", NULL });
    struct node *c;

    children_argcat(args, PRETRAIN_DIR "/", t->pretrain_file, NULL);
    children_arg(args, t->pretrain);
    c = children_container("pretrain-model", t->ctx->settings->downloader_image, curl, args);
    children_mount(c, "pretrain-model", PRETRAIN_DIR, 0);
    return c;
}

/* The pod template of one PaddleJob role: the container named "paddle"
 * (both operators find it by that name), workers with the GPUs, under the
 * policy's pod defaults. kubeflow pods mount the Dataset's claim
 * read-only at CHILDREN_DATA_CENTER, and name the port the Training
 * Operator reads the rendezvous port from ("master", 36543:
 * PaddleJobDefaultPortName, PaddleJobDefaultPort in
 * pkg/apis/kubeflow.org/v1/paddlepaddle_types.go); paddle-operator mounts
 * the SampleSet itself (sampleSetRef). */
static struct node *paddlejob_template(const struct training *t, const struct node *job, const char *role,
                                       int worker)
{
    static const char *const python[] = { "python", NULL };
    int kubeflow = policy_kubeflow(t->ctx->settings);
    long long ngpus = worker ? t->gpus : 0;
    struct node *c, *volumes = node_array(), *spec = node_object(), *template;

    /* paddle-operator: ps pods run what workers run (the seed's shape) */
    c = children_container("paddle", t->image, python,
                           training_args(t, kubeflow ? ngpus : t->gpus, kubeflow));
    if (kubeflow)
        node_set(c, "ports", node_list(node_obj("name", node_str("master"), "containerPort",
                                                node_int(KUBEFLOW_MASTER_PORT), "protocol",
                                                node_str("TCP"), NULL),
                                       NULL));
    children_mount(c, "dshm", "/dev/shm", 0);
    children_mount(c, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 0);
    node_append(volumes, children_volume_empty("dshm", "Memory"));
    node_append(volumes, children_volume_claim(CHILDREN_VOLUME_TASK_CENTER, t->pvc));
    if (kubeflow) {
        children_mount(c, CHILDREN_VOLUME_DATA_CENTER, CHILDREN_DATA_CENTER, 1);
        node_append(volumes, node_obj("name", node_str(CHILDREN_VOLUME_DATA_CENTER), "persistentVolumeClaim",
                                      node_obj("claimName", node_str(t->dataset), "readOnly", node_true(),
                                               NULL),
                                      NULL));
    }
    if (t->pretrain) {
        children_mount(c, "pretrain-model", PRETRAIN_DIR, 0);
        node_append(volumes, children_volume_empty("pretrain-model", NULL));
        node_set(spec, "initContainers", node_list(pretrain_container(t), NULL));
    }
    if (ngpus > 0)
        children_gpus(c, ngpus);
    node_set(spec, "containers", node_list(c, NULL));
    node_set(spec, "volumes", volumes);
    template = children_pod_template(job, role, spec);
    children_pod_settings(template, t->ctx->settings, worker ? CHILDREN_ROLE_WORKER : CHILDREN_ROLE_PS);
    return template;
}

/* One paddle-operator PaddleJob role {replicas, template}. */
static struct node *paddlejob_role(const struct training *t, const struct node *job, long long replicas,
                                   const char *role, int worker)
{
    return node_obj("replicas", node_int(replicas), "template", paddlejob_template(t, job, role, worker),
                    NULL);
}

/* paddle-operator (batch.paddlepaddle.org/v1, its sampleset branch):
 * spec.worker and spec.ps as the spec asks (SPEC §4.2). */
static struct node *paddlejob(const struct training *t)
{
    struct node *job = kinds_child(&t->owner, "batch.paddlepaddle.org/v1", "PaddleJob", t->name, NULL);
    struct node *spec = node_obj("cleanPodPolicy", node_str("OnCompletion"), "withGloo", node_int(1),
                                "intranet", node_str("PodIP"), "sampleSetRef",
                                node_obj("name", node_str(t->dataset), "mountPath",
                                             node_str(CHILDREN_DATA_CENTER), NULL),
                                NULL);

    if (t->workers > 0)
        node_set(spec, "worker", paddlejob_role(t, job, t->workers, "worker", 1));
    if (t->ps > 0)
        node_set(spec, "ps", paddlejob_role(t, job, t->ps, "ps", 0));
    node_set(job, "spec", spec);
    return job;
}

/* One Training Operator replica spec {replicas, restartPolicy, template}. */
static struct node *kubeflow_replicas(const struct training *t, const struct node *job, long long replicas,
                                      const char *role, int worker)
{
    return node_obj("replicas", node_int(replicas), "restartPolicy", node_str("OnFailure"), "template",
                    paddlejob_template(t, job, role, worker), NULL);
}

/* kubeflow (kubeflow.org/v1, the Training Operator): Worker replicas are
 * the trainers (collective mode without a Master, worker-0 the
 * rendezvous); psReplicas become the Master replicas, the parameter
 * servers of PS mode (envvar.go, setPodEnv). runPolicy: pods still
 * running when the job ends are removed, finished ones kept for their
 * logs; OnFailure restarts counted against backoffLimit. */
static struct node *kubeflow_paddlejob(const struct training *t)
{
    struct node *job = kinds_child(&t->owner, "kubeflow.org/v1", "PaddleJob", t->name, NULL);
    struct node *replicas = node_object();

    if (t->ps > 0)
        node_set(replicas, "Master", kubeflow_replicas(t, job, t->ps, "master", 0));
    if (t->workers > 0)
        node_set(replicas, "Worker", kubeflow_replicas(t, job, t->workers, "worker", 1));
    node_set(job, "spec",
             node_obj("runPolicy",
                      node_obj("cleanPodPolicy", node_str("Running"), "backoffLimit",
                               node_int(CHILDREN_JOB_BACKOFF_LIMIT), NULL),
                      "paddleReplicaSpecs", replicas, NULL));
    return job;
}

/* VisualDL over the training logs: a Deployment and its Service. */
static void visualdl(const struct training *t, struct node *children)
{
    static const char *const visualdl_cmd[] = { "visualdl", NULL };
    const char *name = node_cat(t->name, "-visualdl", NULL);
    struct node *deploy, *svc, *c, *spec, *template;

    deploy = kinds_child(&t->owner, "apps/v1", "Deployment", name, NULL);
    c = children_container("visualdl", t->ctx->settings->visualdl_image, visualdl_cmd,
                           children_args((const char *const[]){ "--logdir", VDL_DIR, "--host",
                                                                "0.0.0.0", "--port", "8040", NULL }));
    node_set(c, "ports", node_list(node_obj("name", node_str("http"), "containerPort",
                                                               node_int(VISUALDL_PORT), "protocol",
                                                               node_str("TCP"), NULL),
                                                  NULL));
    children_mount(c, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 1);
    spec = node_obj("containers", node_list(c, NULL), "volumes",
                        node_list(children_volume_claim(CHILDREN_VOLUME_TASK_CENTER, t->pvc), NULL), NULL);
    template = children_pod_template(deploy, "visualdl", spec);
    children_pod_settings(template, t->ctx->settings, CHILDREN_ROLE_VISUALDL);
    node_set(deploy, "spec",
                        node_obj("replicas", node_int(1), "selector",
                                     node_obj("matchLabels", children_pod_labels(deploy, "visualdl"), NULL),
                                     "template", template, NULL));
    svc = kinds_child(&t->owner, "v1", "Service", name, NULL);
    node_set(svc, "spec",
                        node_obj("selector", children_pod_labels(deploy, "visualdl"), "ports",
                                     node_list(node_obj("name", node_str("http"), "port",
                                                                node_int(VISUALDL_PORT), "targetPort",
                                                                node_int(VISUALDL_PORT), "protocol",
                                                                node_str("TCP"), NULL),
                                                   NULL),
                                     NULL));
    node_append(children, deploy);
    node_append(children, svc);
}

/* <name>-export: the project's export entry on the last checkpoint. */
static struct node *export_job(const struct training *t)
{
    static const char *const python[] = { "python", NULL };
    static const char *const sh[] = { "sh", "-c", find_checkpoint_script, "paddlex-export", NULL };
    const struct project *p = t->p;
    const char *weights_key = p->keys[PROJECT_KEY_EXPORT_WEIGHTS];
    const char *flags[2] = { NULL };
    int find = p->weights_layout == PROJECT_LAYOUT_ANY_SUBDIR;
    struct node *args = node_array(), *c;

    if (p->export_dir_flag)
        flags[0] = node_cat(p->export_dir_flag, "=" INFERENCE_DIR, NULL);
    if (find) {
        /* find_checkpoint_script's key, dir and file, then the command */
        children_arg(args, weights_key);
        children_arg(args, CHILDREN_TASK_CENTER "/models");
        children_arg(args, p->weights);
        children_arg(args, "python");
    }
    add_command_head(args, t, p->export_entry, flags);
    if (p->keys[PROJECT_KEY_SAVE_INFERENCE_DIR])
        add_override(args, p, p->keys[PROJECT_KEY_SAVE_INFERENCE_DIR], INFERENCE_DIR, NULL);
    if (find) {
        override_flag_each(args, p); /* the script appends the override itself */
    } else {
        add_override(args, p, weights_key, layout_path(MODELS_DIR, p->weights_layout, p->weights, t), NULL);
    }
    c = children_container("export", t->image, find ? sh : python, args);
    children_mount(c, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 0);
    if (t->gpus > 0)
        children_gpus(c, 1); /* the suites export on the device they trained on */
    return children_job(&t->owner, t->ctx->settings, node_cat(t->name, "-export", NULL),
                        node_cat("PaddleJob/", t->name, NULL),
                        "export",
                        node_obj("containers", node_list(c, NULL), "volumes",
                                 node_list(children_volume_claim(CHILDREN_VOLUME_TASK_CENTER, t->pvc), NULL),
                                 NULL));
}

/* <name>-convert: the inference model to a Paddle Serving model, packed as
 * <name>.tar.gz. Three exec steps, no shell: convert, pack into a hidden
 * file, rename into place (the ModelHub upload never sees half a file). */
static struct node *convert_job(const struct training *t)
{
    static const char *const convert_cmd[] = { "python3", "-m", "paddle_serving_client.convert", NULL };
    static const char *const tar[] = { "tar", NULL };
    static const char *const mv[] = { "mv", NULL };
    const struct project *p = t->p;
    const char *tmp = node_cat(CHILDREN_TASK_CENTER "/.", t->name, ".tar.gz.tmp", NULL);
    const char *out = node_cat(CHILDREN_TASK_CENTER "/", t->name, ".tar.gz", NULL);
    struct node *args = node_array(), *convert, *pack, *publish;

    children_arg(args, "--dirname");
    children_arg(args, layout_path(INFERENCE_DIR, p->inference_layout, "", t));
    children_arg(args, "--model_filename");
    children_arg(args, p->model_file);
    children_arg(args, "--params_filename");
    children_arg(args, p->params_file);
    children_arg(args, "--serving_server");
    children_argcat(args, SERVING_DIR "/", t->name, "/server/", NULL);
    children_arg(args, "--serving_client");
    children_argcat(args, SERVING_DIR "/", t->name, "/client/", NULL);
    convert = children_container("convert", CHILDREN_CONVERTER_IMAGE, convert_cmd, args);

    args = children_args((const char *const[]){ "-czf", tmp, "-C", SERVING_DIR, t->name, NULL });
    pack = children_container("pack", CHILDREN_CONVERTER_IMAGE, tar, args);
    args = children_args((const char *const[]){ "-f", tmp, out, NULL });
    publish = children_container("publish", CHILDREN_CONVERTER_IMAGE, mv, args);
    children_mount(convert, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 0);
    children_mount(pack, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 0);
    children_mount(publish, CHILDREN_VOLUME_TASK_CENTER, CHILDREN_TASK_CENTER, 0);

    return children_job(&t->owner, t->ctx->settings, node_cat(t->name, "-convert", NULL),
                        node_cat("Job/", t->name, "-export", NULL),
                        "convert",
                        node_obj("initContainers", node_list(convert, pack, NULL), "containers",
                                 node_list(publish, NULL), "volumes",
                                 node_list(children_volume_claim(CHILDREN_VOLUME_TASK_CENTER, t->pvc), NULL),
                                 NULL));
}

static int expand(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                  struct node *children, struct fielderr_list *errs)
{
    struct training t;
    int rc = -1;

    if (training_load(obj, ctx, parsed, &t, errs) < 0)
        goto out;
    node_append(children, policy_kubeflow(ctx->settings) ? kubeflow_paddlejob(&t) : paddlejob(&t));
    if (t.visualdl)
        visualdl(&t, children);
    if (t.save_inference)
        node_append(children, export_job(&t));
    if (t.save_inference && t.need_convert)
        node_append(children, convert_job(&t));
    rc = 0;
out:
    json_decref(t.overrides);
    return rc;
}

const struct kind training_kind = {
    .name = "Training",
    .plural = "trainings",
    .owner_label = KINDS_GROUP "/training",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .validate = validate,
    .expand = expand,
};
