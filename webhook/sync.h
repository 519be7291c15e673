/*
 * sync.h - Metacontroller's CompositeController sync hook (SPEC §4.6, §4.7)
 * on the wire.
 *
 * Bytes in, bytes out, like review.h: POST /sync hands the body here and
 * sends back what comes out. What the answer holds (desired children,
 * child and parent phases, conditions) is mutators/lifecycle.h's.
 *
 * Request  {controller, parent, children, related, finalizing}, children
 *          (and related) mapping "<Kind>.<apiVersion>" to {name: object}.
 * Response {status, children: [objects], resyncAfterSeconds?, finalized?}:
 *          resyncAfterSeconds while a child waits for its "after" target;
 *          finalized (only when finalizing) once no child is observed, so
 *          the same path serves as the finalize hook too.
 */
#ifndef SYNC_H
#define SYNC_H

#include <stddef.h>

struct policy;
struct sealer;

/* Answers one sync (or finalize) hook request body (not necessarily
 * NUL-terminated) under policy p (borrowed, may be NULL). Returns the HTTP
 * status: 200 with the JSON response in *out, 400 with a short plain-text
 * reason for a malformed request, 500 with *out NULL when memory ran out.
 * *out is malloc'd; the caller frees it.
 * Seals verify with sealer (borrowed, may be NULL: then nothing is
 * sealed); the answer is lifecycle_answer()'s. Malformed: not JSON
 * (duplicate keys included), nested deeper than REVIEW_MAX_JSON_DEPTH, not
 * an object, no parent object, a parent not of our kinds, children not a
 * map of maps of objects, finalizing not a boolean. Absent or null
 * children/finalizing mean none/false, as Metacontroller's Go decoding
 * reads them. A parent that does not validate is a 200 (see
 * lifecycle.h). */
int sync_handle(const char *body, size_t len, const struct policy *p, const struct sealer *sealer,
                char **out, size_t *outlen);

#endif
