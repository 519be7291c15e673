/*
 * fields.c - shared field rules: names, images, paths, URLs.
 *
 * Written as small hand-rolled scanners rather than regcomp(): the rules are
 * simple, the hot path stays allocation-free, and the wording of each error
 * follows the apiserver's.
 */
#include "mutators/fields.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define DNS1123_LABEL_MAX 63
#define DNS1123_SUBDOMAIN_MAX 253

/* The schemes a Dataset's data may come from: the object storages
 * paddle-operator's JuiceFS engine syncs from (sampleset branch,
 * controllers/extensions/driver/juicefs.go JuiceFSSupportStorage, checked
 * in CreateSyncJobOptions), which the kubeflow sync Job's `juicefs sync`
 * reads too. Not "file": a path inside the sync container is no data
 * source. No http/https: JuiceFS has no such storage. */
static const char *const source_schemes[] = {
    "bos", "s3", "hdfs", "gs", "wasb", "oss", "cos", "ks3", "ufile", "qingstor", "jss", "qiniu",
    "b2", "space", "obs", "oos", "scw", "minio", "scs", "ibmcos", "wasabi", "mss", "nos", "eos",
    "speedy", "ceph", "swift", "webdav", "redis", "tikv", NULL,
};

#define SOURCE_SCHEMES_TEXT                                                                  \
    "bos, s3, hdfs, gs, wasb, oss, cos, ks3, ufile, qingstor, jss, qiniu, b2, space, obs, oos, " \
    "scw, minio, scs, ibmcos, wasabi, mss, nos, eos, speedy, ceph, swift, webdav, redis, tikv"

static int is_lower_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(int c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static int label_ok(const char *s, size_t n)
{
    if (n == 0 || !is_lower_alnum((unsigned char)s[0]) || !is_lower_alnum((unsigned char)s[n - 1]))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_lower_alnum((unsigned char)s[i]) && s[i] != '-')
            return 0;
    return 1;
}

int fields_is_dns1123_label(const char *s)
{
    size_t n = strlen(s);

    return n <= DNS1123_LABEL_MAX && label_ok(s, n);
}

int fields_is_dns1123_subdomain(const char *s)
{
    size_t n = strlen(s);
    const char *p = s;

    if (n == 0 || n > DNS1123_SUBDOMAIN_MAX)
        return 0;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);

        if (!label_ok(p, len))
            return 0;
        if (!dot)
            return 1;
        p = dot + 1;
    }
}

int fields_is_dns1035_label(const char *s)
{
    return s[0] >= 'a' && s[0] <= 'z' && fields_is_dns1123_label(s);
}

static void check_name_rule(const char *path, const json_t *v, struct fielderr_list *errs,
                            int (*ok)(const char *), size_t max, const char *what)
{
    const char *s = json_string_value(v);

    if (strlen(s) > max)
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be no more than %zu characters", max);
    else if (!ok(s))
        fielderr_add(errs, FIELDERR_INVALID, path, v, "%s", what);
}

