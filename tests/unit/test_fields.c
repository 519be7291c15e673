/*
 * Unit tests of mutators/fields.c: the shared field rules (names, image
 * references, relative paths, URLs) and their Kubernetes wording.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/fields.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX32 "0123456789abcdef0123456789abcdef"
#define TAG128 HEX64 HEX64

/* prefix, n copies of c, then suffix: in one of two static buffers, used
 * in turn, so two results can be compared. */
static const char *fill(const char *prefix, char c, size_t n, const char *suffix)
{
    static char bufs[2][8192];
    static int turn;
    char *buf = bufs[turn ^= 1];
    size_t p = strlen(prefix), s = strlen(suffix);

    assert_true(p + n + s < sizeof(bufs[0]));
    memcpy(buf, prefix, p);
    memset(buf + p, c, n);
    memcpy(buf + p + n, suffix, s + 1);
    return buf;
}

/* n copies of c */
static const char *rep(char c, size_t n)
{
    return fill("", c, n, "");
}

/* Runs check on the string s under "spec.x"; returns how many errors it
 * appended and copies the first one's type and detail out. */
static size_t run_check(void (*check)(const char *, const json_t *, struct fielderr_list *),
                        const char *s, enum fielderr_type *type, char *detail, size_t dlen)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *v = json_string(s);
    size_t n;

    assert_non_null(v);
    check("spec.x", v, &errs);
    n = errs.len;
    if (n > 0) {
        assert_string_equal(errs.v[0].path, "spec.x");
        if (type)
            *type = errs.v[0].type;
        if (detail)
            snprintf(detail, dlen, "%s", errs.v[0].detail ? errs.v[0].detail : "");
    }
    fielderr_release(&errs);
    json_decref(v);
    return n;
}

/* The detail of the only error check finds in s. */
static const char *only_error(void (*check)(const char *, const json_t *, struct fielderr_list *),
                              const char *s)
{
    static char detail[512];

    if (run_check(check, s, NULL, detail, sizeof(detail)) != 1)
        fail_msg("expected exactly one error for \"%s\"", s);
    return detail;
}

static void assert_accepts(void (*check)(const char *, const json_t *, struct fielderr_list *),
                           const char *s)
{
    char detail[512] = "";

    if (run_check(check, s, NULL, detail, sizeof(detail)) != 0)
        fail_msg("\"%s\" refused: %s", s, detail);
}

/* ------------------------------------------------------------- names */

static void test_dns1123_label(void **state)
{
    (void)state;
    assert_true(fields_is_dns1123_label("a"));
    assert_true(fields_is_dns1123_label("0"));
    assert_true(fields_is_dns1123_label("my-name-2"));
    assert_true(fields_is_dns1123_label(rep('a', 63)));
    assert_false(fields_is_dns1123_label(rep('a', 64)));
    assert_false(fields_is_dns1123_label(""));
    assert_false(fields_is_dns1123_label("-a"));
    assert_false(fields_is_dns1123_label("a-"));
    assert_false(fields_is_dns1123_label("A"));
    assert_false(fields_is_dns1123_label("a_b"));
    assert_false(fields_is_dns1123_label("a.b"));
}

static void test_dns1123_subdomain(void **state)
{
    (void)state;
    assert_true(fields_is_dns1123_subdomain("a"));
    assert_true(fields_is_dns1123_subdomain("a.b-c.d0"));
    assert_true(fields_is_dns1123_subdomain(rep('a', 253)));
    assert_false(fields_is_dns1123_subdomain(rep('a', 254)));
    assert_false(fields_is_dns1123_subdomain(""));
    assert_false(fields_is_dns1123_subdomain(".a"));
    assert_false(fields_is_dns1123_subdomain("a."));
    assert_false(fields_is_dns1123_subdomain("a..b"));
    assert_false(fields_is_dns1123_subdomain("a.-b"));
    assert_false(fields_is_dns1123_subdomain("a.B"));
}

static void test_dns1035_label(void **state)
{
    (void)state;
    assert_true(fields_is_dns1035_label("a"));
    assert_true(fields_is_dns1035_label("a1-b2"));
    assert_false(fields_is_dns1035_label("1a"));
    assert_false(fields_is_dns1035_label(""));
    assert_false(fields_is_dns1035_label("a-"));
    assert_false(fields_is_dns1035_label("-a"));
}

