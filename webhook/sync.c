/*
 * sync.c - Metacontroller's sync hook on the wire (see sync.h): the
 * request read, mutators/lifecycle.c asked, the answer written.
 *
 * The request is read skimmed first: the members no decision reads
 * (managedFields, the controller, the observed children's spec, the
 * related objects' children and annotations) are checked as strictly as
 * the rest but not built. Only when the answer must return an observed
 * child as it is (lifecycle_answer() says LIFECYCLE_WHOLE: action create
 * or patch of a child without Metacontroller's last-applied annotation)
 * is it read again with the children's spec.
 */
#include "webhook/sync.h"

#include <jansson.h>

#include "mutators/json/arena.h"
#include "mutators/json/jsonparse.h"
#include "mutators/kinds.h"
#include "mutators/lifecycle.h"
#include "webhook/review.h"

#define REASON_MAX 256              /* a 400's plain-text reason */

/* 1 when children is a map of maps of objects. */
static int children_ok(const json_t *children)
{
    const char *key, *name;
    json_t *group, *obj;

    if (!json_is_object(children))
        return 0;
    json_object_foreach((json_t *)children, key, group) {
        if (!json_is_object(group))
            return 0;
        json_object_foreach(group, name, obj)
            if (!json_is_object(obj))
                return 0;
    }
    return 1;
}

/* NULL when req is a sync request we can answer, else why not. */
static const char *malformed(const json_t *req, const struct kind **k)
{
    const json_t *parent = json_object_get(req, "parent"), *children = json_object_get(req, "children");
    const json_t *fin = json_object_get(req, "finalizing");

    if (!json_is_object(req))
        return "request body is not a JSON object";
    if (!json_is_object(parent))
        return "parent is missing or not an object";
    *k = kinds_of_object(parent);
    if (!*k)
        return "parent is not a " KINDS_API_VERSION " object of a known kind";
    if (children && !json_is_null(children) && !children_ok(children))
        return "children is not a map of <Kind>.<apiVersion> to maps of objects";
    if (fin && !json_is_null(fin) && !json_is_boolean(fin))
        return "finalizing is not a boolean";
    return NULL;
}

int sync_handle(const char *body, size_t len, const struct policy *p, const struct sealer *sealer,
                char **out, size_t *outlen)
{
    struct lifecycle_sync in = { 0 };
    json_t *req = NULL, *ans = NULL;
    const char *why;
    char reason[REASON_MAX];
    int status = 500;

    *out = NULL;
    *outlen = 0;
    arena_begin();
    req = review_parse(body, len, reason, sizeof(reason));
    if (!req) {
        status = review_reason(reason, out, outlen);
        goto out;
    }
    why = malformed(req, &in.kind);
    if (why) {
        status = review_reason(why, out, outlen);
        goto out;
    }
    in.parent = json_object_get(req, "parent");
    in.children = json_is_object(json_object_get(req, "children")) ? json_object_get(req, "children") : NULL;
    in.related = json_object_get(req, "related");
    in.finalizing = json_is_true(json_object_get(req, "finalizing"));
    if (lifecycle_answer(&in, p, sealer, &ans) == 0)
        status = review_json(ans, out, outlen);
out:
    json_decref(ans);
    json_decref(req);
    arena_end();
    return status;
}
