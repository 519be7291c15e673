/*
 * policyload.c - a policy document into rules (mutators/policyload.h):
 * the strict parse that judges the whole file and reports every problem at
 * once (SPEC §9.4), and the check that the policy's own defaults pass its
 * own allow-lists.
 */
#include "mutators/policyload.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/children.h"
#include "mutators/fielderr.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/policyindex.h"
#include "mutators/policymatch.h"
#include "mutators/json/strbuf.h"

#define POLICY_MAX_MSG 512          /* one reason in an error */
#define POLICY_MAX_KEY_PATH 192     /* "namespaces[12].allow.imageRegistries[3]" */
#define POLICY_MAX_MATCH 63         /* a namespace name is a DNS-1123 label */
#define POLICY_MAX_HOST 253
#define POLICY_MAX_SCHEME 32
#define POLICY_MAX_PROBLEMS 20      /* problems of one file quoted in full; more are counted */


/* ------------------------------------------------------------ parsing */

/* A file is judged whole: every problem is noted and the parse goes on
 * (SPEC §9.4), so one message names them all, on one line:
 * "<source>: <path>: <why>; <path>: <why>; ...". */
struct parser {
    const char *source;         /* the file name errors start with */
    struct strbuf msg;          /* the problems so far */
    size_t problems;
    json_t *normalized;         /* the policy's: where normalized values are kept */
};

/* Notes "<path>: <why>" (path may be NULL) and returns -1. */
static int fail(struct parser *ps, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *ps, const char *path, const char *fmt, ...)
{
    char why[POLICY_MAX_MSG];
    va_list ap;

    if (++ps->problems > POLICY_MAX_PROBLEMS)
        return -1;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (ps->problems == 1)
        strbuf_addf(&ps->msg, "%s: ", ps->source);
    else
        strbuf_addstr(&ps->msg, "; ");
    if (path)
        strbuf_addf(&ps->msg, "%s: ", path);
    strbuf_addstr(&ps->msg, why);
    return -1;
}

/* The message of every problem into err (errlen bytes, clipped on a UTF-8
 * boundary); releases ps. */
static void report(struct parser *ps, char *err, size_t errlen)
{
    if (ps->problems > POLICY_MAX_PROBLEMS)
        strbuf_addf(&ps->msg, "; and %zu more problems", ps->problems - POLICY_MAX_PROBLEMS);
    if (errlen)
        snprintf(err, errlen, "%.*s", (int)fields_utf8_clip(ps->msg.buf ? ps->msg.buf : "", errlen - 1),
                 ps->msg.buf ? ps->msg.buf : "");
    strbuf_release(&ps->msg);
}

/* List items, judged at load. */
typedef int item_ok_fn(const char *s);

static int chars_in(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || strchr(extra, *s)))
            return 0;
    return 1;
}

static int registry_ok(const char *s)
{
    return chars_in(s, FIELDS_MAX_IMAGE, "._-/:@[]");     /* [] for "[fd00::1]:5000/" */
}

static int scheme_ok(const char *s)
{
    return s[0] >= 'a' && s[0] <= 'z' && chars_in(s, POLICY_MAX_SCHEME, "+.-");
}

static int host_ok(const char *s)
{
    return chars_in(s, POLICY_MAX_HOST, ".-_*?[]:");
}

static int nonempty_ok(const char *s)
{
    return *s != '\0';
}

/* A namespace name, or a glob over one with '*' and '?'. */
static int match_ok(const char *s)
{
    return chars_in(s, POLICY_MAX_MATCH, "-*?");
}

enum key_type {
    KEY_CALLER,   /* read by the caller: apiVersion, kind, match, namespaces, exempt */
    KEY_SECTION,  /* a mapping of .section keys, into the same base */
    KEY_STRING,   /* a string judged by .check, at .offset */
    KEY_PORT,     /* an integer 1..65535 at .offset */
    KEY_LIMIT,    /* an integer >= 0 at .offset */
    KEY_LIST,     /* a list of strings judged by .item_ok, at .offset */
};

/* One key of a mapping; tables end with a NULL name. */
struct key {
    const char *name;
    enum key_type type;
    size_t offset;                      /* in the base being filled */
    const struct key *section;          /* KEY_SECTION */
    field_check_fn *check;              /* KEY_STRING */
    json_t *(*normalize)(const char *s);
    item_ok_fn *item_ok;                /* KEY_LIST */
    const char *item_rule;              /* KEY_LIST: what an item must be */
};

/* defaults.trainingOperator */
static void check_operator(const char *path, const json_t *v, struct fielderr_list *errs)
{
    const char *s = json_string_value(v);

    if (strcmp(s, POLICY_OPERATOR_PADDLE) != 0 && strcmp(s, POLICY_OPERATOR_KUBEFLOW) != 0)
        fielderr_add(errs, FIELDERR_NOT_SUPPORTED, path, v,
                     "supported values: \"" POLICY_OPERATOR_PADDLE "\", \"" POLICY_OPERATOR_KUBEFLOW "\"");
}