static void test_check_name_length_before_shape(void **state)
{
    enum fielderr_type type;
    char detail[512];

    (void)state;
    assert_accepts(fields_check_name, rep('a', FIELDS_MAX_NAME));
    assert_int_equal(run_check(fields_check_name, rep('a', FIELDS_MAX_NAME + 1), &type, detail,
                               sizeof(detail)), 1);
    assert_int_equal(type, FIELDERR_INVALID);
    assert_string_equal(detail, "must be no more than 45 characters");
    assert_non_null(strstr(only_error(fields_check_name, "Bad"), "a DNS-1035 label must consist"));
    assert_non_null(strstr(only_error(fields_check_name, "1abc"), "'[a-z]([-a-z0-9]*[a-z0-9])?'"));
}

static void test_check_label_and_subdomain_wording(void **state)
{
    (void)state;
    assert_accepts(fields_check_dns1123_label, "model-1");
    assert_non_null(strstr(only_error(fields_check_dns1123_label, "a.b"),
                           "a lowercase RFC 1123 label must consist"));
    assert_string_equal(only_error(fields_check_dns1123_label, rep('a', 64)),
                        "must be no more than 63 characters");
    assert_accepts(fields_check_dns1123_subdomain, "task-center.v2");
    assert_non_null(strstr(only_error(fields_check_dns1123_subdomain, "task_center"),
                           "a lowercase RFC 1123 subdomain must consist"));
    assert_string_equal(only_error(fields_check_dns1123_subdomain, rep('a', 254)),
                        "must be no more than 253 characters");
}

/* ------------------------------------------------------------- images */

