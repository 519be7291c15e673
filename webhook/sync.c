/*
 * sync.c - Metacontroller's sync hook on the wire (see sync.h): the
 * request read, mutators/lifecycle.c asked, the answer written.
 *
 * The request is read skimmed first: the members no decision reads
 * (UNREAD below, and the observed children's spec) are checked as
 * strictly as the rest but not built. Only when the answer must return an
 * observed child as it is (lifecycle_answer() says LIFECYCLE_WHOLE: action
 * create or patch, or an invalid parent, and a child without
 * Metacontroller's last-applied annotation) is it read again with the
 * children's spec. Children that go back as the parent's spec.generated
 * came are written as the bytes they came in (answer_text()).
 */
#include "webhook/sync.h"

#include <jansson.h>

#include "mutators/json/arena.h"
#include "mutators/json/jsondump.h"
#include "mutators/json/jsonparse.h"
#include "mutators/json/strbuf.h"
#include "mutators/kinds.h"
#include "mutators/lifecycle.h"
#include "webhook/review.h"

#define REASON_MAX 256              /* a 400's plain-text reason */

/* What no decision reads (mutators/lifecycle.h, mutators/order.h say what
 * they read): the controller; managedFields; the annotations of the parent
 * and of the related objects (kubectl's last-applied configuration is the
 * whole object again); the related objects' own children. */
#define UNREAD                                                                \
    JSONPARSE_PATH("controller"),                                             \
    JSONPARSE_PATH("parent", "metadata", "managedFields"),                    \
    JSONPARSE_PATH("parent", "metadata", "annotations"),                      \
    JSONPARSE_PATH("children", "*", "*", "metadata", "managedFields"),        \
    JSONPARSE_PATH("related", "*", "*", "metadata", "managedFields"),         \
    JSONPARSE_PATH("related", "*", "*", "metadata", "annotations"),           \
    JSONPARSE_PATH("related", "*", "*", "spec", "generated")

/* The parent's spec.generated, built for the answer, has its span kept
 * too (index 0, jsonparse_skip.built): its seal verifies over those very
 * bytes (review_generated_text()). From the tree it took a canonical
 * text made anew, 13 of the 75 µs of a Training's sync. Metacontroller
 * writes the request with k8s.io/apimachinery/pkg/util/json.Marshal,
 * that is encoding/json (pkg/hooks/webhook.go, webhookExecutor.Call, in
 * v4.11.22 as Kubeflow ships it and in v4.17.2): map keys sorted, no
 * white space, HTML-safe escapes, which review_generated_text() writes
 * back. */
#define GENERATED JSONPARSE_PATH("parent", "spec", "generated")

/* Metacontroller's last-applied annotation of each observed child
 * (LastAppliedAnnotation, set by SetLastApplied() with json.Marshal in
 * pkg/dynamic/apply/apply.go) is kept as its JSON text (index 1,
 * jsonparse_skip.raw), as lifecycle.h says: the child again, an escape
 * every few bytes, read only when the child goes back as last applied;
 * 12 of the 62 µs of a Training's sync. */
#define LAST_APPLIED                                                          \
    JSONPARSE_PATH("children", "*", "*", "metadata", "annotations", LIFECYCLE_LAST_APPLIED)

/* First read: the observed children's spec too (lifecycle_sync.skimmed). */
static const char *const *const skim_paths[] = {
    GENERATED, LAST_APPLIED, UNREAD, JSONPARSE_PATH("children", "*", "*", "spec"), NULL,
};
static const struct jsonparse_skip skim = { .paths = skim_paths, .built = 1u << 0, .raw = 1u << 1 };

/* Second read, when an observed child goes back as observed. */
static const char *const *const whole_paths[] = { GENERATED, LAST_APPLIED, UNREAD, NULL };
static const struct jsonparse_skip whole = { .paths = whole_paths, .built = 1u << 0, .raw = 1u << 1 };

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

/* Reads body with skip into *req (new reference) and fills in from it, or
 * writes the 400 into *out. Returns 0, or the HTTP status of that 400 (500
 * when memory ran out). */