void fields_check_dns1123_label(const char *path, const json_t *v, struct fielderr_list *errs)
{
    check_name_rule(path, v, errs, fields_is_dns1123_label, DNS1123_LABEL_MAX,
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                    "characters or '-', and must start and end with an alphanumeric character "
                    "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

void fields_check_dns1123_subdomain(const char *path, const json_t *v, struct fielderr_list *errs)
{
    check_name_rule(path, v, errs, fields_is_dns1123_subdomain, DNS1123_SUBDOMAIN_MAX,
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '-' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

void fields_check_name(const char *path, const json_t *v, struct fielderr_list *errs)
{
    check_name_rule(path, v, errs, fields_is_dns1035_label, FIELDS_MAX_NAME,
                    "a DNS-1035 label must consist of lower case alphanumeric characters or "
                    "'-', start with an alphabetic character, and end with an alphanumeric "
                    "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                    "'[a-z]([-a-z0-9]*[a-z0-9])?')");
}

/* Image references, as the container runtimes parse them: the grammar of
 * github.com/distribution/reference (regexp.go: referencePat, domainAndPort,
 * ipv6address, tag, digestPat; reference.go Parse; normalize.go
 * ParseNormalizedNamed and splitDockerDomain, which decide what the first
 * component is), with the digest checked as go-digest v1.0.0 (the one
 * containerd and CRI-O vendor) does: the algorithms it registers, each with
 * its own hex length. */

#define IMAGE_MAX_PATH 255      /* RepositoryNameTotalLengthMax */
#define IMAGE_MAX_TAG 128
#define IMAGE_MIN_DIGEST_HEX 32 /* digestPat: [[:xdigit:]]{32,} */

static const struct {
    const char *name;
    size_t hex;
} digest_algorithms[] = { { "sha256", 64 }, { "sha384", 96 }, { "sha512", 128 } };

/* alnum+ ([_.]|__|-+ alnum+)* over lowercase */
static int path_component_ok(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t run = 0, sep = 0;

        while (i < n && is_lower_alnum((unsigned char)s[i]))
            i++, run++;
        if (run == 0)
            return 0;
        if (i == n)
            return 1;
        if (s[i] == '.')
            sep = 1;
        else if (s[i] == '_')
            sep = (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
        else
            while (i + sep < n && s[i + sep] == '-')
                sep++;
        if (sep == 0)
            return 0;
        i += sep;
        if (i == n)
            return 0;
    }
    return n > 0;
}

/* domainName (components [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])? joined by
 * '.') or ipv6address (\[[a-fA-F0-9:]+\]), then optionalPort (:[0-9]{1,5}). */
static int domain_ok(const char *s, size_t n)
{
    size_t host, start = 0;

    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);

        host = close ? (size_t)(close - s) + 1 : 0;
        if (host < 3)
            return 0;
        for (size_t i = 1; i + 1 < host; i++)
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':')
                return 0;
    } else {
        const char *colon = memchr(s, ':', n);

        host = colon ? (size_t)(colon - s) : n;
        for (size_t i = 0; i <= host; i++) {
            if (i < host && s[i] != '.')
                continue;
            if (i == start || !is_alnum((unsigned char)s[start]) || !is_alnum((unsigned char)s[i - 1]))
                return 0;
            for (size_t j = start; j < i; j++)
                if (!is_alnum((unsigned char)s[j]) && s[j] != '-')
                    return 0;
            start = i + 1;
        }
    }
    if (host == n)
        return 1;
    /* the grammar takes any run of digits; more than five is no port a
     * runtime can dial, so it is refused here, as before */
    if (s[host] != ':' || host + 1 == n || n - host - 1 > 5)
        return 0;
    for (size_t i = host + 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* [\w][\w.-]{0,127} */
static int tag_ok(const char *s, size_t n)
{
    if (n == 0 || n > IMAGE_MAX_TAG || !(isalnum((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return 0;
    return 1;
}

/* [A-Za-z][A-Za-z0-9]* ([-_+.][A-Za-z][A-Za-z0-9]*)* */
static int digest_algorithm_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isalpha((unsigned char)s[i]))
            return 0;
        while (i + 1 < n && isalnum((unsigned char)s[i + 1]))
            i++;
        if (i + 1 < n && !strchr("-_+.", s[i + 1]))
            return 0;
        if (i + 1 < n && ++i + 1 == n)
            return 0;           /* a separator last */
    }
    return n > 0;
}

/* NULL when s (NUL-terminated) is a digest the runtimes accept, else why. */
static const char *digest_problem(const char *s)
{
    const char *colon = strchr(s, ':');
    size_t alen = colon ? (size_t)(colon - s) : 0, hex = colon ? strlen(colon + 1) : 0;

    if (!colon || !digest_algorithm_ok(s, alen) || hex < IMAGE_MIN_DIGEST_HEX)
        return "digest must be ALGORITHM:HEX (at least 32 hex digits), such as sha256:<64 hex digits>";
    for (size_t i = 0; i < hex; i++)
        if (!isxdigit((unsigned char)colon[1 + i]))
            return "digest must be ALGORITHM:HEX (at least 32 hex digits), such as sha256:<64 hex digits>";
    for (size_t a = 0; a < sizeof(digest_algorithms) / sizeof(digest_algorithms[0]); a++) {
        if (strlen(digest_algorithms[a].name) != alen || memcmp(s, digest_algorithms[a].name, alen) != 0)
            continue;
        if (hex != digest_algorithms[a].hex)
            return a == 0 ? "digest sha256 must have 64 hex digits"
                          : a == 1 ? "digest sha384 must have 96 hex digits" : "digest sha512 must have 128 hex digits";
        for (size_t i = 0; i < hex; i++)
            if (isupper((unsigned char)colon[1 + i]))
                return "digest hex digits must be lowercase";
        return NULL;
    }
    return "unsupported digest algorithm: sha256, sha384 and sha512 are supported";
}

/* 1 when s[0..n) is the 64-hex identifier of an image, which
 * ParseNormalizedNamed refuses as a name. */
static int is_identifier(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

/* 1 when the first component of a name, fl bytes, names a registry
 * (splitDockerDomain): it holds '.' or ':', is "localhost", or is not
 * lowercase. Shared with the policy's qualification of short names. */
int fields_image_has_registry(const char *s, size_t fl)
{
    if (memchr(s, '.', fl) || memchr(s, ':', fl) || (fl == 9 && !memcmp(s, "localhost", 9)))
        return 1;
    for (size_t i = 0; i < fl; i++)
        if (isupper((unsigned char)s[i]))
            return 1;
    return 0;
}

/* Returns NULL when ok, else why not. *pinned tells whether a tag or digest
 * was given. */
static const char *image_problem(const char *s, int *pinned)
{
    size_t n = strlen(s), name_len, path_len;
    const char *at = strchr(s, '@'), *slash, *colon, *p, *first_end;
    const char *why;
    int has_tag = 0;

    *pinned = 0;
    if (n > FIELDS_MAX_IMAGE)
        return "must be no more than " FIELDS_MAX_IMAGE_TEXT " characters";
    if (is_identifier(s, n))
        return "a 64-hex-digit image ID is not a repository name";
    if (at) {
        if ((why = digest_problem(at + 1)))
            return why;
        n = (size_t)(at - s);
        *pinned = 1;
    }
    /* the tag: after the last ':' that follows the last '/' */
    slash = memrchr(s, '/', n);
    p = slash ? slash : s;
    colon = memrchr(p, ':', n - (size_t)(p - s));
    name_len = n;
    if (colon) {
        if (!tag_ok(colon + 1, n - (size_t)(colon - s) - 1))
            return "tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
        name_len = (size_t)(colon - s);
        has_tag = 1;
    }
    if (name_len == 0)
        return "must be [registry/]repository[:tag][@algorithm:digest]";
    p = s;
    path_len = name_len;
    first_end = memchr(s, '/', name_len);
    if (first_end && fields_image_has_registry(s, (size_t)(first_end - s))) {
        if (!domain_ok(s, (size_t)(first_end - s)))
            return "registry must be a host name or a bracketed IPv6 address, with an optional port";
        p = first_end + 1;
        path_len = name_len - (size_t)(p - s);
    } else if (!first_end) {
        path_len += sizeof("library/") - 1;     /* docker.io/library/<name> */
    }
    while (p < s + name_len) {
        const char *end = memchr(p, '/', (size_t)(s + name_len - p));
        size_t len = end ? (size_t)(end - p) : (size_t)(s + name_len - p);

        if (!path_component_ok(p, len))
            return "repository must be lowercase alphanumeric components separated by '/', "
                   "'.', '_', '__' or '-'";
        if (!end)
            break;
        p = end + 1;
        if (p == s + name_len)
            return "repository must not end with '/'";
    }
    if (p == s + name_len)
        return "must be [registry/]repository[:tag][@algorithm:digest]";
    if (path_len > IMAGE_MAX_PATH)
        return "repository name must be no more than 255 characters";
    *pinned |= has_tag;
    return NULL;
}

static void check_image(const char *path, const json_t *v, struct fielderr_list *errs, int need_pin)
{
    int pinned;
    const char *why = image_problem(json_string_value(v), &pinned);

    if (why)
        fielderr_add(errs, FIELDERR_INVALID, path, v, "invalid image reference: %s", why);
    else if (need_pin && !pinned)
        fielderr_add(errs, FIELDERR_INVALID, path, v, "image must name a tag or a digest");
}

void fields_check_image(const char *path, const json_t *v, struct fielderr_list *errs)
{
    check_image(path, v, errs, 0);
}

void fields_check_image_pinned(const char *path, const json_t *v, struct fielderr_list *errs)
{
    check_image(path, v, errs, 1);
}

void fields_check_relpath(const char *path, const json_t *v, struct fielderr_list *errs)
{
    const char *s = json_string_value(v);
    size_t n = strlen(s);

    if (n == 0) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must not be empty");
        return;
    }
    if (n > FIELDS_MAX_PATH) {
        fielderr_add(errs, FIELDERR_TOO_LONG, path, v, "must have at most %d bytes", FIELDS_MAX_PATH);
        return;
    }
    if (s[0] == '/') {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be a relative path (no leading '/')");
        return;
    }
    for (const char *c = s; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '/' && *c != '-') {
            fielderr_add(errs, FIELDERR_INVALID, path, v,
                         "may contain only letters, digits, '.', '_', '-' and '/'");
            return;
        }
    }
    for (const char *seg = s; seg;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);

        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            fielderr_add(errs, FIELDERR_INVALID, path, v, "must not contain '..'");
            return;
        }
        seg = end ? end + 1 : NULL;
    }
}

/* URLs */

/* Decodes the UTF-8 character at *p and moves past it. */
static unsigned long utf8_next(const char **p)
{
    const unsigned char *s = (const unsigned char *)*p;
    unsigned long cp = *s++;
    int more = cp >= 0xf0 ? 3 : cp >= 0xe0 ? 2 : cp >= 0xc0 ? 1 : 0;

    if (more)
        cp &= 0x3fu >> more;
    while (more-- > 0 && (*s & 0xc0) == 0x80)
        cp = cp << 6 | (*s++ & 0x3f);
    *p = (const char *)s;
    return cp;
}

int fields_has_control(const char *s, int spaces)
{
    while (*s) {
        unsigned long c;

        if ((unsigned char)*s > ' ' && (unsigned char)*s < 0x7f) {      /* printable ASCII */
            s++;
            continue;
        }
        c = utf8_next(&s);

        if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
            return 1;
        if (spaces && (c == ' ' || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) ||
                       c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000))
            return 1;
    }
    return 0;
}

