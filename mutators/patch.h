/*
 * patch.h - RFC 6902 JSON Patch between two documents.
 *
 * The apiserver applies a mutating webhook's patch strictly: an "add" whose
 * parent does not exist fails the request. The diff therefore adds a
 * missing map whole, never a member beneath it.
 */
#ifndef PATCH_H
#define PATCH_H

#include <stddef.h>

#include <jansson.h>

#include "mutators/json/strbuf.h"

/* Appends to out, as compact JSON text, the array of operations that turn
 * from into to, and returns their number; appends nothing when they are
 * equal. Objects are compared member by member (removed, added, replaced
 * or recursed into); arrays and scalars that differ are replaced whole.
 * from and to are borrowed. */
size_t patch_diff_text(const json_t *from, const json_t *to, struct strbuf *out);

/* The same, joining an array out already holds open: its '[' and written
 * operations, whose number is count (0: nothing written yet). Closes the
 * array when it holds any operation; returns their number in all. */
size_t patch_diff_append(const json_t *from, const json_t *to, struct strbuf *out, size_t count);

/* The same operations as a new jansson array (empty when equal). */
json_t *patch_diff(const json_t *from, const json_t *to);

#endif
