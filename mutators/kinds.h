/*
 * kinds.h - the table of kinds and the admission logic over plain json_t.
 *
 * A kind is data: its spec fields (type, default, bounds, shared rule) and
 * three functions for what data cannot say (cross-field rules, expansion into
 * children). kinds.c runs the same engine for every kind. Nothing here knows
 * HTTP; webhook/ calls kinds_mutate() (then patch_write()), kinds_validate()
 * and kinds_render().
 */
#ifndef KINDS_H
#define KINDS_H

#include <stddef.h>
#include <jansson.h>

#include "mutators/fielderr.h"
#include "mutators/json/node.h"
#include "mutators/policy.h"
#include "mutators/json/strbuf.h"

#define KINDS_GROUP "paddlex.paddlepaddle.org"
#define KINDS_VERSION "v1alpha1"
#define KINDS_API_VERSION KINDS_GROUP "/" KINDS_VERSION

/* The admission seal (certs/seal.c behind two calls, so that this layer
 * knows only json_t): sign() writes the seal of kind, name and spec into
 * out (KINDS_SEAL_MAX bytes), spec.generated being the canonical text
 * generated (len bytes) when it is not NULL, and returns 0, or -1;
 * verify() returns 1 when seal is the seal of kind, name and spec
 * (generated, len as for sign()). */
#define KINDS_SEAL_MAX 96
struct sealer {
    const void *keys;
    int (*sign)(const void *keys, const char *kind, const char *name, const json_t *spec,
                const char *generated, size_t len, char *out);
    int (*verify)(const void *keys, const char *kind, const char *name, const json_t *spec,
                  const char *generated, size_t len, const char *seal);
};

/* What the object is judged against, besides itself. */
struct context {
    const char *namespace;           /* request.namespace; NULL when unknown (offline) */
    const char *username;            /* request.userInfo.username or NULL (none with a NUL) */
    const json_t *groups;            /* request.userInfo.groups (borrowed) or NULL */
    const struct settings *settings; /* never NULL */
    int exempt;                      /* user or group exempt from policy */
    const json_t *old;               /* an UPDATE's oldObject (borrowed), or NULL: an
                                      * error on a field whose value it shares is
                                      * not raised again (ratcheting) */
    const struct sealer *sealer;     /* NULL: no seal is written nor trusted */
    int generated_sealed;            /* the object's spec.generated, kept as null, was
                                      * found sealed by the caller (review.c's /validate,
                                      * over the request's own text of it) */
};

enum field_type { FIELD_STRING, FIELD_INT, FIELD_BOOL };

#define FIELD_REQUIRED 0x1u  /* absent is "Required value" */
#define FIELD_MIN 0x2u       /* .min applies */
#define FIELD_MAX 0x4u       /* .max applies */
#define FIELD_DEFAULT 0x8u   /* .sdefault / .idefault applies */

/* Checks a string field's value; appends to errs. v is a json string. */
typedef void field_check_fn(const char *path, const json_t *v, struct fielderr_list *errs);

/* One spec field. Rules run only when the value has the right type. */
struct field {
    const char *name;            /* "workerReplicas" */
    enum field_type type;
    unsigned flags;
    const char *sdefault;        /* FIELD_STRING default */
    long long idefault;          /* FIELD_INT or FIELD_BOOL default */
    /* computed default: a new reference, or NULL for none */
    json_t *(*fdefault)(const json_t *obj, const struct context *ctx);
    long long min, max;
    long long settings_cap;      /* offsetof(struct settings, max_...) + 1, or 0 */
    const char *cap_name;        /* the policy limit's name: "maxGpuPerNode" */
    const char *const *one_of;   /* NULL-terminated enum of strings */
    field_check_fn *check;
    /* canonical spelling: a new string, or NULL when s already is */
    json_t *(*normalize)(const char *s);
};

#define SETTINGS_CAP(member) ((long long)offsetof(struct settings, member) + 1)

#define KINDS_MAX_FIELDS 24      /* of one kind, besides the common ones */

/* What a kind's cross-field rules parsed that its expansion reads too:
 * the engine's, kept from validate() to expand() of one object and
 * released after. Typed per kind, so the
 * expansion of a Training re-reads no configChanges (parsing 256 entries
 * twice cost a quarter more instructions per /mutate). */