static void test_image_valid_references(void **state)
{
    static const char *const ok[] = {
        "ocr",
        "ocr:2.5",
        "paddlepaddle/paddle:2.4.0-gpu-cuda11.2",
        "registry.baidubce.com/paddleflow-public/paddleocr:2.5-gpu",
        "registry.local:5000/team/ocr:v1",
        "registry:5000/ocr",
        "localhost/ocr",
        "localhost:5000/ocr:v1",
        "ocr@sha256:" HEX64,
        "registry.local:5000/ocr:v1@sha256:" HEX64,
        "a/b/c/d/e",
        "team/paddle_ocr__x.y-z--w:v_1.0-rc",
        "Registry.Example.COM/ocr",
        "ocr:_tag",
        "ocr:V1.A",
        "1ocr:1",
        /* distribution/reference: IPv6 hosts, any registered digest, a
         * first component with an upper-case letter is a registry */
        "[::1]:5000/repo:tag",
        "[::1]/repo",
        "[fd00:1234::abcd]:443/team/ocr@sha256:" HEX64,
        "[FE80::1]:5000/ocr:1",
        "ocr@sha384:" HEX64 HEX32,
        "ocr@sha512:" HEX64 HEX64,
        "registry.local:5000/ocr:v1@sha512:" HEX64 HEX64,
        "MyRegistry/ocr:1",
        "10.0.0.1:5000/ocr:1",
        "a-b.c--d.io/x",
        "localhost:5000",
        "docker.io/library/python:3",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_accepts(fields_check_image, ok[i]);
}

static void test_image_tag_length(void **state)
{
    (void)state;
    assert_accepts(fields_check_image, fill("ocr:", 't', 128, ""));
    assert_string_equal(only_error(fields_check_image, fill("ocr:", 't', 129, "")),
                        "invalid image reference: tag must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
}

static void test_image_invalid_references(void **state)
{
    static const struct {
        const char *image, *why;
    } bad[] = {
        { "Ocr", "repository must be lowercase" },
        { "team/PaddleOCR:1", "repository must be lowercase" },
        { "ocr:", "tag must match" },
        { "ocr:-x", "tag must match" },
        { "ocr:.x", "tag must match" },
        { "ocr:a+b", "tag must match" },
        { "ocr@sha256:abc", "digest must be ALGORITHM:HEX" },
        { "ocr@sha256:" HEX64 "0", "digest sha256 must have 64 hex digits" },
        { "ocr@sha512:" HEX64, "digest sha512 must have 128 hex digits" },
        { "ocr@sha384:" HEX64, "digest sha384 must have 96 hex digits" },
        { "ocr@", "digest must be ALGORITHM:HEX" },
        { "ocr@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
          "digest hex digits must be lowercase" },
        /* the grammar's digestPat, then go-digest v1.0.0's registered algorithms */
        { "ocr@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm" },
        { "ocr@blake3:" HEX64, "unsupported digest algorithm" },
        { "ocr@sha256", "digest must be ALGORITHM:HEX" },
        { "ocr@:" HEX64, "digest must be ALGORITHM:HEX" },
        { "ocr@1sha:" HEX64, "digest must be ALGORITHM:HEX" },
        { "ocr@sha-:" HEX64, "digest must be ALGORITHM:HEX" },
        { "ocr@sha--256:" HEX64, "digest must be ALGORITHM:HEX" },
        { "ocr@sha256:" HEX64 "@sha256:" HEX64, "digest must be ALGORITHM:HEX" },
        { "ocr@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
          "digest must be ALGORITHM:HEX" },
        /* bracketed IPv6 registries: hex digits and ':' only, closed */
        { "[::1/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[]:5000/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[::g]:5000/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[fe80::1%eth0]/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[::1]x/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[::1]:/ocr:1", "registry must be a host name or a bracketed IPv6" },
        { "[::1]:5000/", "must be [registry/]repository" },
        { "[::1]:5000", "repository must be lowercase" },
        { "reg-.io/ocr", "registry must be a host name" },
        { "reg.io./ocr", "registry must be a host name" },
        { "reg_x.io/ocr", "registry must be a host name" },
        /* ParseNormalizedNamed: an image ID is no repository name */
        { HEX64, "64-hex-digit image ID" },
        { ":1", "must be [registry/]repository" },
        { "@sha256:" HEX64, "must be [registry/]repository" },
        { "registry.local:abc/ocr", "registry must be a host name" },
        { "registry.local:/ocr", "registry must be a host name" },
        { "registry.local:123456/ocr", "registry must be a host name" },
        { "-registry.local/ocr", "registry must be a host name" },
        { "registry..local/ocr", "registry must be a host name" },
        { "team/ocr/", "repository must not end with '/'" },
        { "team//ocr", "repository must be lowercase" },
        { "/ocr", "repository must be lowercase" },
        { "_ocr", "repository must be lowercase" },
        { "ocr_", "repository must be lowercase" },
        { "ocr___x", "repository must be lowercase" },
        { "ocr..x", "repository must be lowercase" },
        { "oc r", "repository must be lowercase" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *d = only_error(fields_check_image, bad[i].image);

        if (strncmp(d, "invalid image reference: ", 25) || !strstr(d, bad[i].why))
            fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].image, d, bad[i].why);
    }
}

static void test_image_caps(void **state)
{
    (void)state;
    assert_string_equal(only_error(fields_check_image, rep('a', FIELDS_MAX_IMAGE + 1)),
                        "invalid image reference: must be no more than 1024 characters");
    assert_accepts(fields_check_image, fill("registry.local/", 'a', 240, ":v1"));
    assert_string_equal(only_error(fields_check_image, rep('a', 256)),
                        "invalid image reference: repository name must be no more than 255 characters");
    assert_accepts(fields_check_image, fill("team/", 'a', 250, ":v1"));
    /* a one-component name is docker.io/library/<name>: 8 of the 255 gone
     * (normalize.go splitDockerDomain, then Parse's path length) */
    assert_accepts(fields_check_image, fill("", 'a', 247, ":v1"));
    assert_string_equal(only_error(fields_check_image, fill("", 'a', 248, ":v1")),
                        "invalid image reference: repository name must be no more than 255 characters");
    /* the longest reference: 255 of path, a 128 tag and a sha512 digest */
    assert_accepts(fields_check_image, fill("registry.example.com:5000/", 'a', 255,
                                            ":" TAG128 "@sha512:" HEX64 HEX64));
}

static void test_image_pinned(void **state)
{
    (void)state;
    assert_accepts(fields_check_image_pinned, "serving:0.9");
    assert_accepts(fields_check_image_pinned, "serving@sha256:" HEX64);
    assert_accepts(fields_check_image_pinned, "registry:5000/serving:1");
    /* a registry port is not a tag */
    assert_string_equal(only_error(fields_check_image_pinned, "registry:5000/serving"),
                        "image must name a tag or a digest");
    assert_string_equal(only_error(fields_check_image_pinned, "serving"),
                        "image must name a tag or a digest");
    /* a malformed reference is reported once, as malformed */
    assert_non_null(strstr(only_error(fields_check_image_pinned, "Serving"), "invalid image reference"));
}

/* ------------------------------------------------------------- paths */

static void test_relpath(void **state)
{
    enum fielderr_type type;
    char detail[256];

    (void)state;
    assert_accepts(fields_check_relpath, "configs/rec/rec_icdar15_train.yml");
    assert_accepts(fields_check_relpath, "./a.yml");
    assert_accepts(fields_check_relpath, "a..b/c...d");
    assert_accepts(fields_check_relpath, "...");
    assert_accepts(fields_check_relpath, rep('a', FIELDS_MAX_PATH));
    assert_string_equal(only_error(fields_check_relpath, ""), "must not be empty");
    assert_string_equal(only_error(fields_check_relpath, "/a"), "must be a relative path (no leading '/')");
    assert_string_equal(only_error(fields_check_relpath, ".."), "must not contain '..'");
    assert_string_equal(only_error(fields_check_relpath, "a/.."), "must not contain '..'");
    assert_string_equal(only_error(fields_check_relpath, "../a"), "must not contain '..'");
    assert_string_equal(only_error(fields_check_relpath, "a/../b"), "must not contain '..'");
    assert_string_equal(only_error(fields_check_relpath, "a b"),
                        "may contain only letters, digits, '.', '_', '-' and '/'");
    assert_string_equal(only_error(fields_check_relpath, "a\\b"),
                        "may contain only letters, digits, '.', '_', '-' and '/'");
    assert_string_equal(only_error(fields_check_relpath, "caf\xc3\xa9"),
                        "may contain only letters, digits, '.', '_', '-' and '/'");
    assert_int_equal(run_check(fields_check_relpath, rep('a', FIELDS_MAX_PATH + 1), &type, detail,
                               sizeof(detail)), 1);
    assert_int_equal(type, FIELDERR_TOO_LONG);
    assert_string_equal(detail, "must have at most 1024 bytes");
}

/* ------------------------------------------------------------- URLs */

static void assert_span(const char *p, size_t n, const char *want)
{
    if (!want) {
        assert_int_equal(n, 0);
        return;
    }
    if (n != strlen(want) || memcmp(p, want, n))
        fail_msg("span \"%.*s\", want \"%s\"", (int)n, p ? p : "", want);
}

static void test_parse_url_spans(void **state)
{
    struct url u;

    (void)state;
    assert_int_equal(fields_parse_url("https://u:p@Host.example:9000/a/b?x=1&y=2#frag", &u), 0);
    assert_span(u.scheme, u.scheme_len, "https");
    assert_true(u.has_userinfo);
    assert_span(u.userinfo, u.userinfo_len, "u:p");
    assert_span(u.host, u.host_len, "Host.example");
    assert_span(u.port, u.port_len, "9000");
    assert_span(u.path, u.path_len, "/a/b");
    assert_span(u.query, u.query_len, "x=1&y=2");
    assert_span(u.fragment, u.fragment_len, "frag");

    assert_int_equal(fields_parse_url("s3://bucket", &u), 0);
    assert_span(u.host, u.host_len, "bucket");
    assert_false(u.has_userinfo);
    assert_null(u.port);
    assert_int_equal(u.path_len, 0);
    assert_null(u.query);
    assert_null(u.fragment);

    /* the last '@' of the authority ends the user-info */
    assert_int_equal(fields_parse_url("http://a@b@host/p@q", &u), 0);
    assert_span(u.userinfo, u.userinfo_len, "a@b");
    assert_span(u.host, u.host_len, "host");
    assert_span(u.path, u.path_len, "/p@q");

    assert_int_equal(fields_parse_url("http://[::1]:9000/x", &u), 0);
    assert_span(u.host, u.host_len, "[::1]");
    assert_span(u.port, u.port_len, "9000");

    assert_int_equal(fields_parse_url("http://host?q", &u), 0);
    assert_span(u.host, u.host_len, "host");
    assert_span(u.query, u.query_len, "q");

    assert_int_equal(fields_parse_url("git+ssh://host/x", &u), 0);
    assert_span(u.scheme, u.scheme_len, "git+ssh");
}

static void test_parse_url_refusals(void **state)
{
    static const char *const bad[] = {
        "", "host/path", "://host", "1http://host", "+a://host", "ht tp://host", "http://",
        "http:///path", "http://u@/x", "http://[::1/x", "http://[::1]x/", "http://:80",
    };
    struct url u;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fields_parse_url(bad[i], &u) != -1)
            fail_msg("\"%s\" parsed", bad[i]);
}

