/*
 * kinds_table.h - the kinds kinds.c dispatches through and the metrics
 * label. Adding a kind is one file defining its struct kind, plus one line
 * here, one in kinds.c's kinds_table and KINDS_COUNT one higher.
 */
#ifndef KINDS_TABLE_H
#define KINDS_TABLE_H

#include "mutators/kinds.h"

extern const struct kind dataset_kind;
extern const struct kind training_kind;
extern const struct kind modelhub_kind;
extern const struct kind serving_kind;

#define KINDS_COUNT 4

/* Every kind, in a fixed order (the metrics' kind index is a position). */
extern const struct kind *const kinds_table[KINDS_COUNT];

#endif