size_t fields_utf8_clip(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);

    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

size_t fields_utf8_length(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

int fields_parse_url(const char *s, struct url *u)
{
    const char *p = strstr(s, "://"), *auth, *auth_end, *at, *h;

    memset(u, 0, sizeof(*u));
    if (!p || p == s)
        return -1;
    for (const char *c = s; c < p; c++)
        if (!(isalnum((unsigned char)*c) || ((*c == '+' || *c == '-' || *c == '.') && c > s)) ||
            !isalpha((unsigned char)s[0]))
            return -1;
    u->scheme = s;
    u->scheme_len = (size_t)(p - s);
    auth = p + 3;
    auth_end = auth + strcspn(auth, "/?#");
    at = NULL;
    for (const char *c = auth; c < auth_end; c++)
        if (*c == '@')
            at = c;
    h = auth;
    if (at) {
        u->has_userinfo = 1;
        u->userinfo = auth;
        u->userinfo_len = (size_t)(at - auth);
        h = at + 1;
    }
    u->host = h;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(auth_end - h));

        if (!close)
            return -1;
        u->host_len = (size_t)(close + 1 - h);
        h = close + 1;
    } else {
        while (h < auth_end && *h != ':')
            h++;
        u->host_len = (size_t)(h - u->host);
    }
    if (h < auth_end) {
        if (*h != ':')
            return -1;
        u->port = h + 1;
        u->port_len = (size_t)(auth_end - h - 1);
    }
    if (u->host_len == 0)
        return -1;
    p = auth_end;
    u->path = p;
    u->path_len = strcspn(p, "?#");
    p += u->path_len;
    if (*p == '?') {
        u->query = p + 1;
        u->query_len = strcspn(p + 1, "#");
        p += 1 + u->query_len;
    }
    if (*p == '#') {
        u->fragment = p + 1;
        u->fragment_len = strlen(p + 1);
    }
    return 0;
}

