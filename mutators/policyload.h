/*
 * policyload.h - a policy document resolved into rules: what loading builds
 * and checking (mutators/policy.c) reads.
 *
 * A policy is resolved once, at load: the cluster's settings are the
 * built-in ones with the file's top-level sections laid over them, and
 * each namespaces[] entry holds the cluster's with its own sections laid
 * over those. Every string and list the settings point to lives in the
 * policy's own copy of the document. Nothing here changes after load, so
 * answering a request allocates nothing and takes no lock.
 */
#ifndef POLICYLOAD_H
#define POLICYLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <jansson.h>

#include "mutators/policy.h"

/* One namespaces[] entry, resolved. */
struct policyload_rule {
    const char *match;          /* borrowed from the policy's document */
    size_t len;
    size_t index;               /* position in the file */
    int glob;                   /* has '*' or '?' */
    char *name;                 /* "namespaces[team-*]", owned */
    struct settings settings;
};

struct policy {
    atomic_int refs;
    json_t *doc;                /* own copy: everything the settings point to */
    struct settings cluster;
    const json_t *exempt_users;  /* borrowed from doc; NULL for none */
    const json_t *exempt_groups;
    size_t nns;
    struct policyload_rule ns[]; /* by precedence: exact names, then longer globs */
};

/* policy_parse() (mutators/policy.h) does this: the strict parse of doc
 * (borrowed: copied, never kept) into a new policy holding one reference,
 * or NULL with every problem in err. */
struct policy *policyload_parse(const json_t *doc, const char *source, char *err, size_t errlen);

/* Frees p whatever its count (policy_unref() calls it for the last one). */
void policyload_free(struct policy *p);

#endif
