/*
 * related.c - the customize hook's wire format (see related.h); the rule
 * it answers with is mutators/order.c's.
 */
#include "webhook/related.h"

#include <jansson.h>

#include "mutators/json/arena.h"
#include "mutators/kinds.h"
#include "mutators/order.h"
#include "webhook/review.h"

#define REASON_MAX 256 /* a 400's plain-text reason */

int related_customize(const char *body, size_t len, char **out, size_t *outlen)
{
    json_t *req = NULL, *rules = NULL, *ans = NULL;
    const json_t *parent;
    const struct kind *k;
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
    parent = json_object_get(req, "parent");
    if (!json_is_object(req) || !json_is_object(parent)) {
        status = review_reason(json_is_object(req) ? "parent is missing or not an object"
                                                   : "request body is not a JSON object",
                               out, outlen);
        goto out;
    }
    k = kinds_of_object(parent);
    if (!k) {
        status = review_reason("parent is not a " KINDS_API_VERSION " object of a known kind", out, outlen);
        goto out;
    }
    rules = order_rules(k->name, parent);
    if (!rules) {
        status = review_reason("parent has no metadata.namespace", out, outlen);
        goto out;
    }
    ans = json_pack("{s:O}", "relatedResources", rules);
    if (ans)
        status = review_json(ans, out, outlen);
out:
    json_decref(ans);
    json_decref(rules);
    json_decref(req);
    arena_end();
    return status;
}