static int port_ok(const struct url *u)
{
    long port = 0;

    if (!u->port)
        return 1;
    if (u->port_len == 0 || u->port_len > 5)
        return 0;
    for (size_t i = 0; i < u->port_len; i++) {
        if (!isdigit((unsigned char)u->port[i]))
            return 0;
        port = port * 10 + (u->port[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

static int host_chars_ok(const struct url *u)
{
    for (size_t i = 0; i < u->host_len; i++) {
        int c = (unsigned char)u->host[i];

        if (!isalnum(c) && c != '-' && c != '.' && c != '_' && c != '[' && c != ']' && c != ':')
            return 0;
    }
    return 1;
}

static int scheme_is(const struct url *u, const char *scheme)
{
    return strlen(scheme) == u->scheme_len && !strncmp(u->scheme, scheme, u->scheme_len);
}

/* Common to every URL we accept: parses, no whitespace, no credentials,
 * a sane host and port. Returns 0, or -1 after appending an error. */
static int check_url_common(const char *path, const json_t *v, struct url *u,
                            struct fielderr_list *errs)
{
    const char *s = json_string_value(v);

    if (fields_has_control(s, 1)) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must not contain whitespace or control characters");
        return -1;
    }
    if (fields_parse_url(s, u) < 0) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be a URL of the form scheme://host/path");
        return -1;
    }
    if (u->has_userinfo) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must not contain credentials (user-info)");
        return -1;
    }
    if (!host_chars_ok(u) || !port_ok(u)) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must have a valid host and port");
        return -1;
    }
    return 0;
}

