/*
 * projects.h - the PaddlePaddle suites a Training can run, as data.
 *
 * Each project names its entry points, how its command line takes a config
 * file and overrides, the config keys the expansion sets itself (which
 * configChanges may not set, SPEC §4.1), and where it writes checkpoints and
 * the exported inference model. training.c turns one row into the PaddleJob
 * and the export/convert Jobs; no other code knows a project by name.
 *
 * Sources (the suites' own CLIs):
 *   PaddleOCR       tools/program.py ArgsParser: -c FILE, -o K=V... (nargs='+');
 *                   checkpoints <save_model_dir>/latest.pdparams each epoch;
 *                   tools/export_model.py writes inference.pdmodel/.pdiparams
 *                   into Global.save_inference_dir.
 *   PaddleClas      ppcls/utils/config.py parse_args: -c FILE, -o K=V
 *                   (action='append': one -o per override); checkpoints
 *                   <output_dir>/<Arch.name>/latest.pdparams; export writes
 *                   inference.pdmodel/.pdiparams into Global.save_inference_dir.
 *   PaddleDetection ppdet/utils/cli.py ArgsParser: -c FILE, -o K=V... (nargs='*');
 *                   tools/train.py --use_vdl/--vdl_log_dir; checkpoints
 *                   <save_dir>/<config stem>/model_final.pdparams;
 *                   tools/export_model.py --output_dir DIR writes
 *                   DIR/<config stem>/model.pdmodel/.pdiparams.
 */
#ifndef PROJECTS_H
#define PROJECTS_H

#include <stddef.h>

/* Config keys the expansion sets. The training keys come first, in the
 * order their overrides follow the user's (SPEC §4.2). */
enum project_key {
    PROJECT_KEY_USE_VISUALDL,
    PROJECT_KEY_SAVE_MODEL_DIR,
    PROJECT_KEY_SAVE_INFERENCE_DIR,
    PROJECT_KEY_PRETRAINED_MODEL,
    PROJECT_KEY_TRAIN_DATA_DIR,
    PROJECT_KEY_TRAIN_LABEL,
    PROJECT_KEY_EVAL_DATA_DIR,
    PROJECT_KEY_EVAL_LABEL,
    PROJECT_KEY_TRAIN_COUNT,
    /* set by the export Job only: the trained checkpoint it loads */
    PROJECT_KEY_EXPORT_WEIGHTS = PROJECT_KEY_TRAIN_COUNT,
    PROJECT_KEY_COUNT
};

/* Where a suite puts a file under the directory it is told to write to. */
enum project_layout {
    PROJECT_LAYOUT_FLAT,        /* <dir>/<file> */
    PROJECT_LAYOUT_CONFIG_STEM, /* <dir>/<config file name without extension>/<file> */
    PROJECT_LAYOUT_ANY_SUBDIR,  /* <dir>/<a name inside the config>/<file>: found at run time */
};

struct project {
    const char *name;            /* canonical spelling: "PaddleOCR" */
    const char *train_entry;     /* "tools/train.py" */
    const char *export_entry;    /* "tools/export_model.py" */
    const char *config_flag;     /* "-c" */
    const char *override_flag;   /* "-o" */
    int override_each;           /* the flag precedes every override (argparse
                                    append) instead of all of them (nargs) */
    /* the config key of each enum project_key; NULL where the project has none */
    const char *keys[PROJECT_KEY_COUNT];
    int label_as_list;           /* label files are a list: ["/mnt/data-center/x"] */
    /* command-line flags where a project has no config key: passed as
     * "<flag>=True" / "<flag>=<dir>"; NULL when unused */
    const char *vdl_switch_flag; /* "--use_vdl" */
    const char *vdl_dir_flag;    /* "--vdl_log_dir" */
    const char *export_dir_flag; /* "--output_dir" (else keys[SAVE_INFERENCE_DIR]) */
    /* the checkpoint the export loads, under the save-model directory,
     * without ".pdparams" */
    enum project_layout weights_layout;
    const char *weights;         /* "latest" */
    /* the exported inference model, under the inference directory */
    enum project_layout inference_layout;
    const char *model_file;      /* "inference.pdmodel" */
    const char *params_file;     /* "inference.pdiparams" */
};

/* The project named name, matched case-insensitively, or NULL. */
const struct project *projects_find(const char *name);

/* "\"PaddleOCR\", \"PaddleClas\", \"PaddleDetection\"" */
const char *projects_supported(void);

/* When key[0..klen) is one the expansion sets for p: the spec field that
 * decides it ("spec.pretrainModel"). NULL otherwise. */
const char *projects_reserved(const struct project *p, const char *key, size_t klen);

#endif
