/*
 * serving.c - Serving: a model version served online (SPEC §2, §4.3).
 */
#include <stddef.h>

#include "mutators/fields.h"
#include "mutators/kinds.h"

static json_t *default_port(const json_t *obj, const struct context *ctx)
{
    (void)obj;
    return json_integer(ctx->settings->port);
}

static const struct field fields[] = {
    { .name = "image", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_image_pinned },
    KINDS_FIELD_MODEL_NAME,
    KINDS_FIELD_MODEL_VERSION,
    KINDS_FIELD_ENDPOINT,
    { .name = "port", .type = FIELD_INT, .flags = FIELD_MIN | FIELD_MAX, .fdefault = default_port,
      .min = 1, .max = 65535 },
};

const struct kind serving_kind = {
    .name = "Serving",
    .plural = "servings",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
};
