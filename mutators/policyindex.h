/*
 * policyindex.h - names to the rule that applies, in time that does not
 * grow with the number of rules: namespaces[].match (exact names and globs)
 * and the exempt users and groups.
 *
 * The precedence is the policy's (SPEC §4.8): an exact entry equal to the
 * name wins; else the longest glob that matches (length of the pattern as
 * written, wildcards counted), ties going to the lowest id (the first in
 * the file).
 *
 * How: the exact entries (and every pattern, for the duplicate check) sit
 * in one hash table. A glob can only match a name that starts with its
 * literal prefix (the bytes before its first '*' or '?') and ends with its
 * literal suffix (after its last one), so each glob is filed under the
 * longer of the two, and a lookup probes the name's own prefixes and
 * suffixes (at most POLICYINDEX_MAX_ANCHOR of each, hashed incrementally),
 * then tries only the globs filed there, best first, stopping as soon as
 * none left can beat the best match so far. Globs with neither ("*",
 * "*a*") are tried on every lookup. Patterns that share a long literal
 * prefix or suffix with many others ("team-*-a", "team-*-b", ...) are the
 * case where a lookup still tries many globs.
 */
#ifndef POLICYINDEX_H
#define POLICYINDEX_H

#include <stddef.h>

#define POLICYINDEX_NONE ((size_t)-1)
#define POLICYINDEX_MAX_ANCHOR 255  /* longest literal prefix or suffix filed */

struct policyindex;

/* An empty index for at most cap entries. */
struct policyindex *policyindex_new(size_t cap);

/* Files pattern (n bytes, borrowed: it must outlive ix) as entry id. glob:
 * '*' is any run and '?' any one byte (mutators/policymatch.h); 0: the
 * pattern is compared byte for byte. Returns 0, or -1 when the same bytes
 * were filed before, with *first the id they were filed as (the entry is
 * not filed again). Adding after policyindex_build(), or past cap, is a
 * caller's bug: it aborts. */
int policyindex_add(struct policyindex *ix, const char *pattern, size_t n, int glob, size_t id,
                    size_t *first);

/* Orders the globs for lookups; once, after the last policyindex_add(). */
void policyindex_build(struct policyindex *ix);

/* The id of the entry that applies to name (n bytes; globs are tried only
 * on a name with no NUL among them, followed by one), or POLICYINDEX_NONE.
 * Allocates nothing; safe from any number of threads at once. */
size_t policyindex_find(const struct policyindex *ix, const char *name, size_t n);

/* NULL is ignored. */
void policyindex_free(struct policyindex *ix);

#endif
