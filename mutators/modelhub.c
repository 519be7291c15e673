/*
 * modelhub.c - ModelHub: upload a trained model into MinIO with a version
 * (SPEC §2, §4.5).
 */
#include <stddef.h>

#include "mutators/fields.h"
#include "mutators/kinds.h"

static const struct field fields[] = {
    KINDS_FIELD_ENDPOINT,
    KINDS_FIELD_MODEL_NAME,
    KINDS_FIELD_MODEL_VERSION,
    { .name = "pvcName", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_dns1123_subdomain },
};

const struct kind modelhub_kind = {
    .name = "ModelHub",
    .plural = "modelhubs",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
};
