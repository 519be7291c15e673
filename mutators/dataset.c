/*
 * dataset.c - Dataset: a sample data set cached near the GPUs (SPEC §2, §4.4).
 */
#include <stddef.h>

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

/* Dataset -> SampleSet (SPEC §4.4): the data set cached by paddle-operator;
 * a PaddleJob mounts it through sampleSetRef. */
static int expand(const json_t *obj, const struct context *ctx, const json_t *found,
                  struct node *children, struct fielderr_list *errs)
{
    const json_t *spec = json_object_get(obj, "spec");
    const char *secret = kinds_spec_string(spec, "sourceSecret");
    struct owner owner;
    struct node *set;

    kinds_owner(&dataset_kind, obj, &owner);
    set = kinds_child(&owner, "batch.paddlepaddle.org/v1alpha1", "SampleSet", owner.name, NULL);

    (void)ctx;
    (void)found;
    (void)errs;
    node_set(set, "spec",
                        node_obj("partitions", node_int(kinds_spec_int(spec, "partitions")), "source",
                                     node_obj("uri", node_str(kinds_spec_string(spec, "sourceUri")),
                                                  "secretRef", node_obj("name", node_str(secret), NULL),
                                                  NULL),
                                     "secretRef", node_obj("name", node_str(secret), NULL), NULL));
    node_append(children, set);
    return 0;
}

const struct kind dataset_kind = {
    .name = "Dataset",
    .plural = "datasets",
    .owner_label = KINDS_GROUP "/dataset",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .expand = expand,
};