/* A key of a Secret's data: [-._a-zA-Z0-9]+, as the apiserver's
 * IsConfigMapKey. */
static int secret_key_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 253 || !strcmp(s, ".") || !strcmp(s, ".."))
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("-._", *s)))
            return 0;
    return 1;
}

static void check_secret_key(const char *path, const json_t *v, struct fielderr_list *errs)
{
    if (!secret_key_ok(json_string_value(v)))
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be a Secret key of [-._a-zA-Z0-9]");
}

/* A resource quantity as apimachinery's ParseQuantity reads one, not
 * negative: digits with an optional fraction, then a binary (Ki..Ei),
 * decimal (n u m k M G T P E) or exponent suffix. */
static int quantity_ok(const char *s)
{
    const char *p = s;
    int digits = 0;

    if (*p == '+')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits || p - s > 64)
        return 0;
    if (!*p)
        return 1;
    if (p[0] && strchr("KMGTPE", p[0]) && p[1] == 'i' && !p[2])
        return 1;
    if (strchr("numkMGTPE", p[0]) && !p[1])
        return 1;
    if (p[0] == 'e' || p[0] == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
        return !*p;
    }
    return 0;
}

/* A claim's size: a quantity above zero (a digit other than 0 before its suffix). */
static void check_quantity(const char *path, const json_t *v, struct fielderr_list *errs)
{
    const char *s = json_string_value(v);

    if (!quantity_ok(s) || s[strcspn(s, "123456789")] == '\0' ||
        strcspn(s, "123456789") > strcspn(s, "numkMGTPEe"))
        fielderr_add(errs, FIELDERR_INVALID, path, v,
                     "must be a resource quantity above zero such as \"10Gi\"");
}

#define S(member) offsetof(struct settings, member)
#define P(member) offsetof(struct policy, member)

static const struct key default_keys[] = {
    { .name = "endpoint", .type = KEY_STRING, .offset = S(endpoint),
      .check = fields_check_endpoint, .normalize = fields_normalize_endpoint },
    { .name = "port", .type = KEY_PORT, .offset = S(port) },
    { .name = "downloaderImage", .type = KEY_STRING, .offset = S(downloader_image),
      .check = fields_check_image },
    { .name = "uploaderImage", .type = KEY_STRING, .offset = S(uploader_image),
      .check = fields_check_image },
    { .name = "visualdlImage", .type = KEY_STRING, .offset = S(visualdl_image),
      .check = fields_check_image },
    { .name = "credentialsSecret", .type = KEY_STRING, .offset = S(credentials_secret),
      .check = fields_check_dns1123_subdomain },
    { .name = "credentialsAccessKey", .type = KEY_STRING, .offset = S(credentials_access_key),
      .check = check_secret_key },
    { .name = "credentialsSecretKey", .type = KEY_STRING, .offset = S(credentials_secret_key),
      .check = check_secret_key },
    { .name = "trainingOperator", .type = KEY_STRING, .offset = S(training_operator),
      .check = check_operator },
    { .name = "engineSecret", .type = KEY_STRING, .offset = S(engine_secret),
      .check = fields_check_dns1123_subdomain },
    { .name = "dataSyncImage", .type = KEY_STRING, .offset = S(data_sync_image),
      .check = fields_check_image },
    { .name = "dataClaimSize", .type = KEY_STRING, .offset = S(data_claim_size),
      .check = check_quantity },
    { .name = "dataStorageClass", .type = KEY_STRING, .offset = S(data_storage_class),
      .check = fields_check_dns1123_subdomain },
    { .name = "pod", .type = KEY_CALLER },     /* parse_pod() */
    { .name = NULL },
};

static const struct key limit_keys[] = {
    { .name = "maxGpuPerNode", .type = KEY_LIMIT, .offset = S(max_gpu_per_node) },
    { .name = "maxWorkerReplicas", .type = KEY_LIMIT, .offset = S(max_worker_replicas) },
    { .name = "maxPsReplicas", .type = KEY_LIMIT, .offset = S(max_ps_replicas) },
    { .name = "maxTotalGpus", .type = KEY_LIMIT, .offset = S(max_total_gpus) },
    { .name = "maxPartitions", .type = KEY_LIMIT, .offset = S(max_partitions) },
    { .name = NULL },
};

#define HOST_RULE "must be a lowercase host name, or a glob over one with '*' and '?'"

static const struct key allow_keys[] = {
    { .name = "imageRegistries", .type = KEY_LIST, .offset = S(image_registries),
      .item_ok = registry_ok,
      .item_rule = "must be an image prefix of [a-z0-9._-/:@[]], such as \"registry.example.com/team/\"" },
    { .name = "sourceUriSchemes", .type = KEY_LIST, .offset = S(source_uri_schemes),
      .item_ok = scheme_ok, .item_rule = "must be a lowercase URI scheme, such as \"s3\"" },
    { .name = "endpointHosts", .type = KEY_LIST, .offset = S(endpoint_hosts), .item_ok = host_ok,
      .item_rule = HOST_RULE },
    { .name = "pretrainModelHosts", .type = KEY_LIST, .offset = S(pretrain_model_hosts),
      .item_ok = host_ok, .item_rule = HOST_RULE },
    { .name = NULL },
};

