/*
 * fields.h - field rules shared by the kinds, written once.
 *
 * Each check has the field_check_fn shape: it judges one json string and
 * appends Kubernetes-worded errors under the given path.
 */
#ifndef FIELDS_H
#define FIELDS_H

#include <stddef.h>
#include <jansson.h>

#include "mutators/fielderr.h"

#define FIELDS_MAX_URI 2048
#define FIELDS_MIN_SOURCE_URI 10
#define FIELDS_MAX_PATH 1024
#define FIELDS_MAX_IMAGE 1024         /* a whole reference: 255 of path, 128 of tag, a sha512 */
#define FIELDS_MAX_IMAGE_TEXT "1024"
#define FIELDS_MAX_NAME 45

/* Spans of a parsed URL "scheme://[userinfo@]host[:port][/path][?query][#frag]".
 * Each span points into the parsed string; absent parts have len 0. */
struct url {
    const char *scheme, *userinfo, *host, *port, *path, *query, *fragment;
    size_t scheme_len, userinfo_len, host_len, port_len, path_len, query_len, fragment_len;
    int has_userinfo;
};

/* Splits s into u. Returns 0, or -1 when s is not "scheme://host...". */
int fields_parse_url(const char *s, struct url *u);

/* 1 when s holds a control character (C0, DEL, C1) and, with spaces set,
 * any Unicode white space. s is valid UTF-8. */
int fields_has_control(const char *s, int spaces);

/* The bytes of s to keep so that at most max are kept and no UTF-8
 * sequence is cut. */
size_t fields_utf8_clip(const char *s, size_t max);

/* The number of UTF-8 characters in s. */
size_t fields_utf8_length(const char *s);

/* Regular-language checks; 1 when s matches. */
int fields_is_dns1123_label(const char *s);
int fields_is_dns1123_subdomain(const char *s);
int fields_is_dns1035_label(const char *s);

void fields_check_dns1123_label(const char *path, const json_t *v, struct fielderr_list *errs);
void fields_check_dns1123_subdomain(const char *path, const json_t *v, struct fielderr_list *errs);
/* metadata.name: DNS-1035 label of at most FIELDS_MAX_NAME characters. */
void fields_check_name(const char *path, const json_t *v, struct fielderr_list *errs);
/* 1 when a reference's first component, its first fl bytes, is a registry
 * (distribution/reference normalize.go splitDockerDomain): it holds '.' or
 * ':', is "localhost", or has an upper-case letter. */
int fields_image_has_registry(const char *s, size_t fl);

/* [registry/]repository[:tag][@algorithm:hex], the distribution/reference
 * grammar: IPv6 registries in brackets, any port, tags up to 128, paths
 * up to 255, digests sha256, sha384 or sha512 (go-digest v1.0.0). */
void fields_check_image(const char *path, const json_t *v, struct fielderr_list *errs);
/* the same, and a tag or a digest is required */
void fields_check_image_pinned(const char *path, const json_t *v, struct fielderr_list *errs);
/* relative path inside a project: no leading '/', no "..", [A-Za-z0-9._/-] */
void fields_check_relpath(const char *path, const json_t *v, struct fielderr_list *errs);
/* http(s)://host[:port], no credentials, no path beyond a trailing '/' */
void fields_check_endpoint(const char *path, const json_t *v, struct fielderr_list *errs);
/* scheme://bucket-or-host/path with a supported object-store scheme */
void fields_check_source_uri(const char *path, const json_t *v, struct fielderr_list *errs);
/* [A-Za-z0-9][A-Za-z0-9._-]{0,62} */
void fields_check_model_version(const char *path, const json_t *v, struct fielderr_list *errs);
/* http(s)://host/.../NAME.pdparams[?query] */
void fields_check_pretrain_model(const char *path, const json_t *v, struct fielderr_list *errs);

/* The endpoint without its trailing '/': a new string, or NULL when s has none. */
json_t *fields_normalize_endpoint(const char *s);

#define FIELDS_PRETRAIN_EXT ".pdparams"

/* The file name of a pretrainModel URL ("ch_ppocr.pdparams") into buf, and
 * with stem=1 without FIELDS_PRETRAIN_EXT. Returns 0, or -1 when the URL
 * has no valid file name or buf is too small. */
int fields_pretrain_file(const char *url, int stem, char *buf, size_t len);

/* The host of a URL into buf (lowercased). Returns 0 or -1. */
int fields_url_host(const char *url, char *buf, size_t len);

#endif
