/*
 * dataset.c - Dataset: a sample data set cached near the GPUs (SPEC §2, §4.4).
 */
#include <stddef.h>

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

const struct kind dataset_kind = {
    .name = "Dataset",
    .plural = "datasets",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
};