/* The sections the cluster and a namespaces[] entry share. */
#define SECTION_KEYS                                                    \
    { .name = "defaults", .type = KEY_SECTION, .section = default_keys }, \
    { .name = "limits", .type = KEY_SECTION, .section = limit_keys },     \
    { .name = "allow", .type = KEY_SECTION, .section = allow_keys }

static const struct key top_keys[] = {
    { .name = "apiVersion", .type = KEY_CALLER },
    { .name = "kind", .type = KEY_CALLER },
    SECTION_KEYS,
    { .name = "namespaces", .type = KEY_CALLER },
    { .name = "exempt", .type = KEY_CALLER },
    { .name = NULL },
};

static const struct key namespace_keys[] = {
    { .name = "match", .type = KEY_CALLER },
    SECTION_KEYS,
    { .name = NULL },
};

/* into struct policy */
static const struct key exempt_keys[] = {
    { .name = "users", .type = KEY_LIST, .offset = P(exempt_users), .item_ok = nonempty_ok,
      .item_rule = "must be a user name" },
    { .name = "groups", .type = KEY_LIST, .offset = P(exempt_groups), .item_ok = nonempty_ok,
      .item_rule = "must be a group name" },
    { .name = NULL },
};

#undef S
#undef P
#undef HOST_RULE

/* A key path for messages into buf; a path longer than the buffer (only
 * from absurd files) is clipped, which is harmless in a message. */
static void subpath(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void subpath(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(buf, len, fmt, ap) < 0)
        buf[0] = '\0';
    va_end(ap);
}

/* Appends the n bytes at s to buf (len bytes, *at used), clipped. */
static void append(char *buf, size_t len, size_t *at, const char *s, size_t n)
{
    if (n > len - 1 - *at)
        n = len - 1 - *at;
    memcpy(buf + *at, s, n);
    *at += n;
}

/* "prefix.name", or name alone at the top. Every key of a file gets one,
 * so it is joined without printf: a 10,000-rule file has 40,000. */
static void key_path(char *buf, size_t len, const char *prefix, const char *name)
{
    size_t at = 0;

    if (prefix) {
        append(buf, len, &at, prefix, strlen(prefix));
        append(buf, len, &at, ".", 1);
    }
    append(buf, len, &at, name, strlen(name));
    buf[at] = '\0';
}

/* "namespaces[i]" and tail, joined without printf, like key_path(). */
static void entry_path(char *buf, size_t len, size_t i, const char *tail)
{
    char digits[24];
    size_t at = 0, n = sizeof(digits);

    do
        digits[--n] = (char)('0' + i % 10);
    while ((i /= 10) != 0);
    append(buf, len, &at, "namespaces[", strlen("namespaces["));
    append(buf, len, &at, digits + n, sizeof(digits) - n);
    append(buf, len, &at, "]", 1);
    append(buf, len, &at, tail, strlen(tail));
    buf[at] = '\0';
}

/* "namespaces[<match>]", the rule's name in messages: a new string. */
static char *rule_name(const char *match)
{
    static const char head[] = "namespaces[";
    size_t n = strlen(match);
    char *name = malloc(sizeof(head) + n + 1);

    if (!name)
        abort();
    memcpy(name, head, sizeof(head) - 1);
    memcpy(name + sizeof(head) - 1, match, n);
    memcpy(name + sizeof(head) - 1 + n, "]", 2);
    return name;
}

/* The string value of v, or NULL after the error. */
static const char *want_string(struct parser *ps, const char *path, const json_t *v)
{
    if (!json_is_string(v)) {
        fail(ps, path, "must be a string");
        return NULL;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        fail(ps, path, "must not contain NUL characters");
        return NULL;
    }
    return json_string_value(v);
}

static int want_integer(struct parser *ps, const char *path, const json_t *v, long long min,
                        long long max, const char *rule)
{
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return fail(ps, path, "%s", rule);
    return 0;
}

/* Unknown keys are typos: refuse them, naming the known ones. */
static int check_known(struct parser *ps, const char *path, const json_t *obj, const struct key *keys)
{
    const char *name;
    json_t *v;
    int rc = 0;

    json_object_foreach((json_t *)obj, name, v) {
        struct strbuf known = STRBUF_INIT;
        char kpath[POLICY_MAX_KEY_PATH];
        const struct key *k;

        for (k = keys; k->name && strcmp(k->name, name) != 0; k++)
            ;
        if (k->name)
            continue;
        for (k = keys; k->name; k++)
            strbuf_addf(&known, "%s%s", k == keys ? "" : ", ", k->name);
        key_path(kpath, sizeof(kpath), path, name);
        rc = fail(ps, kpath, "unknown key (known keys: %s)", known.buf);
        strbuf_release(&known);
    }
    return rc;
}

