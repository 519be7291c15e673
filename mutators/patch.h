/*
 * patch.h - the JSON Patch (RFC 6902) of a mutation: the one place its
 * wire text is written.
 *
 * The apiserver applies a mutating webhook's patch strictly: an "add"
 * whose parent does not exist fails the request. A spec that was absent
 * (or null) is therefore added (replaced) whole, never member by member.
 */
#ifndef PATCH_H
#define PATCH_H

#include <stddef.h>

#include "mutators/kinds.h"
#include "mutators/json/strbuf.h"

/* Appends to out, as compact JSON text, the array of operations that make
 * of the object kinds_mutate() was given the one it left (m borrowed):
 * one per change of a spec that was an object, else one that adds (or
 * replaces) the spec whole; the children go in as m->text, copied.
 * Returns the number of operations, and appends nothing when there is
 * none. */
size_t patch_write(const struct kinds_mutation *m, struct strbuf *out);

#endif
