/*
 * policyfile.h - reading a policy file (SPEC §4.8) from disk.
 *
 * The file is YAML or JSON holding one WebhookPolicy document; its meaning
 * and strict rules are mutators/policy.h's. This is the one place that
 * touches the file system for it: serve (at start and on every change),
 * review and render all load through policyfile_load().
 */
#ifndef POLICYFILE_H
#define POLICYFILE_H

#include <stddef.h>

struct policy;

#define POLICYFILE_MAX_BYTES (1u << 20)   /* a policy file is small; refuse more */
#define POLICYFILE_MAX_ERROR 4096         /* a good size for err: every problem of a file */

/* Reads and parses the policy file at path. Returns a new policy holding one
 * reference (release with policy_unref()), or NULL with one line in err:
 * "<path>: <why>", e.g.
 *     policy.yaml: cannot open: No such file or directory
 *     policy.yaml: line 3, column 1: mapping values are not allowed here
 *     policy.yaml: namespaces[1].limits.maxGpuPerNode: must be an integer ≥ 0 */
struct policy *policyfile_load(const char *path, char *err, size_t errlen);

#endif