/* A default's value, judged by the same rule as the spec field it fills. */
static const char *parse_string(struct parser *ps, const char *path, json_t *obj,
                                const struct key *k)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *v = json_object_get(obj, k->name), *nv;
    const char *s = want_string(ps, path, v);

    if (!s)
        return NULL;
    if (k->check)
        k->check(path, v, &errs);
    if (errs.len) {
        char *body = fielderr_body(&errs.v[0]);

        fail(ps, path, "%s", body);
        free(body);
        s = NULL;
    } else if (k->normalize && (nv = k->normalize(s))) {
        s = json_string_value(nv);
        json_array_append_new(ps->normalized, nv);     /* the document stays as given */
    }
    fielderr_release(&errs);
    return s;
}

static int parse_list(struct parser *ps, const char *path, const json_t *v, const struct key *k)
{
    size_t i;
    json_t *item;
    int rc = 0;

    if (!json_is_array(v))
        return fail(ps, path, "must be a list of strings");
    json_array_foreach(v, i, item) {
        char ipath[POLICY_MAX_KEY_PATH];
        const char *s;

        subpath(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (!(s = want_string(ps, ipath, item)))
            rc = -1;
        else if (!k->item_ok(s))
            rc = fail(ps, ipath, "%s", k->item_rule);
    }
    return rc;
}

/* Judges obj at path against keys and lays its values over base. */
static int parse_mapping(struct parser *ps, const char *path, json_t *obj, const struct key *keys,
                         void *base)
{
    int rc = 0;

    if (!json_is_object(obj))
        return fail(ps, path, "must be a mapping");
    if (check_known(ps, path, obj, keys) < 0)
        rc = -1;
    for (const struct key *k = keys; k->name; k++) {
        json_t *v = json_object_get(obj, k->name);
        char *slot = (char *)base + k->offset;
        char kpath[POLICY_MAX_KEY_PATH];
        const char *s;

        if (!v || k->type == KEY_CALLER)
            continue;
        key_path(kpath, sizeof(kpath), path, k->name);
        switch (k->type) {
        case KEY_CALLER:
            break;
        case KEY_SECTION:
            if (parse_mapping(ps, kpath, v, k->section, base) < 0)
                rc = -1;
            break;
        case KEY_STRING:
            /* NULL when refused: check_defaults() skips it */
            if (!(s = parse_string(ps, kpath, obj, k)))
                rc = -1;
            *(const char **)slot = s;
            break;
        case KEY_PORT:
            if (want_integer(ps, kpath, v, 1, 65535, "must be an integer between 1 and 65535") < 0)
                rc = -1;
            else
                *(long long *)slot = json_integer_value(v);
            break;
        case KEY_LIMIT:
            if (want_integer(ps, kpath, v, 0, LLONG_MAX, "must be an integer ≥ 0") < 0)
                rc = -1;
            else
                *(long long *)slot = json_integer_value(v);
            break;
        case KEY_LIST:
            if (parse_list(ps, kpath, v, k) < 0)
                rc = -1;
            else
                *(const json_t **)slot = v;
            break;
        }
    }
    return rc;
}

static int check_identity(struct parser *ps, const json_t *doc)
{
    static const struct {
        const char *key, *want;
    } ids[] = {
        { "apiVersion", POLICY_API_VERSION },
        { "kind", POLICY_KIND },
    };

    int rc = 0;

    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        const json_t *v = json_object_get(doc, ids[i].key);

        if (!json_is_string(v) || json_string_length(v) != strlen(ids[i].want) ||
            memcmp(json_string_value(v), ids[i].want, json_string_length(v)) != 0)
            rc = fail(ps, ids[i].key, "must be \"%s\"", ids[i].want);
    }
    return rc;
}

/* ------------------------------------------------------------ defaults.pod */

/* The roles defaults.pod.resources names (mutators/children.h). */
static const char *const pod_roles[] = { "worker", "ps", "helper", "serving", "visualdl", NULL };

/* A label or annotation key: [prefix/]name, as apimachinery's
 * IsQualifiedName. */
static int qualified_name_ok(const char *s)
{
    const char *slash = strchr(s, '/'), *name = slash ? slash + 1 : s;
    size_t n = strlen(name);

    if (slash) {
        char prefix[POLICY_MAX_HOST + 1];
        size_t plen = (size_t)(slash - s);

        if (plen == 0 || plen > POLICY_MAX_HOST)
            return 0;
        memcpy(prefix, s, plen);
        prefix[plen] = '\0';
        if (!fields_is_dns1123_subdomain(prefix))
            return 0;
    }
    if (n == 0 || n > 63 || !isalnum((unsigned char)name[0]) || !isalnum((unsigned char)name[n - 1]))
        return 0;
    for (; *name; name++)
        if (!isalnum((unsigned char)*name) && !strchr("-_.", *name))
            return 0;
    return 1;
}