struct kinds_parsed {
    json_t *config_changes;     /* Training: spec.configChanges' entries (own), or NULL */
};

struct kind {
    const char *name;            /* "Training" */
    const char *plural;          /* "trainings" */
    const char *owner_label;     /* the label key naming the owner on its children */
    const struct field *fields;
    size_t nfields;
    /* Cross-field rules, run after every field has the right type. obj is
     * defaulted. warnings is an array of strings to append to. What they
     * parse that expand() reads too they leave in *parsed (zeroed on
     * entry), so a review parses it once. */
    void (*validate)(const json_t *obj, const struct context *ctx, struct fielderr_list *errs,
                     json_t *warnings, struct kinds_parsed *parsed);
    /* Appends the children (new objects, in the node pool in force) to
     * children, in creation order. obj is defaulted and valid; parsed is
     * what validate() left. Returns 0, or -1 on a rule only the expansion
     * can see, with errors in errs. */
    int (*expand)(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                  struct node *children, struct fielderr_list *errs);
};

/* The kind of group/version/kind, or NULL when it is not one of ours. */
const struct kind *kinds_find(const char *group, const char *version, const char *kind);

/* The kind an object's own apiVersion and kind name, or NULL. */
const struct kind *kinds_of_object(const json_t *obj);

/* The mutation contract: what kinds_mutate() changed of an object, for
 * the one writer of its JSON Patch (patch_write(), mutators/patch.h) or,
 * with KINDS_INTO_OBJECT, also set in the object itself.
 *
 * The children have one form, pool nodes (mutators/json/node.h), from the
 * expansion to the edge that takes them, and are converted once there:
 *   - /mutate writes them as text, once (m->text: the canonical text the
 *     seal covers, copied into the patch), never as jansson values;
 *   - render (KINDS_INTO_OBJECT) sets them into the object as jansson
 *     values: it prints the objects it read, as jansson values, through
 *     its YAML writer or json_dumpf(), in the order built;
 *   - kinds_render() returns them as jansson values: the sync hook answers
 *     Metacontroller with them beside the observed children it reads as
 *     jansson values, and the policy's children rules (policy_check())
 *     walk jansson values;
 *   - kinds_validate() converts them only when the policy has such rules,
 *     and compares spec.generated with the nodes themselves
 *     (node_equal_json()). */
enum kinds_op { KINDS_ADD, KINDS_REPLACE, KINDS_REMOVE };

/* One member of spec set or removed. */
struct kinds_change {
    const char *member;         /* a field's name, "generated" or "seal" (static text) */
    enum kinds_op op;
    /* the value set, borrowed: from obj's spec, ctx->old's spec or
     * m->seal; NULL for a removal, or for "generated" when it is the
     * children (m->text) */
    const json_t *value;
};

/* What obj's spec was before: a patch adds a spec that was absent, and
 * replaces a null one, whole. */
enum kinds_spec { KINDS_SPEC_OBJECT, KINDS_SPEC_ABSENT, KINDS_SPEC_NULL, KINDS_SPEC_OTHER };

/* Fields of a kind, the two common ones, spec.generated and spec.seal. */
#define KINDS_MAX_CHANGES (KINDS_MAX_FIELDS + 4)

struct kinds_mutation {
    enum kinds_spec spec;
    struct kinds_change changes[KINDS_MAX_CHANGES];     /* in the order made */
    size_t nchanges;
    /* the children when obj validates (kinds_render()'s), NULL when not:
     * errs says why; in the mutation's node pool */
    struct node *children;
    /* their canonical JSON text (keys sorted, as Go writes them), written
     * once when spec.generated changes or a seal is made: the value of the
     * "generated" change whose value is NULL; empty otherwise */
    struct strbuf text;
    json_t *seal;               /* the seal made (own), or NULL */
    struct fielderr_list errs;  /* why obj does not validate, ratcheted */
    json_t *warnings;           /* array of strings (own) */
    struct node_pool pool;      /* children's; in force until kinds_mutation_release() */
};

/* kinds_mutate() flags. */
#define KINDS_INTO_OBJECT 0x1u  /* also set spec.generated (as jansson values, in the order
                                 * built) and spec.seal in obj; no text is written */

