/*
 * seal.c - HMAC-SHA256 over an admitted spec (see seal.h).
 */
/* SHA256_Init and its kin: see mac() */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "certs/seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "mutators/json/jsondump.h"
#include "mutators/json/readfile.h"
#include "mutators/json/strbuf.h"

#define SEAL_LABEL "paddlex-webhook admission seal v1\n"

static const char hex[] = "0123456789abcdef";

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The digest states of key k after its inner and outer pads. */
static void pads(struct seal_keys *keys, size_t k)
{
    unsigned char ipad[SHA256_CBLOCK], opad[SHA256_CBLOCK];

    memset(ipad, 0x36, sizeof(ipad));
    memset(opad, 0x5c, sizeof(opad));
    for (size_t i = 0; i < sizeof(keys->key[k]); i++) {
        ipad[i] ^= keys->key[k][i];
        opad[i] ^= keys->key[k][i];
    }
    SHA256_Init(&keys->ipad[k]);
    SHA256_Update(&keys->ipad[k], ipad, sizeof(ipad));
    SHA256_Init(&keys->opad[k]);
    SHA256_Update(&keys->opad[k], opad, sizeof(opad));
    OPENSSL_cleanse(ipad, sizeof(ipad));
    OPENSSL_cleanse(opad, sizeof(opad));
}

void seal_keys_release(struct seal_keys *keys)
{
    OPENSSL_cleanse(keys, sizeof(*keys));
    keys->n = 0;
}

int seal_keys_add_file(struct seal_keys *keys, const char *path, char *err, size_t errlen)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char *buf = NULL;
    size_t len = 0;
    int rc = -1;
    EVP_MD_CTX *md = NULL;

    if (keys->n >= SEAL_MAX_KEYS) {
        snprintf(err, errlen, "%s: at most %d seal keys", path, SEAL_MAX_KEYS);
        return -1;
    }
    /* never blocks on a FIFO or a device: only a regular file is read */
    if (readfile_path(path, SEAL_MAX_KEY_FILE, READFILE_SECRET, &buf, &len, err, errlen) < 0)
        return -1;
    if (len < 16) {
        snprintf(err, errlen, "%s: a seal key needs at least 16 bytes of secret", path);
        goto out;
    }
    md = EVP_MD_CTX_new();
    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
        !EVP_DigestUpdate(md, SEAL_LABEL, sizeof(SEAL_LABEL) - 1) || !EVP_DigestUpdate(md, buf, len) ||
        !EVP_DigestFinal_ex(md, keys->key[keys->n], NULL)) {
        snprintf(err, errlen, "%s: cannot derive the seal key", path);
        goto out;
    }
    SHA256(keys->key[keys->n], sizeof(keys->key[0]), digest);
    to_hex(digest, 4, keys->id[keys->n]);
    pads(keys, keys->n);
    keys->n++;
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    if (buf)
        OPENSSL_cleanse(buf, len);
    free(buf);
    return rc;
}

#define SEAL_SORT_STACK 64       /* members of an object sorted without malloc */

struct member {
    const char *key;
    const json_t *value;        /* NULL: the text given for spec.generated */
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

/* spec.generated given as text (len 0: none given): its bytes, and where
 * they go in the canonical text, which is written without them and hashed
 * in three pieces (a copy of the 7 KB of a Training's children cost more
 * than the rest of that text). */
struct gen_text {
    const char *buf;
    size_t len, at;
};

static int canon(struct strbuf *sb, const json_t *v, struct gen_text *gen);

/* Appends the members of object v in key order; at the top of the spec
 * (gen not NULL), without its seal, and with spec.generated at gen->at
 * when gen->len. Returns 0, or -1. */
static int canon_object(struct strbuf *sb, const json_t *v, struct gen_text *gen)
{
    struct member stack[SEAL_SORT_STACK], *m;
    size_t n = json_object_size(v) + 1, k = 0;
    const char *key;
    json_t *value;
    int rc = 0;

    m = n <= SEAL_SORT_STACK ? stack : malloc(n * sizeof(*m));
    if (!m)
        return -1;
    json_object_foreach((json_t *)v, key, value) {
        if (gen && (!strcmp(key, "seal") || (gen->len && !strcmp(key, "generated"))))
            continue;
        m[k++] = (struct member){ key, value };
    }
    if (gen && gen->len)
        m[k++] = (struct member){ "generated", NULL };
    qsort(m, k, sizeof(*m), by_key);
    strbuf_addch(sb, '{');
    for (size_t i = 0; i < k && rc == 0; i++) {
        if (i)
            strbuf_addch(sb, ',');
        jsondump_string(sb, m[i].key, strlen(m[i].key));
        strbuf_addch(sb, ':');
        if (m[i].value)
            rc = canon(sb, m[i].value, NULL);
        else
            gen->at = sb->len;
    }
    strbuf_addch(sb, '}');
    if (m != stack)
        free(m);
    return rc;
}

/* Appends v as canonical JSON: sorted keys, no white space, strings and
 * numbers as jsondump (and node_dump) write them, a function of the value
 * alone. Returns 0, or -1 when memory ran out. */
static int canon(struct strbuf *sb, const json_t *v, struct gen_text *gen)
{
    char num[JSONDUMP_NUMBER_SIZE];
    int rc = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return canon_object(sb, v, gen);
    case JSON_ARRAY:
        strbuf_addch(sb, '[');
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            if (i)
                strbuf_addch(sb, ',');
            rc = canon(sb, json_array_get(v, i), NULL);
        }
        strbuf_addch(sb, ']');
        return rc;
    case JSON_STRING:
        jsondump_string(sb, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
    case JSON_REAL:
        strbuf_add(sb, num, jsondump_number(num, v));
        return 0;
    default:
        strbuf_addstr(sb, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "null");
        return 0;
    }
}