/* A label value: empty, or at most 63 of [A-Za-z0-9._-], alphanumeric at both ends. */
static int label_value_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0)
        return 1;
    if (n > 63 || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
            return 0;
    return 1;
}

/* A map of qualified names to strings; values judged by value_ok (NULL:
 * any). Every entry is judged (a file's problems are reported together). */
static int parse_string_map(struct parser *ps, const char *path, const json_t *v,
                            int (*value_ok)(const char *), const char *value_rule)
{
    const char *key;
    json_t *x;
    int rc = 0;

    if (!json_is_object(v))
        return fail(ps, path, "must be a mapping of strings");
    json_object_foreach((json_t *)v, key, x) {
        char kpath[POLICY_MAX_KEY_PATH];

        subpath(kpath, sizeof(kpath), "%s[%s]", path, key);
        if (!qualified_name_ok(key))
            rc = fail(ps, kpath, "key must be a qualified name ([prefix/]name)");
        else if (!want_string(ps, kpath, x))
            rc = -1;
        else if (value_ok && !value_ok(json_string_value(x)))
            rc = fail(ps, kpath, "%s", value_rule);
    }
    return rc;
}

/* 1 when s is one of the NULL-terminated words. */
static int one_of_name(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (!strcmp(s, *words))
            return 1;
    return 0;
}

/* One of the NULL-terminated words, or NULL. */
static const char *one_of(const json_t *v, const char *const *words)
{
    const char *s = json_string_value(v);

    for (; s && *words; words++)
        if (!strcmp(s, *words))
            return *words;
    return NULL;
}

/* One core/v1 Toleration at path, typed as the apiserver validates it;
 * its first problem is reported. */
static int parse_toleration(struct parser *ps, const char *path, const json_t *t)
{
    static const char *const keys[] = { "key", "operator", "value", "effect", "tolerationSeconds", NULL };
    static const char *const operators[] = { "Exists", "Equal", NULL };
    static const char *const effects[] = { "", "NoSchedule", "PreferNoSchedule", "NoExecute", NULL };
    const json_t *op = json_object_get(t, "operator"), *val = json_object_get(t, "value");
    const json_t *key = json_object_get(t, "key"), *secs = json_object_get(t, "tolerationSeconds");
    const json_t *effect = json_object_get(t, "effect");
    char kpath[POLICY_MAX_KEY_PATH];
    const char *name;
    json_t *x;

    if (!json_is_object(t))
        return fail(ps, path, "must be a mapping {key, operator, value, effect, tolerationSeconds}");
    json_object_foreach((json_t *)t, name, x) {
        key_path(kpath, sizeof(kpath), path, name);
        if (!one_of_name(name, keys))
            return fail(ps, kpath,
                        "unknown key (known keys: key, operator, value, effect, tolerationSeconds)");
        if (strcmp(name, "tolerationSeconds") != 0 && !want_string(ps, kpath, x))
            return -1;
    }
    key_path(kpath, sizeof(kpath), path, "key");
    if (key && *json_string_value(key) && !qualified_name_ok(json_string_value(key)))
        return fail(ps, kpath, "must be a qualified name ([prefix/]name)");
    key_path(kpath, sizeof(kpath), path, "operator");
    if (op && !one_of(op, operators))
        return fail(ps, kpath, "must be \"Exists\" or \"Equal\"");
    if (op && !strcmp(json_string_value(op), "Exists") && val && *json_string_value(val))
        return fail(ps, kpath, "value must be empty when operator is \"Exists\"");
    if ((!key || !*json_string_value(key)) && !(op && !strcmp(json_string_value(op), "Exists")))
        return fail(ps, kpath, "must be \"Exists\" when key is empty");
    key_path(kpath, sizeof(kpath), path, "value");
    if (val && !label_value_ok(json_string_value(val)))
        return fail(ps, kpath, "must be a label value");
    key_path(kpath, sizeof(kpath), path, "effect");
    if (effect && !one_of(effect, effects))
        return fail(ps, kpath, "must be one of \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"");
    key_path(kpath, sizeof(kpath), path, "tolerationSeconds");
    if (secs && !json_is_integer(secs))
        return fail(ps, kpath, "must be an integer");
    if (secs && !(effect && !strcmp(json_string_value(effect), "NoExecute")))
        return fail(ps, kpath, "is only allowed with effect \"NoExecute\"");
    return 0;
}

/* A list of core/v1 Tolerations. */
static int parse_tolerations(struct parser *ps, const char *path, const json_t *v)
{
    size_t i;
    json_t *t;
    int rc = 0;

    if (!json_is_array(v))
        return fail(ps, path, "must be a list of tolerations");
    json_array_foreach(v, i, t) {
        char tpath[POLICY_MAX_KEY_PATH];

        subpath(tpath, sizeof(tpath), "%s[%zu]", path, i);
        if (parse_toleration(ps, tpath, t) < 0)
            rc = -1;
    }
    return rc;
}

/* A map of resource names to quantities (strings or integers ≥ 0). */
static int parse_quantities(struct parser *ps, const char *path, const json_t *v)
{
    const char *key;
    json_t *x;
    int rc = 0;

    if (!json_is_object(v))
        return fail(ps, path, "must be a mapping of resource names to quantities");
    json_object_foreach((json_t *)v, key, x) {
        char kpath[POLICY_MAX_KEY_PATH];

        subpath(kpath, sizeof(kpath), "%s[%s]", path, key);
        if (!qualified_name_ok(key))
            rc = fail(ps, kpath, "must be a resource name such as \"cpu\" or \"memory\"");
        else if (!(json_is_integer(x) && json_integer_value(x) >= 0) &&
                 (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x) ||
                  !quantity_ok(json_string_value(x))))
            rc = fail(ps, kpath, "must be a quantity such as \"500m\" or \"2Gi\"");
    }
    return rc;
}

