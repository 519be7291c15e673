/*
 * patch.h - RFC 6902 JSON Patch between two documents.
 *
 * The apiserver applies a mutating webhook's patch strictly: an "add" whose
 * parent does not exist fails the request. patch_diff() therefore adds a
 * missing map whole, never a member beneath it.
 */
#ifndef PATCH_H
#define PATCH_H

#include <jansson.h>

/* The operations that turn from into to: a new array, empty when they are
 * equal. Objects are compared member by member (removed, added, replaced or
 * recursed into); arrays and scalars that differ are replaced whole. from
 * and to are borrowed. NULL only on allocation failure. */
json_t *patch_diff(const json_t *from, const json_t *to);

#endif
