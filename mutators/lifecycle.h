/*
 * lifecycle.h - what a parent's children should be and what its status
 * says, from what Metacontroller observed (SPEC §4.6, §4.7, §9.1, §9.3).
 *
 * json_t in, the sync hook's answer out; webhook/sync.c reads the request
 * and writes the answer. The desired children are the ones admission
 * sealed (else the ones kinds_render() gives now), filtered by ordering
 * (mutators/order.h) and spec.action; the status reports what was
 * observed.
 *
 * Child phases in status.children[].phase:
 *   Pending    returned for creation (or created, not started yet)
 *   Waiting    withheld: its "after" target has not finished yet
 *   Skipped    withheld for good: its "after" target failed or was skipped
 *   Absent     not observed, and spec.action (patch, delete) or finalizing
 *              does not create it
 *   Running, Succeeded, Failed, Ready   read from the observed object
 * Parent phase (status.phase): Failed, Succeeded, Ready, Running, Pending.
 * status.conditions (Ready, Failed) follow from that status
 * (mutators/conditions.h). A parent's first child also waits while the
 * related object it depends on exists and is not Ready.
 *
 * What is read of each input, so that a caller may leave the rest unbuilt
 * (null): of the parent, kind, metadata.{name, namespace, generation},
 * spec and status.conditions; of a related object what order.h says; of
 * an observed child, kind, apiVersion, metadata (but managedFields) and
 * status, and, only when the answer must return it as observed (action
 * create or patch, or an invalid parent, and no last-applied
 * configuration of Metacontroller's naming it), all of it but
 * metadata.managedFields.
 */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <jansson.h>

struct kind;
struct policy;
struct sealer;

#define LIFECYCLE_RESYNC_SECONDS 15 /* resyncAfterSeconds while a child waits */
#define LIFECYCLE_MAX_DEPTH      100 /* nesting of a last-applied configuration */

/* An observed child's annotation with what Metacontroller last applied to
 * it: in lifecycle_sync.children, its value is held as the JSON text it
 * came as (a string literal, quotes and escapes and all), which is read
 * only when the child goes back as last applied. */
#define LIFECYCLE_LAST_APPLIED "metacontroller.k8s.io/last-applied-configuration"

/* One sync of one parent. */
struct lifecycle_sync {
    const struct kind *kind;  /* the parent's (kinds_of_object()) */
    const json_t *parent;     /* borrowed: an object of that kind */
    const json_t *children;   /* borrowed: "<Kind>.<apiVersion>" -> {name: object}; NULL: none */
    const json_t *related;    /* borrowed: the same shape (webhook/related.h); may be NULL */
    int finalizing;           /* the parent is being deleted */
    int skimmed;              /* the children's spec may be null: read for their phase only */
    int generated_sealed;     /* the parent's seal verified over its spec.generated as sent */
};

#define LIFECYCLE_WHOLE 1   /* lifecycle_answer(): the children are needed whole */

/* The answer {status, children: [objects], resyncAfterSeconds?,
 * finalized?} to in under policy p (borrowed, may be NULL), trusting the
 * seals sealer (borrowed, may be NULL) verifies, into *answer (new
 * reference). resyncAfterSeconds is set while a child waits for its
 * "after" target; finalized (only when finalizing) says whether no child
 * is observed, so that one answer serves the finalize hook too.
 * Children: a parent's sealed spec.generated as admitted, else what the
 * rules and policy in force render, judged with no exemption (no
 * requester is known); a parent that does not validate keeps its observed
 * children, gets none created, and status.message lists every field error
 * (phase Failed when it has no child).
 * Returns 0; -1 when memory ran out; LIFECYCLE_WHOLE (with *answer NULL)
 * when in->skimmed and the answer must return an observed child as it is:
 * call again with the children read whole. */
int lifecycle_answer(const struct lifecycle_sync *in, const struct policy *p, const struct sealer *sealer,
                     json_t **answer);

#endif