static void test_endpoint(void **state)
{
    static const char *const ok[] = {
        "http://minio-service.kubeflow:9000", "https://minio.example.com", "http://10.0.0.1:9000",
        "http://[::1]:9000", "http://minio/", "https://minio:65535",
    };
    static const struct {
        const char *url, *why;
    } bad[] = {
        { "http://u:p@minio:9000", "must not contain credentials (user-info)" },
        { "http://@minio:9000", "must not contain credentials (user-info)" },
        { "ftp://minio", "must be http://host[:port] or https://host[:port]" },
        { "HTTP://minio", "must be http://host[:port] or https://host[:port]" },
        { "http://minio/bucket", "must be http(s)://host[:port] without a path" },
        { "http://minio//", "must be http(s)://host[:port] without a path" },
        { "http://minio?x", "must be http(s)://host[:port] without a path" },
        { "http://minio#x", "must be http(s)://host[:port] without a path" },
        { "http://minio:0", "must have a valid host and port" },
        { "http://minio:65536", "must have a valid host and port" },
        { "http://minio:", "must have a valid host and port" },
        { "http://minio:123456", "must have a valid host and port" },
        { "http://mi$nio", "must have a valid host and port" },
        { "http://minio :9000", "must not contain whitespace or control characters" },
        { "http://minio\x7f", "must not contain whitespace or control characters" },
        { "minio:9000", "must be a URL of the form scheme://host/path" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_accepts(fields_check_endpoint, ok[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *d = only_error(fields_check_endpoint, bad[i].url);

        if (strcmp(d, bad[i].why))
            fail_msg("\"%s\": got \"%s\", want \"%s\"", bad[i].url, d, bad[i].why);
    }
}

static void test_endpoint_too_long(void **state)
{
    enum fielderr_type type;
    char detail[128];

    (void)state;
    assert_accepts(fields_check_endpoint, fill("http://", 'a', FIELDS_MAX_URI - 7, ""));
    assert_int_equal(run_check(fields_check_endpoint, fill("http://", 'a', FIELDS_MAX_URI - 6, ""),
                               &type, detail, sizeof(detail)), 1);
    assert_int_equal(type, FIELDERR_TOO_LONG);
    assert_string_equal(detail, "must have at most 2048 bytes");
}

static void test_normalize_endpoint(void **state)
{
    json_t *v;

    (void)state;
    assert_null(fields_normalize_endpoint("http://minio:9000"));
    assert_null(fields_normalize_endpoint(""));
    v = fields_normalize_endpoint("http://minio:9000/");
    assert_string_equal(json_string_value(v), "http://minio:9000");
    json_decref(v);
    v = fields_normalize_endpoint("https://minio///");
    assert_string_equal(json_string_value(v), "https://minio");
    json_decref(v);
    v = fields_normalize_endpoint("/");
    assert_string_equal(json_string_value(v), "");
    json_decref(v);
}

static void test_source_uri(void **state)
{
    /* the JuiceFS engine's storages (paddle-operator sampleset branch,
     * driver/juicefs.go JuiceFSSupportStorage), "file" excepted */
    static const char *const schemes[] = { "bos", "s3", "oss", "cos", "obs", "gs", "hdfs", "minio", "ceph",
                                           "wasb", "ks3", "webdav", "tikv" };
    static const char *const refused[] = { "http", "https", "file", "ftp", "gcs", "sftp" };
    char uri[64];
    enum fielderr_type type;
    char detail[256];

    (void)state;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        snprintf(uri, sizeof(uri), "%s://bucket/data/", schemes[i]);
        assert_accepts(fields_check_source_uri, uri);
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        snprintf(uri, sizeof(uri), "%s://bucket/data/", refused[i]);
        assert_non_null(strstr(only_error(fields_check_source_uri, uri), "the JuiceFS engine reads bos, s3,"));
    }
    assert_accepts(fields_check_source_uri, "s3://ab/cd");
    assert_string_equal(only_error(fields_check_source_uri, "s3://a/bc"), "must be at least 10 characters");
    assert_string_equal(only_error(fields_check_source_uri, "https://host/data"),
                        "unsupported scheme \"https\": the JuiceFS engine reads bos, s3, hdfs, gs, wasb, oss, "
                        "cos, ks3, ufile, qingstor, jss, qiniu, b2, space, obs, oos, scw, minio, scs, ibmcos, "
                        "wasabi, mss, nos, eos, speedy, ceph, swift, webdav, redis, tikv");
    assert_non_null(strstr(only_error(fields_check_source_uri, "S3://bucket/data"), "unsupported scheme \"S3\""));
    assert_string_equal(only_error(fields_check_source_uri, "bos://bucket/a b"),
                        "must not contain whitespace or control characters");
    assert_string_equal(only_error(fields_check_source_uri, "bos://bucket/a\x01"),
                        "must not contain whitespace or control characters");
    assert_string_equal(only_error(fields_check_source_uri, "bos://k:s@bucket/a"),
                        "must not contain credentials (user-info)");
    assert_string_equal(only_error(fields_check_source_uri, "bucket/data/x"),
                        "must be a URL of the form scheme://host/path");
    /* the scheme named in the error is clipped */
    assert_non_null(strstr(only_error(fields_check_source_uri, fill("", 'x', 100, "://b/data")),
                           "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":"));

    assert_accepts(fields_check_source_uri, fill("s3://bucket/", 'a', FIELDS_MAX_URI - 12, ""));
    assert_int_equal(run_check(fields_check_source_uri, fill("s3://bucket/", 'a', FIELDS_MAX_URI - 11, ""),
                               &type, detail, sizeof(detail)), 1);
    assert_int_equal(type, FIELDERR_TOO_LONG);
}

static void test_model_version(void **state)
{
    static const char *const ok[] = { "latest", "v1.2.3", "V2_rc-1", "7", "a.", "a-" };
    static const char *const bad[] = { "", "-v1", ".v1", "_v1", "v 1", "v1/2", "v1:2", "v\xc3\xa9" };

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        assert_accepts(fields_check_model_version, ok[i]);
    assert_accepts(fields_check_model_version, rep('a', 63));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(only_error(fields_check_model_version, bad[i]),
                            "must match '[A-Za-z0-9][A-Za-z0-9._-]{0,62}'");
    assert_string_equal(only_error(fields_check_model_version, rep('a', 64)),
                        "must match '[A-Za-z0-9][A-Za-z0-9._-]{0,62}'");
}

static void test_pretrain_file(void **state)
{
    char buf[64];

    (void)state;
    assert_int_equal(fields_pretrain_file("https://h/a/best_model.pdparams", 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "best_model.pdparams");
    assert_int_equal(fields_pretrain_file("https://h/a/best_model.pdparams", 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "best_model");
    assert_int_equal(fields_pretrain_file("https://h/m.v2.pdparams?sig=a/b.pdparams", 1, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "m.v2");
    assert_int_equal(fields_pretrain_file("https://h/x.pdparams", 1, buf, 2), 0);
    assert_string_equal(buf, "x");
    assert_int_equal(fields_pretrain_file("https://h/x.pdparams", 1, buf, 1), -1);
    assert_int_equal(fields_pretrain_file("https://h/x.pdparams", 0, buf, 11), 0);
    assert_string_equal(buf, "x.pdparams");
    assert_int_equal(fields_pretrain_file("https://h/x.pdparams", 0, buf, 10), -1);
    assert_int_equal(fields_pretrain_file("https://h/.pdparams", 1, buf, sizeof(buf)), -1);
    assert_int_equal(fields_pretrain_file("https://h/a.pdparams/", 1, buf, sizeof(buf)), -1);
    assert_int_equal(fields_pretrain_file("https://h/a.tar", 1, buf, sizeof(buf)), -1);
    assert_int_equal(fields_pretrain_file("https://h", 1, buf, sizeof(buf)), -1);
    assert_int_equal(fields_pretrain_file("https://h/a%20b.pdparams", 1, buf, sizeof(buf)), -1);
    assert_int_equal(fields_pretrain_file("not a url", 1, buf, sizeof(buf)), -1);
}

static void test_pretrain_model(void **state)
{
    (void)state;
    assert_accepts(fields_check_pretrain_model, "https://bj.bcebos.com/dygraph/MobileNetV3_pretrained.pdparams");
    assert_accepts(fields_check_pretrain_model, "http://models:8080/a/b.pdparams?token=x");
    assert_string_equal(only_error(fields_check_pretrain_model, "ftp://h/a.pdparams"),
                        "must be an http:// or https:// URL");
    assert_string_equal(only_error(fields_check_pretrain_model, "https://h/a.pdparams#f"),
                        "must name a file NAME.pdparams (NAME of letters, digits, '.', '_', '-')");
    assert_string_equal(only_error(fields_check_pretrain_model, "https://h/a.pdopt"),
                        "must name a file NAME.pdparams (NAME of letters, digits, '.', '_', '-')");
    assert_string_equal(only_error(fields_check_pretrain_model, "https://u@h/a.pdparams"),
                        "must not contain credentials (user-info)");
    assert_string_equal(only_error(fields_check_pretrain_model, "/mnt/a.pdparams"),
                        "must be a URL of the form scheme://host/path");
}

static void test_url_host(void **state)
{
    char buf[16];

    (void)state;
    assert_int_equal(fields_url_host("HTTPS://MinIO.Example:9000/x", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "minio.example");
    assert_int_equal(fields_url_host("http://u:p@h/x", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "h");
    assert_int_equal(fields_url_host("http://abcdefghijklmno/", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "abcdefghijklmno");
    assert_int_equal(fields_url_host("http://abcdefghijklmnop/", buf, sizeof(buf)), -1);
    assert_int_equal(fields_url_host("nope", buf, sizeof(buf)), -1);
}

/* The checks report the bad value itself, as the apiserver does. */
static void test_error_carries_value(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *v = json_string("ftp://h/x.pdparams");
    char *line;

    (void)state;
    fields_check_pretrain_model("spec.pretrainModel", v, &errs);
    assert_int_equal(errs.len, 1);
    assert_ptr_equal(errs.v[0].value, v);
    line = fielderr_string(&errs.v[0]);
    assert_string_equal(line, "spec.pretrainModel: Invalid value: \"ftp://h/x.pdparams\": "
                              "must be an http:// or https:// URL");
    free(line);
    fielderr_release(&errs);
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns1123_label),
        cmocka_unit_test(test_dns1123_subdomain),
        cmocka_unit_test(test_dns1035_label),
        cmocka_unit_test(test_check_name_length_before_shape),
        cmocka_unit_test(test_check_label_and_subdomain_wording),
        cmocka_unit_test(test_image_valid_references),
        cmocka_unit_test(test_image_tag_length),
        cmocka_unit_test(test_image_invalid_references),
        cmocka_unit_test(test_image_caps),
        cmocka_unit_test(test_image_pinned),
        cmocka_unit_test(test_relpath),
        cmocka_unit_test(test_parse_url_spans),
        cmocka_unit_test(test_parse_url_refusals),
        cmocka_unit_test(test_endpoint),
        cmocka_unit_test(test_endpoint_too_long),
        cmocka_unit_test(test_normalize_endpoint),
        cmocka_unit_test(test_source_uri),
        cmocka_unit_test(test_model_version),
        cmocka_unit_test(test_pretrain_file),
        cmocka_unit_test(test_pretrain_model),
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_error_carries_value),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
