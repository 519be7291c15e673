/*
 * review.c - AdmissionReview v1/v1beta1 in, AdmissionReview out.
 */
#include "webhook/review.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mutators/json/arena.h"
#include "mutators/fielderr.h"
#include "mutators/json/jsondump.h"
#include "mutators/json/jsonparse.h"
#include "mutators/kinds.h"
#include "mutators/patch.h"
#include "mutators/policy.h"
#include "mutators/json/strbuf.h"
#include "webhook/base64.h"

/* Room reserved for a patch or an answer: one allocation covers a
 * Training's, which carries five children. */
#define REVIEW_OUT_HINT 16384

static const char *const versions[] = { "admission.k8s.io/v1", "admission.k8s.io/v1beta1", NULL };

/* request.operation as admission.k8s.io spells it (Operation in
 * k8s.io/api/admission/v1 types.go); anything else is a malformed request. */
static const char *const operations[] = { "CREATE", "UPDATE", "DELETE", "CONNECT", NULL };

/* Members of request that no verdict reads: refused as strictly as the
 * rest, but kept as null. Of the object and the old one, a verdict reads
 * apiVersion, kind, metadata's name, generateName, namespace and
 * deletionTimestamp, and spec (the patch touches /spec alone): their
 * managedFields (often most of an object's values), annotations (a
 * last-applied copy of it) and status are never built. */
#define UNREAD_OF(obj)                                                                           \
    JSONPARSE_PATH("request", obj, "metadata", "managedFields"),                                 \
    JSONPARSE_PATH("request", obj, "metadata", "annotations"), JSONPARSE_PATH("request", obj, "status")
#define UNREAD                                                                                   \
    JSONPARSE_PATH("request", "resource"),           JSONPARSE_PATH("request", "requestKind"),   \
    JSONPARSE_PATH("request", "requestResource"),    JSONPARSE_PATH("request", "subResource"),   \
    JSONPARSE_PATH("request", "requestSubResource"), JSONPARSE_PATH("request", "options"),       \
    UNREAD_OF("object"),                             UNREAD_OF("oldObject")
static const char *const *const unread[] = { UNREAD, NULL };
static const struct jsonparse_skip unread_members = { .paths = unread };

/* /validate with a seal key also takes spec.generated of both objects as
 * text (its spans at these indices): a seal verifies over the text
 * itself, and an UPDATE that kept it compares bytes. Only what is not
 * sealed is parsed. */
enum { SPAN_GENERATED, SPAN_OLD_GENERATED };
static const char *const *const validate_unread[] = {
    [SPAN_GENERATED] = JSONPARSE_PATH("request", "object", "spec", "generated"),
    [SPAN_OLD_GENERATED] = JSONPARSE_PATH("request", "oldObject", "spec", "generated"),
    UNREAD, NULL,
};
static const struct jsonparse_skip validate_members = { .paths = validate_unread };

static json_t *parse(const char *body, size_t len, const struct jsonparse_skip *skip,
                     struct jsonparse_span *spans, char *why, size_t whylen)
{
    struct jsonparse_error err;
    json_t *v = jsonparse_spans(body, len, REVIEW_MAX_JSON_DEPTH, skip, spans, NULL, &err);

    if (json_is_object(v) || json_is_array(v))
        return v;
    if (v) {
        json_decref(v);
        snprintf(why, whylen, "request body is not valid JSON: '[' or '{' expected");
        return NULL;
    }
    if (err.status == JSONPARSE_TOO_DEEP)
        snprintf(why, whylen, "request body nests too deeply");
    else if (err.status == JSONPARSE_TOO_MANY)
        snprintf(why, whylen, "request body holds more than %d values", JSONPARSE_MAX_VALUES);
    else
        snprintf(why, whylen, "request body is not valid JSON: %s (line %zu, column %zu)", err.text,
                 err.line, err.column);
    return NULL;
}

json_t *review_parse(const char *body, size_t len, char *why, size_t whylen)
{
    return parse(body, len, NULL, NULL, why, whylen);
}

json_t *review_parse_skipping(const char *body, size_t len, const struct jsonparse_skip *skip,
                              struct jsonparse_span *spans, char *why, size_t whylen)
{
    return parse(body, len, skip, spans, why, whylen);
}