static int read_request(const char *body, size_t len, const struct jsonparse_skip *skip,
                        const struct sealer *sealer, json_t **req, struct lifecycle_sync *in,
                        struct jsonparse_span *spans, char **out, size_t *outlen)
{
    const json_t *children;
    char reason[REASON_MAX];
    const char *why;

    *req = review_parse_skipping(body, len, skip, spans, reason, sizeof(reason));
    if (!*req)
        return review_reason(reason, out, outlen);
    why = malformed(*req, &in->kind);
    if (why)
        return review_reason(why, out, outlen);
    /* verified on the first read only: the second (LIFECYCLE_WHOLE) reads
     * the same bytes; built, the text is never parsed, so never -1 */
    if (skip == &skim)
        in->generated_sealed = review_generated_text(in->kind, json_object_get(*req, "parent"), body,
                                                     &spans[0], sealer, 1);
    children = json_object_get(*req, "children");
    in->parent = json_object_get(*req, "parent");
    in->children = json_is_object(children) ? children : NULL;
    in->related = json_object_get(*req, "related");
    in->finalizing = json_is_true(json_object_get(*req, "finalizing"));
    in->skimmed = skip == &skim;
    return 0;
}

/* 1 when the answer's children are the parent's spec.generated, element
 * for element (the sealed children all returned as admitted: a parent's
 * steady state). */
static int children_as_sent(const json_t *children, const json_t *generated)
{
    size_t n = json_array_size(generated);

    if (!json_is_array(generated) || !json_is_array(children) || json_array_size(children) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (json_array_get(children, i) != json_array_get(generated, i))
            return 0;
    return 1;
}

/* The answer ans (taken apart) as text into *out. Children that are the
 * parent's spec.generated as sent are written as the bytes they came in
 * (gen, JSON as Metacontroller wrote it) instead of anew from the tree:
 * 7.5 KB of a Training's, a fifth of its sync. Returns 200. */
static int answer_text(json_t *ans, const json_t *parent, const char *body, const struct jsonparse_span *gen,
                       char **out, size_t *outlen)
{
    struct strbuf sb = STRBUF_INIT;
    const json_t *generated = json_object_get(json_object_get(parent, "spec"), "generated");

    if (!gen->len || !children_as_sent(json_object_get(ans, "children"), generated))
        return review_json(ans, out, outlen);
    json_object_del(ans, "children");
    jsondump_append(&sb, ans);
    sb.len--;   /* its '}': the answer has a status, so a member goes before */
    strbuf_addstr(&sb, ",\"children\":");
    strbuf_add(&sb, body + gen->at, gen->len);
    strbuf_addch(&sb, '}');
    *outlen = sb.len;
    *out = strbuf_detach(&sb);
    return 200;
}

int sync_handle(const char *body, size_t len, const struct policy *p, const struct sealer *sealer,
                char **out, size_t *outlen)
{
    struct lifecycle_sync in = { 0 };
    struct jsonparse_span spans[JSONPARSE_SKIP_MAX];
    json_t *req = NULL, *ans = NULL;
    int status, rc;

    *out = NULL;
    *outlen = 0;
    arena_begin();
    status = read_request(body, len, &skim, sealer, &req, &in, spans, out, outlen);
    if (status)
        goto out;
    rc = lifecycle_answer(&in, p, sealer, &ans);
    if (rc == LIFECYCLE_WHOLE) {
        json_decref(req);
        status = read_request(body, len, &whole, sealer, &req, &in, spans, out, outlen);
        if (status)
            goto out;   /* cannot be: the same bytes were read once */
        rc = lifecycle_answer(&in, p, sealer, &ans);
    }
    status = rc == 0 ? answer_text(ans, in.parent, body, &spans[0], out, outlen) : 500;
out:
    /* both the arena's: freed value by value they were 8 % of a sync */
    if (!arena_in_force()) {
        json_decref(ans);
        json_decref(req);
    }
    arena_end();
    return status;
}
