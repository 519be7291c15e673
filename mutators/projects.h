/*
 * projects.h - the PaddlePaddle suites a Training can run, as data.
 *
 * Each project names its entry points and the config keys the expansion
 * sets itself; configChanges may not set those keys (SPEC §4.1).
 */
#ifndef PROJECTS_H
#define PROJECTS_H

/* What the expansion overrides in the project's config. */
enum project_key {
    PROJECT_KEY_USE_VISUALDL,
    PROJECT_KEY_SAVE_MODEL_DIR,
    PROJECT_KEY_SAVE_INFERENCE_DIR,
    PROJECT_KEY_PRETRAINED_MODEL,
    PROJECT_KEY_TRAIN_DATA_DIR,
    PROJECT_KEY_TRAIN_LABEL,
    PROJECT_KEY_EVAL_DATA_DIR,
    PROJECT_KEY_EVAL_LABEL,
    PROJECT_KEY_COUNT
};

struct project {
    const char *name;            /* canonical spelling: "PaddleOCR" */
    const char *train_entry;     /* "tools/train.py" */
    const char *export_entry;    /* "tools/export_model.py" */
    const char *config_flag;     /* "-c" */
    const char *override_flag;   /* "-o" */
    /* the config key of each enum project_key; NULL where the project has none */
    const char *keys[PROJECT_KEY_COUNT];
    int label_as_list;           /* label files are a list: ["/mnt/data-center/x"] */
};

/* The project named name, matched case-insensitively, or NULL. */
const struct project *projects_find(const char *name);

/* "\"PaddleOCR\", \"PaddleClas\", \"PaddleDetection\"" */
const char *projects_supported(void);

/* When key is one the expansion sets for p: the spec field to use instead
 * ("spec.pretrainModel"), or "" when no field sets it. NULL otherwise. */
const char *projects_reserved(const struct project *p, const char *key);

#endif
