/*
 * dataset.c - Dataset: a sample data set cached near the GPUs (SPEC §2, §4.4).
 */
#include <stddef.h>

#include "mutators/children.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"

static const struct field fields[] = {
    { .name = "partitions", .type = FIELD_INT, .flags = FIELD_DEFAULT | FIELD_MIN, .idefault = 1,
      .min = 1, .settings_cap = SETTINGS_CAP(max_partitions), .cap_name = "maxPartitions" },
    { .name = "sourceUri", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_source_uri },
    { .name = "sourceSecret", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
};

/* Dataset -> SampleSet (SPEC §4.4): the data set cached by paddle-operator;
 * a PaddleJob mounts it through sampleSetRef. */
static int expand(const json_t *obj, const struct context *ctx, json_t *children,
                  struct fielderr_list *errs)
{
    const char *secret = kinds_spec_string(obj, "sourceSecret");
    json_t *set = kinds_child(obj, "batch.paddlepaddle.org/v1alpha1", "SampleSet", kinds_name(obj), NULL);

    (void)ctx;
    (void)errs;
    json_object_set_new(set, "spec",
                        children_obj("partitions", json_integer(kinds_spec_int(obj, "partitions")), "source",
                                     children_obj("uri", children_str(kinds_spec_string(obj, "sourceUri")),
                                                  "secretRef", children_obj("name", children_str(secret), NULL),
                                                  NULL),
                                     "secretRef", children_obj("name", children_str(secret), NULL), NULL));
    json_array_append_new(children, set);
    return 0;
}

const struct kind dataset_kind = {
    .name = "Dataset",
    .plural = "datasets",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .expand = expand,
};