static int is_http(const struct url *u)
{
    return scheme_is(u, "http") || scheme_is(u, "https");
}

void fields_check_endpoint(const char *path, const json_t *v, struct fielderr_list *errs)
{
    struct url u;

    if (strlen(json_string_value(v)) > FIELDS_MAX_URI) {
        fielderr_add(errs, FIELDERR_TOO_LONG, path, v, "must have at most %d bytes", FIELDS_MAX_URI);
        return;
    }
    if (check_url_common(path, v, &u, errs) < 0)
        return;
    if (!is_http(&u))
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be http://host[:port] or https://host[:port]");
    else if ((u.path_len > 1 || (u.path_len == 1 && u.path[0] != '/')) || u.query || u.fragment)
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be http(s)://host[:port] without a path");
}

json_t *fields_normalize_endpoint(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || s[n - 1] != '/')
        return NULL;
    while (n > 0 && s[n - 1] == '/')
        n--;
    return json_stringn(s, n);
}

void fields_check_source_uri(const char *path, const json_t *v, struct fielderr_list *errs)
{
    const char *s = json_string_value(v);
    size_t n = fields_utf8_length(s);
    struct url u;
    int known = 0;

    /* characters, as the SampleSet CRD's minLength/maxLength count them */
    if (n > FIELDS_MAX_URI) {
        fielderr_add(errs, FIELDERR_TOO_LONG, path, v, "must have at most %d characters", FIELDS_MAX_URI);
        return;
    }
    if (n < FIELDS_MIN_SOURCE_URI) {
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be at least %d characters",
                     FIELDS_MIN_SOURCE_URI);
        return;
    }
    if (check_url_common(path, v, &u, errs) < 0)
        return;
    for (const char *const *sc = source_schemes; *sc; sc++)
        known |= scheme_is(&u, *sc);
    if (!known)
        fielderr_add(errs, FIELDERR_INVALID, path, v,
                     "unsupported scheme \"%.*s\": the JuiceFS engine reads " SOURCE_SCHEMES_TEXT,
                     (int)(u.scheme_len > 32 ? 32 : u.scheme_len), u.scheme);
    else if (u.path_len == 0)
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be scheme://bucket-or-host/path");
}

