/*
 * jsonparse.c - a recursive-descent JSON parser onto jansson values.
 */
#include "mutators/json/jsonparse.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/json/strbuf.h"
#include "mutators/json/swar.h"


struct parser {
    const char *p, *end, *start;
    int depth, max_depth;
    size_t values;
    struct jsonparse_error *err;
    struct strbuf scratch;  /* unescaped strings */
    const struct jsonparse_skip *skip;
    int skipping;           /* inside a skipped member: check, build only keys */
};

static json_t *value(struct parser *ps);

static json_t *fail(struct parser *ps, enum jsonparse_status status, const char *what)
{
    struct jsonparse_error *e = ps->err;

    if (e->status != JSONPARSE_OK)
        return NULL;
    e->status = status;
    snprintf(e->text, sizeof(e->text), "%s", what);
    e->line = 1;
    e->column = 1;
    for (const char *c = ps->start; c < ps->p && c < ps->end; c++) {
        if (*c == '\n')
            e->line++, e->column = 1;
        else
            e->column++;
    }
    return NULL;
}

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

/* Length of the valid UTF-8 sequence at p (its lead byte >= 0x80), or 0. */
static size_t utf8_sequence(const unsigned char *p, const unsigned char *end)
{
    unsigned long cp;
    size_t n;

    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* Bytes from p that are plain string content: ASCII other than '"', '\\'
 * and controls. Sixteen or eight at a time while no byte is special or
 * >= 0x80 (a set high bit in the SSE2 register). */
static const char *plain(const char *p, const char *end)
{
#ifdef __SSE2__
    for (; end - p >= 16; p += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(sse2_json_special(x), x));

        if (m)
            return p + __builtin_ctz(m);
    }
#endif
    for (; end - p >= 8; p += 8) {
        uint64_t v, m;

        memcpy(&v, p, 8);
        m = swar_json_special(v) | (v & 0x8080808080808080ULL);
        if (m)
            return p + swar_first(m);
    }
    while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(struct strbuf *sb, unsigned long cp)
{
    char b[4];
    size_t n;

    if (cp < 0x80)
        b[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        b[0] = (char)(0xc0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        b[0] = (char)(0xe0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3f)),
        b[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
    else
        b[0] = (char)(0xf0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3f)),
        b[2] = (char)(0x80 | (cp >> 6 & 0x3f)), b[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
    strbuf_add(sb, b, n);
}

/* One escape after the backslash at ps->p; appends its text. */
static int escape(struct parser *ps, struct strbuf *sb)
{
    unsigned hi, lo;
    char c;

    if (ps->end - ps->p < 2)
        return -1;
    c = ps->p[1];
    ps->p += 2;
    switch (c) {
    case '"': case '\\': case '/': strbuf_addch(sb, c); return 0;
    case 'b': strbuf_addch(sb, '\b'); return 0;
    case 'f': strbuf_addch(sb, '\f'); return 0;
    case 'n': strbuf_addch(sb, '\n'); return 0;
    case 'r': strbuf_addch(sb, '\r'); return 0;
    case 't': strbuf_addch(sb, '\t'); return 0;
    case 'u': break;
    default: return -1;
    }
    if (ps->end - ps->p < 4 || hex4(ps->p, &hi) < 0)
        return -1;
    ps->p += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return -1;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return -1;
        ps->p += 6;
        put_utf8(sb, 0x10000 + ((unsigned long)(hi - 0xd800) << 10) + (lo - 0xdc00));
        return 0;
    }
    put_utf8(sb, hi);
    return 0;
}

/* The string whose opening quote is at ps->p: its bytes in *s, *n (into
 * the buffer when it has no escape, else into ps->scratch). */
static int string(struct parser *ps, const char **s, size_t *n)
{
    const char *run;
    int escaped = 0;

    ps->p++;
    ps->scratch.len = 0;
    for (;;) {
        run = ps->p;
        ps->p = plain(ps->p, ps->end);
        if (escaped)
            strbuf_add(&ps->scratch, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end) {
            fail(ps, JSONPARSE_SYNTAX, "unterminated string");
            return -1;
        }
        if (*ps->p == '"')
            break;
        if (*ps->p == '\\') {
            if (!escaped) {
                /* from here on the text is rebuilt: take what came before */
                strbuf_add(&ps->scratch, *s, (size_t)(ps->p - *s));
                escaped = 1;
            }
            if (escape(ps, &ps->scratch) < 0) {
                fail(ps, JSONPARSE_SYNTAX, "invalid escape");
                return -1;
            }
            continue;
        }
        if ((unsigned char)*ps->p < 0x20) {
            fail(ps, JSONPARSE_SYNTAX, "control character in string");
            return -1;
        }
        {
            size_t k = utf8_sequence((const unsigned char *)ps->p, (const unsigned char *)ps->end);

            if (!k) {
                fail(ps, JSONPARSE_SYNTAX, "invalid UTF-8 in string");
                return -1;
            }
            if (escaped)
                strbuf_add(&ps->scratch, ps->p, k);
            ps->p += k;
        }
    }
    if (escaped) {
        *s = ps->scratch.buf ? ps->scratch.buf : "";
        *n = ps->scratch.len;
    } else {
        *n = (size_t)(ps->p - *s);
    }
    ps->p++;
    return 0;
}

static json_t *string_value(struct parser *ps)
{
    const char *s = ps->p + 1;
    size_t n;

    if (string(ps, &s, &n) < 0)
        return NULL;
    return ps->skipping ? json_null() : json_stringn_nocheck(s, n);
}

static int digits(struct parser *ps)
{
    const char *from = ps->p;

    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
        ps->p++;
    return ps->p > from;
}

static json_t *number(struct parser *ps)
{
    const char *from = ps->p;
    char text[JSONPARSE_MAX_NUMBER + 1], *endp;
    int real = 0;
    size_t n;

    if (*ps->p == '-')
        ps->p++;
    if (ps->p < ps->end && *ps->p == '0')
        ps->p++;
    else if (!digits(ps))
        return fail(ps, JSONPARSE_SYNTAX, "invalid number");
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        real = 1;
        if (!digits(ps))
            return fail(ps, JSONPARSE_SYNTAX, "invalid number");
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        real = 1;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (!digits(ps))
            return fail(ps, JSONPARSE_SYNTAX, "invalid number");
    }
    n = (size_t)(ps->p - from);
    if (n > JSONPARSE_MAX_NUMBER)
        return fail(ps, JSONPARSE_SYNTAX, "number too long");
    memcpy(text, from, n);
    text[n] = '\0';
    errno = 0;
    if (!real) {
        long long v = strtoll(text, &endp, 10);

        if (errno == ERANGE)
            return fail(ps, JSONPARSE_SYNTAX, "too big integer");
        return ps->skipping ? json_null() : json_integer(v);
    }
    {
        double d = strtod(text, &endp);

        if (errno == ERANGE && isinf(d))
            return fail(ps, JSONPARSE_SYNTAX, "real number overflow");
        return ps->skipping ? json_null() : json_real(d);
    }
}

static inline json_t *literal(struct parser *ps, const char *word, json_t *v)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, JSONPARSE_SYNTAX, "invalid token");
    ps->p += n;
    return v;
}