int review_json(const json_t *v, char **out, size_t *outlen)
{
    struct strbuf sb = STRBUF_INIT;

    jsondump_append(&sb, v);
    *outlen = sb.len;
    *out = strbuf_detach(&sb);
    return 200;
}

int review_reason(const char *why, char **out, size_t *outlen)
{
    size_t n = strlen(why);

    *out = malloc(n + 2);
    if (!*out)
        return 500;
    memcpy(*out, why, n);
    (*out)[n] = '\n';
    (*out)[n + 1] = '\0';
    *outlen = n + 1;
    return 400;
}

/* Copies src clipped to cap - 1 bytes, never cutting a UTF-8 sequence. */
static void copy_field(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;

    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* A 400 with a one-line plain-text reason. */
static void fail(struct review_result *out, const char *why)
{
    out->http_status = 400;
    out->allowed = 0;
    if (asprintf(&out->body, "%s\n", why) < 0)
        out->body = NULL;
    out->len = out->body ? strlen(out->body) : 0;
}

/* status for a denial, as the apiserver's NewInvalid/NewForbidden build it. */
static json_t *denial_status(const struct kind *k, const char *name, const struct fielderr_list *errs,
                             struct review_result *out)
{
    int forbidden = fielderr_all_policy(errs);
    struct strbuf msg = STRBUF_INIT;
    json_t *causes = json_array(), *status;

    strbuf_addf(&msg, "%s.%s \"%s\" is %s: ", k->name, KINDS_GROUP, name ? name : "",
                forbidden ? "forbidden" : "invalid");
    fielderr_join(&msg, errs);
    for (size_t i = 0; i < errs->len; i++) {
        char *body = fielderr_body(&errs->v[i]);

        json_array_append_new(causes, json_pack("{s:s, s:s, s:s}", "reason",
                                                fielderr_reason(errs->v[i].type), "message", body,
                                                "field", errs->v[i].path));
        free(body);
    }
    out->reason = forbidden ? "Forbidden" : "Invalid";
    status = json_pack("{s:{}, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:o}, s:i}", "metadata", "status",
                       "Failure", "message", msg.buf, "reason", out->reason, "details", "name",
                       name ? name : "", "group", KINDS_GROUP, "kind", k->name, "causes", causes,
                       "code", forbidden ? 403 : 422);
    strbuf_release(&msg);
    return status;
}

/* The answer to one review, before it is written out. */
struct verdict {
    int allowed;
    struct strbuf patch;        /* the JSON Patch text; empty for none */
    json_t *status;             /* the denial's status, or NULL */
    json_t *warnings;           /* array of strings */
};

/* Judges object into v. */
static void admit(enum review_mode mode, const struct kind *k, json_t *object,
                  const struct context *ctx, struct verdict *v, struct review_result *out)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;

    if (mode == REVIEW_MUTATE) {
        struct kinds_mutation m;

        /* object is ours to change: the mutation defaults it in place */
        kinds_mutate(k, object, ctx, 0, &m);
        strbuf_grow(&v->patch, REVIEW_OUT_HINT);
        out->patched = patch_write(&m, &v->patch) > 0;
        kinds_mutation_release(&m);
    } else {
        kinds_validate(k, object, ctx, &errs, v->warnings);
        if (errs.len > 0) {
            v->status = denial_status(k, kinds_name(object), &errs, out);
            v->allowed = out->allowed = 0;
        }
    }
    fielderr_release(&errs);
}

/* Writes the response AdmissionReview. The patch goes into the text as
 * base64 directly: it is most of the answer's bytes. */
