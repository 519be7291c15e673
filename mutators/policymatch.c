/*
 * policymatch.c - globs, image prefixes, schemes and the allow-list table
 * (mutators/policymatch.h).
 */
#include "mutators/policymatch.h"

#include <stdio.h>
#include <string.h>

#include "mutators/fielderr.h"
#include "mutators/fields.h"
#include "mutators/json/strbuf.h"

int policymatch_glob(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;

    while (*s) {
        if (*pat == '?' || (*pat != '*' && *pat == *s)) {
            pat++, s++;
        } else if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (star) {
            pat = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

/* 1 when image starts with prefix and the prefix ends at a boundary: with
 * its own '/', or where the image's path component, tag or digest ends. */
static int prefix_match(const char *prefix, const char *image)
{
    size_t n = strlen(prefix);

    if (strncmp(prefix, image, n) != 0)
        return 0;
    return (n > 0 && prefix[n - 1] == '/') || image[n] == '\0' || image[n] == '/' ||
           image[n] == ':' || image[n] == '@';
}

/* image as the container runtime pulls it: "docker.io/" before a reference
 * without a registry, "library/" before a one-component Docker Hub name. */
static void qualify_image(const char *image, char *buf, size_t len)
{
    const char *slash = strchr(image, '/');
    int registry = slash && fields_image_has_registry(image, (size_t)(slash - image));

    if (registry)
        snprintf(buf, len, "%s", image);
    else
        snprintf(buf, len, "docker.io/%s%s", slash ? "" : "library/", image);
}

static int image_match(const char *prefix, const char *image)
{
    char full[FIELDS_MAX_IMAGE + 32];

    qualify_image(image, full, sizeof(full));
    return prefix_match(prefix, image) || prefix_match(prefix, full);
}

static int exact_match(const char *entry, const char *s)
{
    return !strcmp(entry, s);
}

static int key_self(const char *value, char *buf, size_t len)
{
    return snprintf(buf, len, "%s", value) < (int)len ? 0 : -1;
}

static int key_scheme(const char *value, char *buf, size_t len)
{
    struct url u;

    if (fields_parse_url(value, &u) < 0 || u.scheme_len >= len)
        return -1;
    memcpy(buf, u.scheme, u.scheme_len);
    buf[u.scheme_len] = '\0';
    return 0;
}

const struct policymatch_allow policymatch_allows[POLICYMATCH_COUNT] = {
    [POLICYMATCH_IMAGE] = { "image", offsetof(struct settings, image_registries), "imageRegistries",
                            "image", key_self, image_match, "is not under any prefix in" },
    [POLICYMATCH_ENDPOINT] = { "endpoint", offsetof(struct settings, endpoint_hosts), "endpointHosts",
                               "host", fields_url_host, policymatch_glob, "is not in" },
    [POLICYMATCH_PRETRAIN] = { "pretrainModel", offsetof(struct settings, pretrain_model_hosts),
                               "pretrainModelHosts", "host", fields_url_host, policymatch_glob,
                               "is not in" },
    [POLICYMATCH_SOURCE] = { "sourceUri", offsetof(struct settings, source_uri_schemes),
                             "sourceUriSchemes", "scheme", key_scheme, exact_match, "is not in" },
};

const json_t *policymatch_list(const struct policymatch_allow *r, const struct settings *st)
{
    return *(const json_t *const *)((const char *)st + r->list);
}

int policymatch_allowed(const struct policymatch_allow *r, const struct settings *st, const char *value)
{
    const json_t *list = policymatch_list(r, st);
    char key[FIELDS_MAX_URI + 1];
    size_t i;
    json_t *e;

    if (!list)
        return 1;
    if (r->key(value, key, sizeof(key)) < 0)
        return 0;
    json_array_foreach(list, i, e)
        if (r->match(json_string_value(e), key))
            return 1;
    return 0;
}

void policymatch_shown(struct strbuf *sb, const json_t *list)
{
    size_t i;
    json_t *e;

    json_array_foreach(list, i, e) {
        if (i == POLICYMATCH_SHOWN) {
            strbuf_addf(sb, ", ... %zu more", json_array_size(list) - i);
            break;
        }
        strbuf_addf(sb, "%s\"%.100s\"", i ? ", " : "", json_string_value(e));
    }
}

void policymatch_deny(struct fielderr_list *errs, const char *path, const json_t *value,
                      const struct policymatch_allow *r, const struct settings *st)
{
    const json_t *list = policymatch_list(r, st);
    struct strbuf shown = STRBUF_INIT;
    char key[FIELDS_MAX_URI + 1];

    if (r->key(json_string_value(value), key, sizeof(key)) < 0)
        snprintf(key, sizeof(key), "%s", json_string_value(value));
    policymatch_shown(&shown, list);
    fielderr_add_policy(errs, path, value, "%s \"%.200s\" %s allow.%s [%s] (policy rule: %s)",
                        r->what, key, r->relation, r->list_name, shown.buf ? shown.buf : "",
                        st->rule);
    strbuf_release(&shown);
}