static json_t *array(struct parser *ps)
{
    json_t *a = ps->skipping ? json_null() : json_array(), *v;

    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return a;
    }
    for (;;) {
        v = value(ps);
        if (!v || (!ps->skipping && json_array_append_new(a, v) < 0))
            goto bad;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return a;
        }
        fail(ps, JSONPARSE_SYNTAX, "',' or ']' expected");
        goto bad;
    }
bad:
    json_decref(a);
    return NULL;
}

/* 1 when the member key[0..klen) of an object at the parser's depth is
 * one to check but not build. */
static int skipped(const struct parser *ps, const char *key, size_t klen)
{
    if (!ps->skip || ps->skipping || ps->depth != ps->skip->depth)
        return 0;
    for (const char *const *k = ps->skip->keys; *k; k++)
        if (klen && (*k)[0] == key[0] && strlen(*k) == klen && !memcmp(*k, key, klen))
            return 1;
    return 0;
}

/* Keys of a skipped object checked against each other without a hash:
 * the apiserver's skipped members (options, resource, ...) have a few. */
#define SKIPPED_KEYS 16

/* 1 when the key is one of seen[0..n), else adds it (room permitting:
 * -1 when there is none). */
static int seen_before(const char **seen, size_t *lens, size_t *n, const char *key, size_t klen)
{
    for (size_t i = 0; i < *n; i++)
        if (lens[i] == klen && !memcmp(seen[i], key, klen))
            return 1;
    if (*n == SKIPPED_KEYS)
        return -1;
    seen[*n] = key;
    lens[(*n)++] = klen;
    return 0;
}