/* The canonical text {"kind":...,"name":...,"spec":...} of kind, name
 * and spec without its seal, but for gen's bytes (see struct gen_text),
 * into sb. Returns 0, or -1 when memory ran out. */
static int canonical(struct strbuf *sb, const char *kind, const char *name, const json_t *spec,
                     struct gen_text *gen)
{
    strbuf_grow(sb, 4096);
    strbuf_addstr(sb, "{\"kind\":");
    jsondump_string(sb, kind ? kind : "", kind ? strlen(kind) : 0);
    strbuf_addstr(sb, ",\"name\":");
    jsondump_string(sb, name ? name : "", name ? strlen(name) : 0);
    strbuf_addstr(sb, ",\"spec\":");
    if (canon_object(sb, spec, gen) < 0)
        return -1;
    strbuf_addch(sb, '}');
    return 0;
}

/* The mac of the canonical text (text, with gen's bytes at gen->at) under
 * key k into out (65 bytes): HMAC-SHA256 (RFC 2104) from the digest
 * states after the padded key, computed once per key at load and copied
 * as plain structs: OpenSSL's EVP contexts allocate on every copy (72
 * mallocs per seal) and its one-shot HMAC() fetches the algorithm on
 * every call. SHA256_Update runs the same SHA-NI code as EVP. */
static void mac(const struct seal_keys *keys, size_t k, const struct strbuf *text,
                const struct gen_text *gen, char *out)
{
    unsigned char inner[SHA256_DIGEST_LENGTH], md[SHA256_DIGEST_LENGTH];
    size_t at = gen->len ? gen->at : text->len;
    SHA256_CTX c = keys->ipad[k];

    SHA256_Update(&c, text->buf, at);
    SHA256_Update(&c, gen->buf, gen->len);
    SHA256_Update(&c, text->buf + at, text->len - at);
    SHA256_Final(inner, &c);
    c = keys->opad[k];
    SHA256_Update(&c, inner, sizeof(inner));
    SHA256_Final(md, &c);
    OPENSSL_cleanse(&c, sizeof(c));
    OPENSSL_cleanse(inner, sizeof(inner));
    to_hex(md, sizeof(md), out);
}

int seal_sign(const void *k, const char *kind, const char *name, const json_t *spec,
              const char *generated, size_t len, char *out)
{
    const struct seal_keys *keys = k;
    struct gen_text gen = { generated, generated ? len : 0, 0 };
    struct strbuf text = STRBUF_INIT;
    int rc = -1;

    if (!keys || keys->n == 0 || !json_is_object(spec))
        return -1;
    if (canonical(&text, kind, name, spec, &gen) == 0) {
        memcpy(out, "v1:", 3);
        memcpy(out + 3, keys->id[0], 8);
        out[11] = ':';
        mac(keys, 0, &text, &gen, out + 12);
        rc = 0;
    }
    strbuf_release(&text);
    return rc;
}

int seal_verify(const void *ks, const char *kind, const char *name, const json_t *spec,
                const char *generated, size_t len, const char *seal)
{
    const struct seal_keys *keys = ks;
    struct gen_text gen = { generated, generated ? len : 0, 0 };
    struct strbuf text = STRBUF_INIT;
    char want[65];
    size_t k;
    int ok = 0;

    if (!keys || !seal || !json_is_object(spec) || strlen(seal) != SEAL_TEXT_LEN ||
        memcmp(seal, "v1:", 3) != 0 || seal[11] != ':')
        return 0;
    for (k = 0; k < keys->n && memcmp(keys->id[k], seal + 3, 8) != 0; k++)
        ;
    if (k == keys->n)
        return 0;
    if (canonical(&text, kind, name, spec, &gen) == 0) {
        mac(keys, k, &text, &gen, want);
        ok = CRYPTO_memcmp(want, seal + 12, 64) == 0;
    }
    strbuf_release(&text);
    return ok;
}