/* defaults.pod.resources: {requests, limits} for every container, and
 * role -> {requests, limits} over them. */
static int parse_resources(struct parser *ps, const char *path, const json_t *v)
{
    const char *role, *field;
    json_t *r, *x;
    int rc = 0;

    if (!json_is_object(v))
        return fail(ps, path, "must be a mapping of requests, limits and roles (worker, ps, helper, "
                              "serving, visualdl) to {requests, limits}");
    json_object_foreach((json_t *)v, role, r) {
        char rpath[POLICY_MAX_KEY_PATH], fpath[POLICY_MAX_KEY_PATH];

        key_path(rpath, sizeof(rpath), path, role);
        if (!strcmp(role, "requests") || !strcmp(role, "limits")) {
            if (parse_quantities(ps, rpath, r) < 0)
                rc = -1;
            continue;
        }
        if (!one_of_name(role, pod_roles)) {
            rc = fail(ps, rpath, "unknown key (known keys: requests, limits, worker, ps, helper, serving, "
                                 "visualdl)");
            continue;
        }
        if (!json_is_object(r)) {
            rc = fail(ps, rpath, "must be a mapping {requests, limits}");
            continue;
        }
        json_object_foreach(r, field, x) {
            key_path(fpath, sizeof(fpath), rpath, field);
            if (strcmp(field, "requests") != 0 && strcmp(field, "limits") != 0)
                rc = fail(ps, fpath, "unknown key (known keys: requests, limits)");
            else if (parse_quantities(ps, fpath, x) < 0)
                rc = -1;
        }
    }
    return rc;
}

/* A pod name field (serviceAccountName, priorityClassName): a DNS-1123
 * subdomain, or NULL after the problem. */
static const char *parse_pod_name(struct parser *ps, const char *path, const json_t *v)
{
    const char *s = want_string(ps, path, v);

    if (s && !fields_is_dns1123_subdomain(s)) {
        fail(ps, path, "must be a DNS-1123 subdomain");
        return NULL;
    }
    return s;
}

/* <prefix>.defaults.pod of section, when there is one, laid over st's key
 * by key; a key with a problem is not laid. */
static int parse_pod(struct parser *ps, const char *prefix, const json_t *section, struct settings *st)
{
    static const char *const keys[] = { "tolerations", "nodeSelector", "serviceAccountName",
                                        "priorityClassName", "labels", "annotations", "resources", NULL };
    const json_t *pod = json_object_get(json_object_get(section, "defaults"), "pod"), *v;
    char path[POLICY_MAX_KEY_PATH], kpath[POLICY_MAX_KEY_PATH];
    const char *name;
    json_t *x;
    int rc = 0;

    if (!pod)
        return 0;
    subpath(path, sizeof(path), "%s%sdefaults.pod", prefix ? prefix : "", prefix ? "." : "");
    if (!json_is_object(pod))
        return fail(ps, path, "must be a mapping");
    json_object_foreach((json_t *)pod, name, x)
        if (!one_of_name(name, keys)) {
            key_path(kpath, sizeof(kpath), path, name);
            rc = fail(ps, kpath, "unknown key (known keys: tolerations, nodeSelector, serviceAccountName, "
                                 "priorityClassName, labels, annotations, resources)");
        }
#define POD_KEY(k) (key_path(kpath, sizeof(kpath), path, k), v = json_object_get(pod, k))
    if (POD_KEY("tolerations") && parse_tolerations(ps, kpath, v) == 0)
        st->pod.tolerations = v;
    else if (v)
        rc = -1;
    if (POD_KEY("nodeSelector") &&
        parse_string_map(ps, kpath, v, label_value_ok, "must be a label value") == 0)
        st->pod.node_selector = v;
    else if (v)
        rc = -1;
    if (POD_KEY("labels") && parse_string_map(ps, kpath, v, label_value_ok, "must be a label value") == 0)
        st->pod.labels = v;
    else if (v)
        rc = -1;
    if (POD_KEY("annotations") && parse_string_map(ps, kpath, v, NULL, NULL) == 0)
        st->pod.annotations = v;
    else if (v)
        rc = -1;
    if (POD_KEY("resources") && parse_resources(ps, kpath, v) == 0)
        st->pod.resources = v;
    else if (v)
        rc = -1;
    if (POD_KEY("serviceAccountName") && !(st->pod.service_account = parse_pod_name(ps, kpath, v)))
        rc = -1;
    if (POD_KEY("priorityClassName") && !(st->pod.priority_class = parse_pod_name(ps, kpath, v)))
        rc = -1;
#undef POD_KEY
    return rc;
}