static void write_answer(struct strbuf *sb, const char *version, const json_t *uid, const struct verdict *v)
{
    strbuf_grow(sb, REVIEW_OUT_HINT);
    strbuf_addstr(sb, "{\"apiVersion\":");
    jsondump_string(sb, version, strlen(version));
    strbuf_addstr(sb, ",\"kind\":\"AdmissionReview\",\"response\":{\"uid\":");
    jsondump_append(sb, uid);
    strbuf_addstr(sb, v->allowed ? ",\"allowed\":true" : ",\"allowed\":false");
    if (v->patch.len) {
        strbuf_addstr(sb, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
        base64_append(sb, v->patch.buf, v->patch.len);
        strbuf_addch(sb, '"');
    }
    if (v->status) {
        strbuf_addstr(sb, ",\"status\":");
        jsondump_append(sb, v->status);
    }
    if (json_array_size(v->warnings) > 0) {
        strbuf_addstr(sb, ",\"warnings\":");
        jsondump_append(sb, v->warnings);
    }
    strbuf_addstr(sb, "}}");
}

/* The text of a json string that holds no NUL, else NULL: every string the
 * verdict matches (versions, kinds, namespace, user) is compared whole,
 * never up to a NUL ("system:masters\u0000x" is not "system:masters"). */
static const char *exact_string(const json_t *v)
{
    const char *s = json_string_value(v);

    return s && strlen(s) == json_string_length(v) ? s : NULL;
}

/* 1 when request.kind's group, version or kind, or request.namespace,
 * holds a NUL: read up to it they would pass for another kind or namespace
 * (and a policy rule's exact name), so the request is refused instead. */
static int envelope_has_nul(const json_t *request)
{
    static const char *const gvk[] = { "group", "version", "kind", NULL };
    const json_t *kind = json_object_get(request, "kind"), *ns = json_object_get(request, "namespace");

    for (const char *const *m = gvk; *m; m++)
        if (json_is_string(json_object_get(kind, *m)) && !exact_string(json_object_get(kind, *m)))
            return 1;
    return json_is_string(ns) && !exact_string(ns);
}

/* One of operations[] when v is exactly that string (a NUL or any other
 * byte after it is another string), else NULL. */
static const char *operation_of(const json_t *v)
{
    for (const char *const *o = operations; json_is_string(v) && *o; o++)
        if (json_string_length(v) == strlen(*o) && !memcmp(json_string_value(v), *o, strlen(*o)))
            return *o;
    return NULL;
}

static const char *version_of(const json_t *review)
{
    const char *v = exact_string(json_object_get(review, "apiVersion"));

    for (const char *const *a = versions; v && *a; a++)
        if (!strcmp(*a, v))
            return *a;
    return NULL;
}

/* The kind under review: request.kind, else the object's own. */
static const struct kind *kind_of(const json_t *request, const json_t *object, struct review_result *out)
{
    const json_t *gvk = json_object_get(request, "kind");
    const char *kind = json_string_value(json_object_get(gvk, "kind"));

    copy_field(out->kind, sizeof(out->kind), kind);
    if (json_is_object(gvk))
        return kinds_find(json_string_value(json_object_get(gvk, "group")),
                          json_string_value(json_object_get(gvk, "version")), kind);
    return kinds_of_object(object);
}

/* 1 when spans a and b of body hold the same text (or both none). */
static int same_text(const char *body, const struct jsonparse_span *a, const struct jsonparse_span *b)
{
    return a->len == b->len && !memcmp(body + a->at, body + b->at, a->len);
}

/* 1 when an UPDATE of object is admitted as it is: the object is being
 * deleted (the garbage collector's or a controller's finalizer removal
 * must never be refused), or its spec is the old one's (only metadata
 * changed). With spans (/validate), both spec.generated were kept as
 * null: their texts must be the same too. */
static int unchanged_update(const json_t *object, const json_t *old, const char *body,
                            const struct jsonparse_span *spans)
{
    const json_t *deleting = json_object_get(json_object_get(object, "metadata"), "deletionTimestamp");
    const json_t *spec = json_object_get(object, "spec"), *was = json_object_get(old, "spec");

    if (deleting && !json_is_null(deleting))
        return 1;
    if (spans && !same_text(body, &spans[SPAN_GENERATED], &spans[SPAN_OLD_GENERATED]))
        return 0;
    return old && (spec == was || (spec && was && json_equal((json_t *)spec, (json_t *)was)));
}

/* The value of the four hex digits at p, or -1. */
static long hex4(const char *p)
{
    long v = 0;

    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)p[i], d = c >= '0' && c <= '9' ? c - '0'
                                       : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;

        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

/* text[0..len) with each \uXXXX escape written as node_dump() writes that
 * character, into out. Go's encoding/json, the apiserver's, escapes
 * < > & U+2028 U+2029 (json.Marshal is HTML-safe) and writes control
 * characters in lower-case hex; node_dump() writes the first five raw,
 * the others as \b \f \n \r \t or upper-case \u00XX. Strings
 * otherwise agree, as do key order (both sort by bytes) and numbers (the
 * children's are integers). An escape of anything else is kept. */
static void node_escapes(struct strbuf *out, const char *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF", shorts[] = "\b\t\n\f\r";
    const char *p = text, *end = text + len, *bs;

    while ((bs = memchr(p, '\\', (size_t)(end - p))) && end - bs >= 2) {
        long cp = bs[1] == 'u' && end - bs >= 6 ? hex4(bs + 2) : -1;
        char buf[6];

        strbuf_add(out, p, (size_t)(bs - p));
        p = bs + 2;
        if (cp < 0 || (cp >= 0x80 && cp != 0x2028 && cp != 0x2029) || cp == '"' || cp == '\\') {
            strbuf_add(out, bs, 2);     /* kept: a short escape, or \u of another sort */
            continue;
        }
        p = bs + 6;
        if (cp >= 0x80) {               /* U+2028, U+2029 as UTF-8 */
            buf[0] = (char)0xe2, buf[1] = (char)0x80, buf[2] = (char)(0x80 | (cp & 0x3f));
            strbuf_add(out, buf, 3);
        } else if (cp >= 0x20) {
            strbuf_addch(out, (char)cp);
        } else if (cp && strchr(shorts, (int)cp)) {
            buf[0] = '\\', buf[1] = "btnfr"[strchr(shorts, (int)cp) - shorts];
            strbuf_add(out, buf, 2);
        } else {
            buf[0] = '\\', buf[1] = 'u', buf[2] = '0', buf[3] = '0', buf[4] = hex[cp >> 4], buf[5] = hex[cp & 15];
            strbuf_add(out, buf, 6);
        }
    }
    strbuf_add(out, p, (size_t)(end - p));
}

/* 1 when text[0..len) holds a \u escape. glibc's memmem() looks for a
 * two-byte needle a byte at a time: 4 µs over a Training's 7.5 KB of
 * children, against memchr()'s vector steps to the few backslashes. */
static int has_u_escape(const char *text, size_t len)
{
    const char *p = text, *end = text + len;

    while ((p = memchr(p, '\\', (size_t)(end - p))) && end - p >= 2) {
        if (p[1] == 'u')
            return 1;
        p += 2;     /* the escaped byte is never the start of another */
    }
    return 0;
}

int review_generated_text(const struct kind *k, json_t *object, const char *body,
                          const struct jsonparse_span *gen, const struct sealer *sealer, int built)
{
    json_t *spec = json_object_get(object, "spec"), *v;
    const char *seal = json_string_value(json_object_get(spec, "seal")), *text = body + gen->at;
    struct jsonparse_error err;
    int sealed = 0;

    if (!gen->len)
        return 0;
    if (sealer && seal && text[0] == '[') {
        struct strbuf own = STRBUF_INIT;
        size_t n = gen->len;

        if (has_u_escape(text, n)) {
            node_escapes(&own, text, n);
            text = own.buf, n = own.len;
        }
        sealed = sealer->verify(sealer->keys, k->name, kinds_name(object), spec, text, n, seal);
        strbuf_release(&own);
        if (sealed || built)
            return sealed;
        text = body + gen->at;
    } else if (built) {
        return 0;
    }
    /* the body was read within REVIEW_MAX_JSON_DEPTH already, and the
     * span lies at least three levels down (object, spec, generated) */
    v = jsonparse(text, gen->len, REVIEW_MAX_JSON_DEPTH - 3, NULL, &err);
    return v && json_object_set_new(spec, "generated", v) == 0 ? sealed : -1;
}

int review_handle(enum review_mode mode, const char *body, size_t len, const struct policy *p,
                  const struct sealer *sealer, struct review_result *out)
{
    json_t *review = NULL, *request, *object;
    struct verdict v = { .allowed = 1, .patch = STRBUF_INIT, .warnings = json_array() };
    const struct kind *k;
    const char *version, *uid, *op;
    struct context ctx = { 0 };
    struct jsonparse_span spans[JSONPARSE_SKIP_MAX];
    int texts = mode == REVIEW_VALIDATE && sealer;      /* spec.generated read as text */
    char why[256];

    memset(out, 0, sizeof(*out));
    out->allowed = 1;
    arena_begin();
    /* NUL inside a string is valid JSON: the field rules refuse it */
    review = parse(body, len, texts ? &validate_members : &unread_members, spans, why, sizeof(why));
    if (!review) {
        fail(out, why);
        goto out;
    }
    version = version_of(review);
    request = json_object_get(review, "request");
    if (!json_is_object(review) || !version ||
        strcmp(exact_string(json_object_get(review, "kind")) ?: "", "AdmissionReview") != 0 ||
        !json_is_object(request)) {
        fail(out, "request body is not an admission.k8s.io/v1 or v1beta1 AdmissionReview request");
        goto out;
    }
    uid = json_string_value(json_object_get(request, "uid"));
    if (!uid || !*uid) {
        fail(out, "request.uid is missing");
        goto out;
    }
    copy_field(out->uid, sizeof(out->uid), uid);
    /* absent, null, "create", "PATCH": not the apiserver; allowing it
     * unjudged would fail open */
    op = operation_of(json_object_get(request, "operation"));
    if (!op) {
        fail(out, "request.operation must be CREATE, UPDATE, DELETE or CONNECT");
        goto out;
    }
    copy_field(out->operation, sizeof(out->operation), op);
    if (envelope_has_nul(request)) {
        fail(out, "request.kind and request.namespace must not contain NUL characters");
        goto out;
    }
    object = json_object_get(request, "object");
    ctx.namespace = json_string_value(json_object_get(request, "namespace"));
    copy_field(out->namespace, sizeof(out->namespace), ctx.namespace);
    copy_field(out->name, sizeof(out->name), json_string_value(json_object_get(request, "name")));
    k = kind_of(request, object, out);
    /* DELETE, CONNECT and kinds not ours pass untouched */
    if (k && (!strcmp(op, "CREATE") || !strcmp(op, "UPDATE"))) {
        if (!json_is_object(object)) {
            fail(out, "request.object is missing or not an object");
            goto out;
        }
        if (!out->name[0])
            copy_field(out->name, sizeof(out->name), kinds_name(object));
        ctx.username = exact_string(json_object_get(json_object_get(request, "userInfo"), "username"));
        ctx.groups = json_object_get(json_object_get(request, "userInfo"), "groups");
        ctx.sealer = sealer;
        /* an UPDATE without an oldObject object is judged on its own */
        if (!strcmp(op, "UPDATE") && json_is_object(json_object_get(request, "oldObject")))
            ctx.old = json_object_get(request, "oldObject");
        policy_apply(p, &ctx);
        if (strcmp(op, "UPDATE") != 0 || !unchanged_update(object, ctx.old, body, texts ? spans : NULL)) {
            /* a sealed spec.generated stays null: nothing reads it */
            if (texts && (ctx.generated_sealed = review_generated_text(k, object, body, &spans[SPAN_GENERATED],
                                                                       sealer, 0)) < 0) {
                fail(out, "out of memory");
                goto out;
            }
            admit(mode, k, object, &ctx, &v, out);
        }
    }
    {
        struct strbuf sb = STRBUF_INIT;

        /* the uid is echoed as sent, whatever bytes it holds */
        write_answer(&sb, version, json_object_get(request, "uid"), &v);
        out->http_status = 200;
        out->len = sb.len;
        out->body = strbuf_detach(&sb);
    }
out:
    strbuf_release(&v.patch);
    json_decref(v.status);
    json_decref(v.warnings);        /* made before arena_begin(): malloc'd */
    /* the arena's, all of it: freeing it value by value was 0.8 µs of a
     * /mutate (arena_in_force() says when it may be left out) */
    if (!arena_in_force())
        json_decref(review);
    arena_end();
    return out->body ? 0 : -1;
}

void review_result_release(struct review_result *r)
{
    free(r->body);
    r->body = NULL;
}
