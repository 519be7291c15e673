/*
 * related.h - Metacontroller's customize hook (SPEC §9.3): which related
 * objects to send a parent's sync.
 *
 * POST /customize hands the body here. The answer lists the rules of
 * mutators/order.h (order_rules): the Dataset a Training waits for, the
 * Training a ModelHub waits for, the ModelHubs a Serving may wait for.
 * Metacontroller lists those objects and sends them in the sync request's
 * "related" map (webhook/sync.h), keyed "<Kind>.<apiVersion>" then by name
 * as children are (metacontroller v4.11.22,
 * pkg/controller/common/customize/manager.go, GetRelatedObjects).
 */
#ifndef RELATED_H
#define RELATED_H

#include <stddef.h>

/* Answers one customize hook request body (not necessarily NUL-terminated):
 * 200 with {"relatedResources": [...]} in *out, 400 with a short plain-text
 * reason when the body is not JSON, not an object, has no parent object,
 * a parent not of our kinds or one without metadata.namespace; 500 with
 * *out NULL when memory ran out. *out is malloc'd; the caller frees it. */
int related_customize(const char *body, size_t len, char **out, size_t *outlen);

#endif