static json_t *object(struct parser *ps)
{
    /* inside a skipped member nothing is built: its keys are only checked
     * for repeats, in seen[] while they fit and are the input's own
     * bytes, else in an object of null members dropped at the end */
    json_t *o = ps->skipping ? NULL : json_object(), *v;
    const char *key, *seen[SKIPPED_KEYS];
    size_t klen, size, lens[SKIPPED_KEYS], nseen = 0;
    char *kcopy = NULL;
    int skip;

    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        goto done;
    }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, JSONPARSE_SYNTAX, "string or '}' expected");
            goto bad;
        }
        key = ps->p + 1;
        if (string(ps, &key, &klen) < 0)
            goto bad;
        if (memchr(key, '\0', klen)) {
            fail(ps, JSONPARSE_SYNTAX, "NUL byte in object key not supported");
            goto bad;
        }
        /* the value may reuse the scratch buffer the key lives in */
        if (key == ps->scratch.buf) {
            kcopy = malloc(klen + 1);
            if (!kcopy)
                goto bad;
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        skip_space(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, JSONPARSE_SYNTAX, "':' expected");
            goto bad;
        }
        ps->p++;
        skip = skipped(ps, key, klen);
        ps->skipping += skip;
        v = value(ps);
        ps->skipping -= skip;
        if (!v)
            goto bad;
        if (!o) {
            int dup = kcopy ? -1 : seen_before(seen, lens, &nseen, key, klen);

            if (dup > 0) {
                fail(ps, JSONPARSE_SYNTAX, "duplicate object key");
                goto bad;
            }
            if (dup == 0)
                goto next;
            o = json_object();      /* the keys so far move into it */
            if (!o)
                goto bad;
            for (size_t i = 0; i < nseen; i++)
                if (json_object_setn_new_nocheck(o, seen[i], lens[i], json_null()) < 0)
                    goto bad;
        }
        /* a key seen before replaces its value: the size tells, without a
         * lookup (and a hash) per member before the insert */
        size = json_object_size(o);
        if (json_object_setn_new_nocheck(o, key, klen, v) < 0)
            goto bad;
        if (json_object_size(o) == size) {
            fail(ps, JSONPARSE_SYNTAX, "duplicate object key");
            goto bad;
        }
next:
        free(kcopy);
        kcopy = NULL;
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_space(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            goto done;
        }
        fail(ps, JSONPARSE_SYNTAX, "',' or '}' expected");
        goto bad;
    }
done:
    if (ps->skipping) {
        json_decref(o);
        return json_null();
    }
    return o;
bad:
    free(kcopy);
    json_decref(o);
    return NULL;
}

static json_t *value(struct parser *ps)
{
    json_t *v;

    skip_space(ps);
    if (ps->p >= ps->end)
        return fail(ps, JSONPARSE_SYNTAX, "unexpected end of input");
    if (++ps->values > JSONPARSE_MAX_VALUES)
        return fail(ps, JSONPARSE_TOO_MANY, "too many values");
    switch (*ps->p) {
    case '{':
    case '[':
        if (++ps->depth > ps->max_depth)
            return fail(ps, JSONPARSE_TOO_DEEP, "nesting too deep");
        v = *ps->p == '{' ? object(ps) : array(ps);
        ps->depth--;
        return v;
    case '"':
        return string_value(ps);
    case 't':
        return literal(ps, "true", json_true());
    case 'f':
        return literal(ps, "false", json_false());
    case 'n':
        return literal(ps, "null", json_null());
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return number(ps);
        return fail(ps, JSONPARSE_SYNTAX, "invalid token");
    }
}

json_t *jsonparse(const char *buf, size_t len, int max_depth, size_t *used,
                  struct jsonparse_error *err)
{
    return jsonparse_skipping(buf, len, max_depth, NULL, used, err);
}

json_t *jsonparse_skipping(const char *buf, size_t len, int max_depth, const struct jsonparse_skip *skip,
                           size_t *used, struct jsonparse_error *err)
{
    struct parser ps = { buf, buf + len, buf, 0, max_depth, 0, err, STRBUF_INIT, skip, 0 };
    json_t *v;

    memset(err, 0, sizeof(*err));
    v = value(&ps);
    if (v && used) {
        *used = (size_t)(ps.p - buf);
    } else if (v) {
        skip_space(&ps);
        if (ps.p != ps.end) {
            fail(&ps, JSONPARSE_SYNTAX, "end of input expected");
            json_decref(v);
            v = NULL;
        }
    }
    strbuf_release(&ps.scratch);
    return v;
}