/* The one mutation: fills defaults and canonical spellings into obj's
 * spec (borrowed, changed in place; created when absent or null, left
 * alone when it is not an object), and, when the object then validates,
 * renders its children and decides spec.generated and spec.seal: the
 * children and their seal (with a sealer), or, on an UPDATE that leaves
 * the rest of the defaulted spec as ctx->old had it under a seal that
 * verifies, ctx->old's own (a replace that drops them, or a policy edit
 * since, changes no child). Only members of obj.spec are set (and spec
 * itself), never anything deeper, and without KINDS_INTO_OBJECT never
 * spec.generated nor spec.seal. m (uninitialised, the caller's, at a
 * fixed address) lists every change; its node pool is in force until
 * kinds_mutation_release(), which must come before the end of any pool
 * begun earlier. Idempotent: a second call lists no change. */
void kinds_mutate(const struct kind *k, json_t *obj, const struct context *ctx, unsigned flags,
                  struct kinds_mutation *m);

/* Frees what m holds and ends its node pool. */
void kinds_mutation_release(struct kinds_mutation *m);

/* Judges obj (borrowed, unchanged) as the validating webhook does: field
 * rules on a defaulted view, cross-field rules, policy, and the tamper check
 * of spec.generated, which a verifying spec.seal passes whatever this
 * replica's policy would render (no denial from skew). Errors on fields
 * whose values ctx->old shares are dropped (ratcheting). Appends errors to
 * errs and warning strings to warnings. */
void kinds_validate(const struct kind *k, const json_t *obj, const struct context *ctx,
                    struct fielderr_list *errs, json_t *warnings);

/* Defaults obj's view and renders its children: a new array, or NULL with
 * the reasons in errs when the object is invalid. obj is borrowed. Used by
 * `render` and the sync hook. */
json_t *kinds_render(const struct kind *k, const json_t *obj, const struct context *ctx,
                     struct fielderr_list *errs, json_t *warnings);

/* 1 when obj's spec.seal verifies under ctx->sealer: its spec, and so its
 * spec.generated, is what this webhook admitted. */
int kinds_sealed(const struct kind *k, const json_t *obj, const struct context *ctx);

/* Label, annotation and metadata helpers for the kinds' expand functions. */

/* What the children of one object carry of it: looked up once per
 * expansion (the strings are borrowed from the object). */
struct owner {
    const char *name, *namespace;
    const char *label;           /* the label key naming it: its kind's owner_label */
};

/* The owner data of obj (borrowed, defaulted), an object of kind k. */
void kinds_owner(const struct kind *k, const json_t *obj, struct owner *o);

/* A new child {apiVersion, kind, metadata{name, namespace, labels}} of o;
 * after is "Kind/name" of the child it waits for, or NULL. */
struct node *kinds_child(const struct owner *o, const char *api_version, const char *kind,
                         const char *name, const char *after);

/* String value of spec.<key>, or NULL. They take the spec, not the
 * object: an expansion reads a dozen fields, each a hashed lookup. */
const char *kinds_spec_string(const json_t *spec, const char *key);

/* Integer value of spec.<key>, or 0. */
long long kinds_spec_int(const json_t *spec, const char *key);

/* Boolean value of spec.<key>, or 0. */
int kinds_spec_bool(const json_t *spec, const char *key);

/* metadata.name, or NULL. */
const char *kinds_name(const json_t *obj);

/* Computed defaults shared by several kinds (new references). */
json_t *kinds_default_endpoint(const json_t *obj, const struct context *ctx);
json_t *kinds_default_model_name(const json_t *obj, const struct context *ctx);

/* Field rules shared by ModelHub and Serving, written once. */
#define KINDS_FIELD_ENDPOINT                                                          \
    { .name = "endpoint", .type = FIELD_STRING, .fdefault = kinds_default_endpoint,    \
      .check = fields_check_endpoint, .normalize = fields_normalize_endpoint }
#define KINDS_FIELD_MODEL_NAME                                                        \
    { .name = "modelName", .type = FIELD_STRING, .fdefault = kinds_default_model_name, \
      .check = fields_check_dns1123_label }
#define KINDS_FIELD_MODEL_VERSION                                                     \
    { .name = "modelVersion", .type = FIELD_STRING, .flags = FIELD_DEFAULT,            \
      .sdefault = "latest", .check = fields_check_model_version }

#endif
