/*
 * projects.c - the table of supported projects (sources in projects.h).
 */
#include "mutators/projects.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static const struct project table[] = {
    {
        .name = "PaddleOCR",
        .train_entry = "tools/train.py",
        .export_entry = "tools/export_model.py",
        .config_flag = "-c",
        .override_flag = "-o",
        .keys = {
            [PROJECT_KEY_USE_VISUALDL] = "Global.use_visualdl",
            [PROJECT_KEY_SAVE_MODEL_DIR] = "Global.save_model_dir",
            [PROJECT_KEY_SAVE_INFERENCE_DIR] = "Global.save_inference_dir",
            [PROJECT_KEY_PRETRAINED_MODEL] = "Global.pretrained_model",
            [PROJECT_KEY_TRAIN_DATA_DIR] = "Train.dataset.data_dir",
            [PROJECT_KEY_TRAIN_LABEL] = "Train.dataset.label_file_list",
            [PROJECT_KEY_EVAL_DATA_DIR] = "Eval.dataset.data_dir",
            [PROJECT_KEY_EVAL_LABEL] = "Eval.dataset.label_file_list",
            /* a full checkpoint: loaded before, and without, the
             * static-weights conversion pretrained_model may ask for */
            [PROJECT_KEY_EXPORT_WEIGHTS] = "Global.checkpoints",
        },
        .label_as_list = 1,
        .weights_layout = PROJECT_LAYOUT_FLAT,
        .weights = "latest",        /* written every epoch; best_accuracy needs an eval */
        .inference_layout = PROJECT_LAYOUT_FLAT,
        .model_file = "inference.pdmodel",
        .params_file = "inference.pdiparams",
    },
    {
        .name = "PaddleClas",
        .train_entry = "tools/train.py",
        .export_entry = "tools/export_model.py",
        .config_flag = "-c",
        .override_flag = "-o",
        .override_each = 1,
        .keys = {
            [PROJECT_KEY_USE_VISUALDL] = "Global.use_visualdl",
            [PROJECT_KEY_SAVE_MODEL_DIR] = "Global.output_dir",
            [PROJECT_KEY_SAVE_INFERENCE_DIR] = "Global.save_inference_dir",
            [PROJECT_KEY_PRETRAINED_MODEL] = "Global.pretrained_model",
            [PROJECT_KEY_TRAIN_DATA_DIR] = "DataLoader.Train.dataset.image_root",
            [PROJECT_KEY_TRAIN_LABEL] = "DataLoader.Train.dataset.cls_label_path",
            [PROJECT_KEY_EVAL_DATA_DIR] = "DataLoader.Eval.dataset.image_root",
            [PROJECT_KEY_EVAL_LABEL] = "DataLoader.Eval.dataset.cls_label_path",
            [PROJECT_KEY_EXPORT_WEIGHTS] = "Global.pretrained_model",
        },
        /* saved under <output_dir>/<Arch.name>/: Arch.name lives in the
         * config inside the image, so the export Job finds the one match */
        .weights_layout = PROJECT_LAYOUT_ANY_SUBDIR,
        .weights = "latest",
        .inference_layout = PROJECT_LAYOUT_FLAT,
        .model_file = "inference.pdmodel",
        .params_file = "inference.pdiparams",
    },
    {
        .name = "PaddleDetection",
        .train_entry = "tools/train.py",
        .export_entry = "tools/export_model.py",
        .config_flag = "-c",
        .override_flag = "-o",
        /* No data keys: ppdet's -o merge replaces the whole TrainDataset
         * object with a dict ("module TrainDataset is not registered"), so
         * the config's dataset_dir must point into /mnt/data-center. */
        .keys = {
            [PROJECT_KEY_SAVE_MODEL_DIR] = "save_dir",
            [PROJECT_KEY_PRETRAINED_MODEL] = "pretrain_weights",
            [PROJECT_KEY_EXPORT_WEIGHTS] = "weights",
        },
        .vdl_switch_flag = "--use_vdl",
        .vdl_dir_flag = "--vdl_log_dir",
        .export_dir_flag = "--output_dir",
        .weights_layout = PROJECT_LAYOUT_CONFIG_STEM,
        .weights = "model_final",
        .inference_layout = PROJECT_LAYOUT_CONFIG_STEM,
        .model_file = "model.pdmodel",
        .params_file = "model.pdiparams",
    },
};

/* The spec field that sets each key, where one does. */
/* The spec field that decides each key: directories live on the pvcName
 * claim, data on the dataset's mount (SPEC §4.1: name the field to use). */
static const char *const key_field[PROJECT_KEY_COUNT] = {
    [PROJECT_KEY_USE_VISUALDL] = "spec.useVisualDL",
    [PROJECT_KEY_SAVE_MODEL_DIR] = "spec.pvcName",
    [PROJECT_KEY_SAVE_INFERENCE_DIR] = "spec.pvcName",
    [PROJECT_KEY_PRETRAINED_MODEL] = "spec.pretrainModel",
    [PROJECT_KEY_TRAIN_DATA_DIR] = "spec.dataset",
    [PROJECT_KEY_TRAIN_LABEL] = "spec.trainLabel",
    [PROJECT_KEY_EVAL_DATA_DIR] = "spec.dataset",
    [PROJECT_KEY_EVAL_LABEL] = "spec.testLabel",
    [PROJECT_KEY_EXPORT_WEIGHTS] = "spec.saveInference",
};

const struct project *projects_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(table) / sizeof(table[0]); i++)
        if (!strcasecmp(table[i].name, name))
            return &table[i];
    return NULL;
}

const char *projects_supported(void)
{
    return "\"PaddleOCR\", \"PaddleClas\", \"PaddleDetection\"";
}

const char *projects_reserved(const struct project *p, const char *key, size_t klen)
{
    for (int i = 0; i < PROJECT_KEY_COUNT; i++)
        if (p->keys[i] && p->keys[i][0] == key[0] && !strncmp(p->keys[i], key, klen) && !p->keys[i][klen])
            return key_field[i];
    return NULL;
}
