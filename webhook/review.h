/*
 * review.h - the AdmissionReview codec (SPEC §3.2).
 *
 * Bytes in, bytes out: review_handle() is the whole admission path of the
 * server and of `paddlex-webhook review`, so both answer exactly alike.
 */
#ifndef REVIEW_H
#define REVIEW_H

#include <stddef.h>

#include <jansson.h>

struct jsonparse_skip;
struct jsonparse_span;
struct kind;
struct policy;
struct sealer;

#define REVIEW_MAX_JSON_DEPTH 100   /* nesting of arrays and objects */
#define REVIEW_MAX_FIELD 253        /* bytes kept of uid/kind/name for logs */

enum review_mode { REVIEW_MUTATE, REVIEW_VALIDATE };

struct review_result {
    int http_status;            /* 200, or 400 for a malformed review */
    char *body;                 /* malloc'd: the response JSON, or a plain-text reason */
    size_t len;
    /* for logs and metrics; empty strings when unknown */
    char uid[REVIEW_MAX_FIELD + 1];
    char kind[64];
    char namespace[64];
    char name[64];
    char operation[16];
    int allowed;
    int patched;
    const char *reason;         /* "Invalid", "Forbidden", or NULL when allowed */
};

/* Answers one AdmissionReview request body (not necessarily NUL-terminated)
 * under policy p (borrowed, may be NULL), sealing what it admits and
 * trusting what is sealed with sealer (borrowed; NULL for neither). Fills
 * out, whose body the caller frees with review_result_release(). Returns
 * 0; -1 only when memory ran out (out->body is then NULL).
 *
 * An UPDATE is judged against its oldObject (SPEC §9.1): one whose object
 * is being deleted (metadata.deletionTimestamp set) or whose spec equals
 * the old one (labels, annotations, finalizers, ownerReferences changed)
 * is admitted as it is, without a patch; otherwise errors on values it
 * shares with the old object are not raised again (ratcheting). */
int review_handle(enum review_mode mode, const char *body, size_t len, const struct policy *p,
                  const struct sealer *sealer, struct review_result *out);

void review_result_release(struct review_result *r);

/* Parses a request body (strict JSON, an object or array at the top,
 * duplicate keys refused, nesting at most REVIEW_MAX_JSON_DEPTH): a new
 * value, or NULL with a one-line reason for the 400 in why. */
json_t *review_parse(const char *body, size_t len, char *why, size_t whylen);

/* review_parse(), the members skip names (mutators/json/jsonparse.h) read
 * as strictly but kept as null; where they lie goes to spans (may be NULL;
 * see jsonparse_spans()). */
json_t *review_parse_skipping(const char *body, size_t len, const struct jsonparse_skip *skip,
                              struct jsonparse_span *spans, char *why, size_t whylen);

/* spec.generated of object (a kind k object in the tree of body) as text:
 * span gen of body (gen->len 0: the spec has none). Returns 1 when
 * object's spec.seal verifies with sealer (may be NULL) over that very
 * text: Go's encoding/json, the apiserver's, writes it as node_dump() does
 * but for some escapes, which are written back first. Otherwise (no seal,
 * a seal of something else, white space, other escapes) 0, and unless
 * built (the tree holds it already: jsonparse_skip.built) it is parsed
 * into the tree, where it was kept as null, to be judged as before. -1:
 * out of memory in that parse (so never when built). */
int review_generated_text(const struct kind *k, json_t *object, const char *body,
                          const struct jsonparse_span *gen, const struct sealer *sealer, int built);

/* The body of a 400 for the hooks (sync, customize): why and a newline,
 * into *out (malloc'd, the caller frees it) and *outlen. Returns 400, or
 * 500 with *out NULL when memory ran out. */
int review_reason(const char *why, char **out, size_t *outlen);

/* The body of a 200 for the hooks: v (borrowed) as compact JSON into *out
 * (malloc'd) and *outlen. Returns 200. */
int review_json(const json_t *v, char **out, size_t *outlen);

#endif
