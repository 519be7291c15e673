/*
 * kinds_table.h - the kinds kinds.c dispatches through. Adding a kind is one
 * file defining its struct kind, plus one line here and one in kinds.c.
 */
#ifndef KINDS_TABLE_H
#define KINDS_TABLE_H

#include "mutators/kinds.h"

extern const struct kind dataset_kind;
extern const struct kind training_kind;
extern const struct kind modelhub_kind;
extern const struct kind serving_kind;

#endif