/* namespaces[i]: its match, its rule name, its settings over the cluster's. */
static int parse_namespace(struct parser *ps, struct policy *p, size_t i, json_t *entry)
{
    struct policyload_rule *r = &p->ns[i];
    char path[POLICY_MAX_KEY_PATH], mpath[POLICY_MAX_KEY_PATH];
    const json_t *match;
    size_t first;
    int rc = 0;

    entry_path(path, sizeof(path), i, "");
    r->settings = p->cluster;
    if (parse_mapping(ps, path, entry, namespace_keys, &r->settings) < 0)
        rc = -1;
    if (json_is_object(entry) && parse_pod(ps, path, entry, &r->settings) < 0)
        rc = -1;
    if (!json_is_object(entry))
        return -1;
    key_path(mpath, sizeof(mpath), path, "match");
    match = json_object_get(entry, "match");
    if (!match)
        return fail(ps, mpath, "is required: a namespace name or a glob such as \"team-*\"");
    if (!(r->match = want_string(ps, mpath, match)))
        return -1;
    if (!match_ok(r->match)) {
        fail(ps, mpath, "must be a namespace name, or a glob over one with '*' and '?' "
                        "(at most %d of [a-z0-9-*?])", POLICY_MAX_MATCH);
        r->match = NULL;        /* compared with no later entry */
        return -1;
    }
    /* the index is the duplicate check: one hash per entry, not a scan */
    if (policyindex_add(p->names, r->match, strlen(r->match), strpbrk(r->match, "*?") != NULL, i, &first) < 0)
        return fail(ps, mpath, "\"%s\" is already matched by namespaces[%zu]", r->match, first);
    r->name = rule_name(r->match);
    r->settings.rule = r->name;
    return rc;
}

/* The helper images the children run besides spec.image, each with the
 * policy key that sets it (NULL: fixed, only an allow-list can admit it). */
static const struct {
    const char *key;
    size_t offset;
    int kubeflow;   /* runs only under trainingOperator kubeflow */
} helper_images[] = {
    { "downloaderImage", offsetof(struct settings, downloader_image), 0 },
    { "uploaderImage", offsetof(struct settings, uploader_image), 0 },
    { "visualdlImage", offsetof(struct settings, visualdl_image), 0 },
    { "dataSyncImage", offsetof(struct settings, data_sync_image), 1 },   /* a Dataset's sync Job */
};

/* 1 when st picks the Training Operator (a refused trainingOperator is NULL). */
static int runs_kubeflow(const struct settings *st)
{
    return st->training_operator && policy_kubeflow(st);
}

/* A default of st (or the fixed converter image) that st's own
 * allow-lists refuse would deny every object that uses it: the policy is
 * refused at load instead, naming the default (SPEC §9.4). base is the
 * settings st was laid over (the cluster's for a namespaces[] entry, NULL
 * for the cluster): what is the same there was judged there already. */
