/*
 * sync.h - Metacontroller's CompositeController sync hook (SPEC §4.6, §4.7).
 *
 * Bytes in, bytes out, like review.h: POST /sync hands the body here and
 * sends back what comes out. The desired children are the ones admission
 * sealed (else the ones kinds_render() gives now), filtered by ordering and
 * spec.action; the status reports what Metacontroller observed.
 *
 * Request  {controller, parent, children, related, finalizing}, children
 *          mapping "<Kind>.<apiVersion>" to {name: object}.
 * Response {status, children: [objects], resyncAfterSeconds?, finalized?}:
 *          resyncAfterSeconds while a child waits for its "after" target;
 *          finalized (only when finalizing) once no child is observed, so
 *          the same path serves as the finalize hook too.
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
 * related object it depends on exists and is not Ready (request.related,
 * declared through the customize hook: webhook/related.h).
 */
#ifndef SYNC_H
#define SYNC_H

#include <stddef.h>

struct policy;
struct sealer;

#define SYNC_RESYNC_SECONDS 15      /* resyncAfterSeconds while a child waits */

/* Answers one sync (or finalize) hook request body (not necessarily
 * NUL-terminated) under policy p (borrowed, may be NULL). Returns the HTTP
 * status: 200 with the JSON response in *out, 400 with a short plain-text
 * reason for a malformed request, 500 with *out NULL when memory ran out.
 * *out is malloc'd; the caller frees it.
 * Children: a parent's sealed spec.generated as admitted (sealer,
 * borrowed, may be NULL: then nothing is sealed), else what the rules and
 * policy in force render; an invalid parent keeps its observed children.
 * Malformed: not JSON (duplicate keys included), nested deeper than
 * REVIEW_MAX_JSON_DEPTH, not an object, no parent object, a parent not of
 * our kinds, children not a map of maps of objects, finalizing not a
 * boolean. Absent or null children/finalizing mean none/false, as
 * Metacontroller's Go decoding reads them. A parent that does not validate
 * is a 200: status.message lists every field error, its observed children
 * are returned unchanged and none is created (phase Failed when it has none). */
int sync_handle(const char *body, size_t len, const struct policy *p, const struct sealer *sealer,
                char **out, size_t *outlen);

#endif
