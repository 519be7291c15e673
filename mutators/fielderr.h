/*
 * fielderr.h - a list of field errors, like Kubernetes' field.ErrorList.
 *
 * Validation never stops at the first problem: every rule appends an entry
 * {path, type, value, detail} and the webhook formats the whole list once,
 * in the apiserver's words:
 *
 *     spec.port: Invalid value: 70000: must be between 1 and 65535
 *     spec.sourceUri: Required value
 */
#ifndef FIELDERR_H
#define FIELDERR_H

#include <stddef.h>
#include <jansson.h>

#include "mutators/json/strbuf.h"

enum fielderr_type {
    FIELDERR_REQUIRED,      /* "Required value",   FieldValueRequired */
    FIELDERR_INVALID,       /* "Invalid value",    FieldValueInvalid */
    FIELDERR_NOT_SUPPORTED, /* "Unsupported value", FieldValueNotSupported */
    FIELDERR_FORBIDDEN,     /* "Forbidden",        FieldValueForbidden */
    FIELDERR_TOO_LONG,      /* "Too long",         FieldValueTooLong */
    FIELDERR_DUPLICATE,     /* "Duplicate value",  FieldValueDuplicate */
    FIELDERR_TOO_MANY,      /* "Too many",         FieldValueTooMany: the cap's entry */
};

/* A list keeps its first FIELDERR_MAX_KEPT errors whole; every later one
 * only counts, in one last entry in the words of Kubernetes' field.TooMany:
 *
 *     spec: Too many: 99906: only the first 100 errors are listed
 *
 * whose path is the longest path prefix (at a '.' or '[') the uncounted
 * errors share, and whose value is the number of errors found. An object
 * with 99,900 unknown fields so costs 101 entries, not 99,900: the answer
 * and the work per review stay bounded whatever the input (issue 18). */
#define FIELDERR_MAX_KEPT 100

/* A bad value is quoted up to this many bytes of its JSON text, then "...". */
#define FIELDERR_MAX_VALUE 1024

struct fielderr {
    char *path;             /* "spec.workerReplicas" */
    enum fielderr_type type;
    json_t *value;          /* the bad value (own reference), or NULL */
    char *detail;           /* may be NULL */
    int policy;             /* 1 when a policy rule, not the schema, refused it */
    const char *also;       /* a second field the rule read (static), or NULL */
    int always;             /* never ratcheted: a value of the wrong shape (absent when
                             * required, wrong type, NUL) from which nothing may be built */
};

struct fielderr_list {
    struct fielderr *v;
    size_t len, cap;            /* entries in v: at most FIELDERR_MAX_KEPT + 1 */
    size_t total;               /* errors added, kept or only counted: compare this
                                 * before and after a rule to learn if it failed */
    size_t more;                /* of them only counted, in the last entry (0: none) */
};

#define FIELDERR_LIST_INIT { NULL, 0, 0, 0, 0 }

/* Appends one error. value is borrowed (a reference is taken); fmt may be
 * NULL for no detail. Past FIELDERR_MAX_KEPT the error is only counted
 * (nothing formatted). Allocation failure aborts: the list is small. */
void fielderr_add(struct fielderr_list *l, enum fielderr_type type, const char *path,
                  const json_t *value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Same, marked as a policy denial (403 Forbidden when it is the only kind). */
void fielderr_add_policy(struct fielderr_list *l, const char *path, const json_t *value,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Records that entries from index `from` on also read the field at path
 * (a static string, e.g. "spec.psReplicas"), so that an UPDATE judges
 * them again when either field changed. */
void fielderr_also(struct fielderr_list *l, size_t from, const char *path);

/* Marks the entries from index `from` on as always judged (.always). */
void fielderr_always(struct fielderr_list *l, size_t from);

/* Drops the entries from index `from` on for which keep() returns 0,
 * keeping the order of the others; total follows. The cap's entry stands
 * for every error it counts: keep() judges it by its path (what they
 * share), and dropping it drops them all. */
void fielderr_filter(struct fielderr_list *l, size_t from,
                     int (*keep)(const struct fielderr *e, void *arg), void *arg);

/* Frees every entry; the list can be reused. */
void fielderr_release(struct fielderr_list *l);

/* 1 when every entry is a policy denial (and there is at least one). */
int fielderr_all_policy(const struct fielderr_list *l);

/* "Invalid value", "Required value", ... */
const char *fielderr_type_string(enum fielderr_type type);

/* "FieldValueInvalid", ... as in status.details.causes[].reason */
const char *fielderr_reason(enum fielderr_type type);

/* The error without its path, as Kubernetes' ErrorBody():
 * "Invalid value: -1: must be greater than or equal to 0". Returns a new
 * malloc'd string. */
char *fielderr_body(const struct fielderr *e);

/* "<path>: <body>" as a new malloc'd string. */
char *fielderr_string(const struct fielderr *e);

/* Appends the list to sb as an apiserver message lists it (the one
 * formatter of error lists: the denial's status.message, the sync hook's
 * status.message): the one error's string alone, or "[e1, e2, ...]",
 * the shape apierrors.NewInvalid gives a field.ErrorList through its
 * aggregate (k8s.io/apimachinery pkg/util/errors, aggregate.Error()). */
void fielderr_join(struct strbuf *sb, const struct fielderr_list *l);

#endif