static void check_settings_defaults(struct parser *ps, const struct settings *st,
                                    const struct settings *base, const char *prefix)
{
    const struct policymatch_allow *img = &policymatch_allows[POLICYMATCH_IMAGE];
    const struct policymatch_allow *ep = &policymatch_allows[POLICYMATCH_ENDPOINT];
    const json_t *images = policymatch_list(img, st), *hosts = policymatch_list(ep, st);
    int same_images = base && images == policymatch_list(img, base);
    struct strbuf list = STRBUF_INIT;
    char path[POLICY_MAX_KEY_PATH], host[POLICY_MAX_HOST + 1];

    policymatch_shown(&list, images);
    for (size_t i = 0; images && i < sizeof(helper_images) / sizeof(helper_images[0]); i++) {
        const char *v = *(const char *const *)((const char *)st + helper_images[i].offset);
        const char *b = base ? *(const char *const *)((const char *)base + helper_images[i].offset) : NULL;
        const char *builtin = *(const char *const *)((const char *)&policy_builtin + helper_images[i].offset);

        if (helper_images[i].kubeflow && !runs_kubeflow(st))
            continue;
        if (helper_images[i].kubeflow && base && !runs_kubeflow(base))
            b = NULL;       /* not judged for the cluster: it does not run there */
        if (!v || (same_images && v == b) || policymatch_allowed(img, st, v))
            continue;
        subpath(path, sizeof(path), "%sdefaults.%s", prefix, helper_images[i].key);
        fail(ps, path, "\"%s\"%s is not under any prefix in allow.imageRegistries [%s]", v,
             v == builtin ? " (the built-in default)" : "", list.buf ? list.buf : "");
    }
    if (images && !same_images && !policymatch_allowed(img, st, CHILDREN_CONVERTER_IMAGE)) {
        subpath(path, sizeof(path), "%sallow.imageRegistries", prefix);
        fail(ps, path, "[%s] does not allow the built-in converter image \"%s\" that a Training's "
                       "convert Job runs", list.buf ? list.buf : "", CHILDREN_CONVERTER_IMAGE);
    }
    strbuf_release(&list);
    if (hosts && st->endpoint && !(base && hosts == policymatch_list(ep, base) && st->endpoint == base->endpoint) &&
        !policymatch_allowed(ep, st, st->endpoint)) {
        policymatch_shown(&list, hosts);
        if (fields_url_host(st->endpoint, host, sizeof(host)) < 0)
            host[0] = '\0';
        subpath(path, sizeof(path), "%sdefaults.endpoint", prefix);
        fail(ps, path, "host \"%s\" of \"%s\"%s is not in allow.endpointHosts [%s]", host, st->endpoint,
             st->endpoint == policy_builtin.endpoint ? " (the built-in default)" : "",
             list.buf ? list.buf : "");
        strbuf_release(&list);
    }
}

static void check_defaults(struct parser *ps, const struct policy *p)
{
    char prefix[POLICY_MAX_KEY_PATH];

    check_settings_defaults(ps, &p->cluster, NULL, "");
    for (size_t i = 0; i < p->nns; i++) {
        entry_path(prefix, sizeof(prefix), i, ".");
        check_settings_defaults(ps, &p->ns[i].settings, &p->cluster, prefix);
    }
}

/* An index of the strings of list (borrowed from p's document), exact. */
static struct policyindex *exact_index(const json_t *list)
{
    struct policyindex *ix = policyindex_new(json_array_size(list));
    size_t i, first;
    json_t *v;

    json_array_foreach(list, i, v)
        policyindex_add(ix, json_string_value(v), json_string_length(v), 0, i, &first);  /* a repeat is harmless */
    policyindex_build(ix);
    return ix;
}

void policyload_free(struct policy *p)
{
    for (size_t i = 0; i < p->nns; i++)
        free(p->ns[i].name);
    policyindex_free(p->names);
    policyindex_free(p->users);
    policyindex_free(p->groups);
    json_decref(p->doc);
    json_decref(p->normalized);
    free(p);
}

struct policy *policyload_parse(const json_t *doc, const char *source, char *err, size_t errlen)
{
    struct parser ps = { .source = source, .msg = STRBUF_INIT };
    size_t n = json_array_size(json_object_get(doc, "namespaces")), i;
    struct policy *p;
    json_t *exempt, *nss, *entry;

    if (!json_is_object(doc)) {
        fail(&ps, NULL, "must be a " POLICY_KIND " mapping");
        report(&ps, err, errlen);
        return NULL;
    }
    p = calloc(1, sizeof(*p) + n * sizeof(p->ns[0]));
    if (!p)
        abort();
    atomic_init(&p->refs, 1);
    /* a reference, not a copy (a copy was half of loading a 10,000-rule
     * file): nothing here changes the document, and the caller does not
     * change it afterwards (mutators/policy.h) */
    p->doc = json_incref((json_t *)doc);
    p->normalized = ps.normalized = json_array();
    if (!p->normalized)
        abort();
    p->names = policyindex_new(n);
    p->cluster = policy_builtin;
    p->cluster.rule = "cluster";
    /* every part is judged, whatever failed before it */
    check_identity(&ps, p->doc);
    parse_mapping(&ps, NULL, p->doc, top_keys, &p->cluster);
    parse_pod(&ps, NULL, p->doc, &p->cluster);
    exempt = json_object_get(p->doc, "exempt");
    if (exempt)
        parse_mapping(&ps, "exempt", exempt, exempt_keys, p);
    nss = json_object_get(p->doc, "namespaces");
    if (nss && !json_is_array(nss))
        fail(&ps, "namespaces", "must be a list of {match, defaults, limits, allow}");
    json_array_foreach(nss, i, entry) {
        p->nns = i + 1;
        parse_namespace(&ps, p, i, entry);
    }
    check_defaults(&ps, p);
    if (ps.problems) {
        report(&ps, err, errlen);
        policyload_free(p);
        return NULL;
    }
    strbuf_release(&ps.msg);
    policyindex_build(p->names);
    p->users = exact_index(p->exempt_users);
    p->groups = exact_index(p->exempt_groups);
    return p;
}