void fields_check_model_version(const char *path, const json_t *v, struct fielderr_list *errs)
{
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    int ok = n >= 1 && n <= 63 && isalnum((unsigned char)s[0]);

    for (size_t i = 1; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_' || s[i] == '-';
    if (!ok)
        fielderr_add(errs, FIELDERR_INVALID, path, v,
                     "must match '[A-Za-z0-9][A-Za-z0-9._-]{0,62}'");
}

/* fields_pretrain_file() of a parsed URL. */
static int pretrain_file(const struct url *u, int stem, char *buf, size_t len)
{
    const char *file;
    size_t flen;
    static const char ext[] = FIELDS_PRETRAIN_EXT;

    if (u->path_len == 0)
        return -1;
    file = u->path + u->path_len;
    while (file > u->path && file[-1] != '/')
        file--;
    flen = (size_t)(u->path + u->path_len - file);
    if (flen <= sizeof(ext) - 1 || memcmp(file + flen - (sizeof(ext) - 1), ext, sizeof(ext) - 1))
        return -1;
    for (size_t i = 0; i < flen; i++)
        if (!isalnum((unsigned char)file[i]) && file[i] != '.' && file[i] != '_' && file[i] != '-')
            return -1;
    if (stem)
        flen -= sizeof(ext) - 1;
    if (flen + 1 > len)
        return -1;
    memcpy(buf, file, flen);
    buf[flen] = '\0';
    return 0;
}

int fields_pretrain_file(const char *url, int stem, char *buf, size_t len)
{
    struct url u;

    return fields_parse_url(url, &u) < 0 ? -1 : pretrain_file(&u, stem, buf, len);
}

void fields_check_pretrain_model(const char *path, const json_t *v, struct fielderr_list *errs)
{
    struct url u;
    char name[FIELDS_MAX_URI + 1];

    if (strlen(json_string_value(v)) > FIELDS_MAX_URI) {
        fielderr_add(errs, FIELDERR_TOO_LONG, path, v, "must have at most %d bytes", FIELDS_MAX_URI);
        return;
    }
    if (check_url_common(path, v, &u, errs) < 0)
        return;
    if (!is_http(&u))
        fielderr_add(errs, FIELDERR_INVALID, path, v, "must be an http:// or https:// URL");
    else if (u.fragment || pretrain_file(&u, 1, name, sizeof(name)) < 0)
        fielderr_add(errs, FIELDERR_INVALID, path, v,
                     "must name a file NAME.pdparams (NAME of letters, digits, '.', '_', '-')");
}

int fields_url_host(const char *url, char *buf, size_t len)
{
    struct url u;

    if (fields_parse_url(url, &u) < 0 || u.host_len + 1 > len)
        return -1;
    for (size_t i = 0; i < u.host_len; i++)
        buf[i] = (char)tolower((unsigned char)u.host[i]);
    buf[u.host_len] = '\0';
    return 0;
}
