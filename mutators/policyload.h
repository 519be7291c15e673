/*
 * policyload.h - a policy document resolved into rules: what loading builds
 * and checking (mutators/policy.c) reads.
 *
 * A policy is resolved once, at load: the cluster's settings are the
 * built-in ones with the file's top-level sections laid over them, and
 * each namespaces[] entry holds the cluster's with its own sections laid
 * over those. Every string and list the settings point to lives in the
 * document the policy holds a reference to, or in its list of normalized
 * values. Nothing here changes after load, so
 * answering a request allocates nothing and takes no lock.
 */
#ifndef POLICYLOAD_H
#define POLICYLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <jansson.h>

#include "mutators/policy.h"

struct policyindex;     /* mutators/policyindex.h */

/* One namespaces[] entry, resolved. */
struct policyload_rule {
    const char *match;          /* borrowed from the policy's document */
    char *name;                 /* "namespaces[team-*]", owned */
    struct settings settings;
};

struct policy {
    atomic_int refs;
    json_t *doc;                /* a reference to the document: what the settings
                                 * point to, with normalized */
    json_t *normalized;         /* values normalized at load (defaults.endpoint),
                                 * which settings point to; owned */
    struct settings cluster;
    const json_t *exempt_users;  /* borrowed from doc; NULL for none */
    const json_t *exempt_groups;
    struct policyindex *users;  /* exempt_users by name, id = position; owned */
    struct policyindex *groups; /* exempt_groups likewise */
    struct policyindex *names;  /* ns[] by match, id = position: the rule for a
                                 * namespace is ns[policyindex_find()]; owned */
    size_t nns;
    struct policyload_rule ns[]; /* in the file's order */
};

/* policy_parse() (mutators/policy.h) does this: the strict parse of doc
 * (borrowed: copied, never kept) into a new policy holding one reference,
 * or NULL with every problem in err. */
struct policy *policyload_parse(const json_t *doc, const char *source, char *err, size_t errlen);

/* Frees p whatever its count (policy_unref() calls it for the last one). */
void policyload_free(struct policy *p);

#endif
