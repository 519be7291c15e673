/*
 * policymatch.h - how a policy matches strings: globs, image prefixes,
 * schemes, and the four allow-lists as one table (SPEC §4.8).
 *
 * Both halves of the policy use it: loading (mutators/policyload.c) refuses
 * a default its own allow-lists would deny, checking (mutators/policy.c)
 * denies what a request would run.
 */
#ifndef POLICYMATCH_H
#define POLICYMATCH_H

#include <stddef.h>
#include <jansson.h>

#include "mutators/policy.h"

#define POLICYMATCH_SHOWN 8         /* allow-list entries quoted in a message */

struct fielderr_list;
struct strbuf;

/* 1 when s matches pat, where '*' is any run (the empty one too) and '?'
 * any one byte; the language of namespaces[].match and the host lists. */
int policymatch_glob(const char *pat, const char *s);

/* What an allow-list judges of a value: the value itself, its URL's host,
 * or its URL's scheme, into buf. Returns 0, or -1 when there is none. */
typedef int policymatch_key_fn(const char *value, char *buf, size_t len);

/* One allow-list, as data: where it lives, what it judges, how it matches. */
struct policymatch_allow {
    const char *field;          /* the spec field it judges: "image" */
    size_t list;                /* offsetof(struct settings, ...) */
    const char *list_name;      /* "imageRegistries" */
    const char *what;           /* "image", "host", "scheme" */
    policymatch_key_fn *key;
    int (*match)(const char *entry, const char *key);
    const char *relation;       /* "is not under any prefix in" */
};

enum { POLICYMATCH_IMAGE, POLICYMATCH_ENDPOINT, POLICYMATCH_PRETRAIN, POLICYMATCH_SOURCE,
       POLICYMATCH_COUNT };

extern const struct policymatch_allow policymatch_allows[POLICYMATCH_COUNT];

/* r's list in st (borrowed), NULL when absent (everything allowed). */
const json_t *policymatch_list(const struct policymatch_allow *r, const struct settings *st);

/* 1 when value is allowed by r under st (an absent list allows all). */
int policymatch_allowed(const struct policymatch_allow *r, const struct settings *st, const char *value);

/* Appends the entries of list, quoted, the first POLICYMATCH_SHOWN of
 * them, to sb: "\"a.io/\", \"b.io/\", ... 3 more". */
void policymatch_shown(struct strbuf *sb, const json_t *list);

/* Appends to errs the denial of value (borrowed) at path, quoting the list
 * and naming st's rule. */
void policymatch_deny(struct fielderr_list *errs, const char *path, const json_t *value,
                      const struct policymatch_allow *r, const struct settings *st);

#endif
