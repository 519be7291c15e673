/*
 * configchanges.h - spec.configChanges: comma-separated KEY=VALUE overrides
 * of a project's model config (SPEC §4.1).
 */
#ifndef CONFIGCHANGES_H
#define CONFIGCHANGES_H

#include <jansson.h>

#include "mutators/fielderr.h"
#include "mutators/projects.h"

#define CONFIGCHANGES_MAX_LEN 16384   /* bytes of the whole field */
#define CONFIGCHANGES_MAX_ENTRIES 256

/* Splits s into entries: commas inside [...], {...}, (...) or quotes do not
 * split; entries, keys and values are trimmed; empty entries are skipped.
 * Checks each key (dot-separated identifiers), value (non-empty, no control
 * characters), duplicates, and keys reserved by project p (may be NULL).
 * Returns a new array of "KEY=VALUE" strings in the user's order, or NULL
 * after appending errors under path. */
json_t *configchanges_parse(const char *s, const char *path, const struct project *p,
                            struct fielderr_list *errs);

#endif
