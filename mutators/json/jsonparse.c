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
#include "mutators/json/scan.h"

_Static_assert(JSONPARSE_SKIP_MAX == 64, "the live paths are the bits of a uint64_t");

/* A key of an object inside a skipped member, held while the object is
 * read: its text is ps->start + at, or ps->keytext.buf + at when it was
 * escaped (then unescaped there). */
struct held_key {
    uint64_t hash;
    size_t at, len;
    int escaped;
};

struct parser {
    const char *p, *end, *start;
    int depth, max_depth;
    size_t values;
    struct jsonparse_error *err;
    struct strbuf scratch;  /* unescaped strings */
    const struct jsonparse_skip *skip;
    struct jsonparse_span *spans;   /* one per path of skip, or NULL */
    uint64_t live;          /* paths of skip that lead to the current object */
    /* apart from live: object() read the two with one 16-byte load just
     * after its caller's two 8-byte stores, which the CPU cannot forward
     * (perf put a fifth of a dense body's time there; 2-3 % by the clock) */
    int skipping;           /* inside a skipped member: check, build nothing */
    size_t level;           /* keys of theirs matched on the way: the next to match */
    /* the keys of the open objects inside skipped members, innermost last:
     * a key precedes a value, so JSONPARSE_MAX_VALUES bounds them */
    struct held_key *held;
    size_t nheld, heldcap;
    struct strbuf keytext;  /* the escaped ones among them, unescaped */
    /* the hash tables of those objects past HELD_SCAN keys, innermost on
     * top (only the innermost object gets keys): a held index + 1, or 0 */
    uint32_t *slots;
    size_t nslots, slotcap;
};

/* One open object inside a skipped member: where its keys and its table
 * begin on the parser's stacks. */
struct held_object {
    size_t mark, textmark;
    size_t tbase, tsize;    /* its table, once it has more than HELD_SCAN keys */
};

#define HELD_SCAN 8         /* keys of an object checked by a scan of the earlier ones */

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

/* Past white space; the apiserver's and Metacontroller's JSON has none,
 * so one compare rules out every byte that starts a token. */
static inline void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (unsigned char)*ps->p <= ' ' &&
           (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
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

/* Past the bytes from p that are plain string content: ASCII other than
 * '"', '\\' and controls. */
static const char *plain(const char *p, const char *end)
{
    return p + scan_plain((const unsigned char *)p, (size_t)(end - p), 1);
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
 * the buffer when it has no escape, else into ps->scratch). Unless keep,
 * it is only checked: *s and *n are then undefined (a skipped value; a
 * kubectl or Metacontroller last-applied annotation is a whole object
 * again, an escape every few bytes, and nothing reads it). */
static int string(struct parser *ps, const char **s, size_t *n, int keep)
{
    const char *run;
    int escaped = 0;

    ps->p++;
    ps->scratch.len = 0;
    for (;;) {
        run = ps->p;
        ps->p = plain(ps->p, ps->end);
        if (escaped && keep)
            strbuf_add(&ps->scratch, run, (size_t)(ps->p - run));
        if (ps->p >= ps->end) {
            fail(ps, JSONPARSE_SYNTAX, "unterminated string");
            return -1;
        }
        if (*ps->p == '"')
            break;
        if (*ps->p == '\\') {
            if (!escaped && keep) {
                /* from here on the text is rebuilt: take what came before */
                strbuf_add(&ps->scratch, *s, (size_t)(ps->p - *s));
            }
            escaped = 1;
            if (!keep) {
                /* checked only: \" \\ \/ and the like are most escapes */
                switch (ps->end - ps->p >= 2 ? ps->p[1] : 0) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                    ps->p += 2;
                    continue;
                }
                ps->scratch.len = 0;    /* a \u escape's text is checked, then dropped */
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
            if (escaped && keep)
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

    if (string(ps, &s, &n, !ps->skipping) < 0)
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

/* Whether member key[0..klen) of the current object is skipped: the
 * index + 1 of a live path that ends at it, else 0 with *next the live
 * paths that go on through it. */
static int skip_member(const struct parser *ps, const char *key, size_t klen, uint64_t *next)
{
    uint64_t live = ps->live;

    *next = 0;
    while (live) {
        int i = __builtin_ctzll(live);
        const char *const *path = ps->skip->paths[i];
        const char *seg = path[ps->level];

        live &= live - 1;
        /* the first byte rules out most keys before a call */
        if (!(seg[0] == '*' && !seg[1]) &&
            (seg[0] != (klen ? key[0] : '\0') || strncmp(seg, key, klen) != 0 || seg[klen] != '\0'))
            continue;
        if (!path[ps->level + 1])
            return i + 1;
        *next |= 1ULL << i;
    }
    return 0;
}

static const char *held_text(const struct parser *ps, const struct held_key *k)
{
    return k->escaped ? ps->keytext.buf + k->at : ps->start + k->at;
}

static int same_text(const struct parser *ps, const struct held_key *a, const struct held_key *b)
{
    return a->len == b->len && !memcmp(held_text(ps, a), held_text(ps, b), a->len);
}

/* Keys in a table only: they have their hash. */
static int same_key(const struct parser *ps, const struct held_key *a, const struct held_key *b)
{
    return a->hash == b->hash && same_text(ps, a, b);
}

static uint64_t key_hash(const struct parser *ps, const struct held_key *k)
{
    const unsigned char *t = (const unsigned char *)held_text(ps, k);
    uint64_t h = 0xcbf29ce484222325ULL;    /* FNV-1a */

    for (size_t i = 0; i < k->len; i++)
        h = (h ^ t[i]) * 0x100000001b3ULL;
    return h;
}

/* Puts held key i into the table of size slots at base (a power of two,
 * never full); returns 1 when an equal key is there already. */
static int slot_in(struct parser *ps, size_t base, size_t size, size_t i)
{
    size_t s = ps->held[i].hash & (size - 1);

    for (; ps->slots[base + s]; s = (s + 1) & (size - 1))
        if (same_key(ps, &ps->held[ps->slots[base + s] - 1], &ps->held[i]))
            return 1;
    ps->slots[base + s] = (uint32_t)(i + 1);
    return 0;
}

/* Gives object ob (on top of the table stack) a table four times as big,
 * with its keys but the last: each growth puts every key in again, and
 * at twice as big a 400-key fieldsV1 object cost 900 puts. Returns 0, or
 * -1 when memory ran out. */
static int grow_table(struct parser *ps, struct held_object *ob)
{
    size_t size = ob->tsize ? 4 * ob->tsize : 4 * HELD_SCAN, top = ob->tbase + ob->tsize;

    if (top + size > ps->slotcap) {
        size_t cap = 2 * (top + size);
        uint32_t *more = realloc(ps->slots, cap * sizeof(*more));

        if (!more)
            return -1;
        ps->slots = more;
        ps->slotcap = cap;
    }
    memset(ps->slots + top, 0, size * sizeof(*ps->slots));
    for (size_t i = ob->mark; i + 1 < ps->nheld; i++)
        slot_in(ps, top, size, i);
    memmove(ps->slots + ob->tbase, ps->slots + top, size * sizeof(*ps->slots));
    ob->tsize = size;
    ps->nslots = ob->tbase + size;
    return 0;
}

/* Holds key[0..klen) (starting at where in the input) of object ob inside
 * a skipped member until ob ends, and refuses a repeat there: a scan of
 * the first few, then a hash table (a skipped fieldsV1 object has
 * hundreds of keys, escaped ones like k:{"type":"Ready"}). Returns 0, or
 * -1 with the error set. */
static int hold_key(struct parser *ps, struct held_object *ob, const char *key, size_t klen, const char *where)
{
    struct held_key *k;
    size_t n;

    if (ps->nheld == ps->heldcap) {
        size_t cap = ps->heldcap ? 2 * ps->heldcap : 64;
        struct held_key *more = realloc(ps->held, cap * sizeof(*more));

        if (!more)
            goto oom;
        ps->held = more;
        ps->heldcap = cap;
    }
    k = &ps->held[ps->nheld++];
    k->hash = 0;
    k->len = klen;
    k->escaped = key == ps->scratch.buf;   /* unescaped there by string() */
    if (k->escaped) {
        k->at = ps->keytext.len;
        strbuf_add(&ps->keytext, key, klen);
    } else {
        k->at = (size_t)(key - ps->start);
    }
    n = ps->nheld - ob->mark;
    if (n <= HELD_SCAN) {
        for (size_t i = ob->mark; i + 1 < ps->nheld; i++)
            if (same_text(ps, &ps->held[i], k))
                goto repeated;
        return 0;
    }
    /* hashed only once the object outgrows the scan: most skipped objects
     * (a managedFields entry, the levels of its fieldsV1) never do */
    if (!ob->tsize)
        for (size_t i = ob->mark; i + 1 < ps->nheld; i++)
            ps->held[i].hash = key_hash(ps, &ps->held[i]);
    k->hash = key_hash(ps, k);
    if (2 * n > ob->tsize && grow_table(ps, ob) < 0)
        goto oom;
    if (slot_in(ps, ob->tbase, ob->tsize, ps->nheld - 1))
        goto repeated;
    return 0;
repeated:
    ps->p = where;
    fail(ps, JSONPARSE_SYNTAX, "duplicate object key");
    return -1;
oom:
    fail(ps, JSONPARSE_TOO_MANY, "out of memory");
    return -1;
}

/* 1 when the string whose text starts at s (after its opening quote) is
 * plain and closed within the sixteen bytes there, as most keys are: its
 * length in *n, ps->p past its closing quote. One look at the sixteen,
 * where string() goes round its loop: 19 % of a dense body's /validate
 * (a managedFields entry is nine keys). */
static int short_plain(struct parser *ps, const char *s, size_t *n)
{
#ifdef __SSE2__
    if (ps->end - s >= 16) {
        unsigned stops = scan_stops16((const unsigned char *)s, 1);

        if (stops && s[__builtin_ctz(stops)] == '"') {
            *n = (size_t)__builtin_ctz(stops);
            ps->p = s + *n + 1;
            return 1;
        }
    }
#else
    (void)ps, (void)s, (void)n;
#endif
    return 0;
}

/* The key at ps->p of an object's member and the ':' after it: its text
 * in *key, *klen (in the input, or in ps->scratch when it was escaped;
 * where it starts in *where). Returns 0, or -1 with the error set. */
static int member_key(struct parser *ps, const char **key, size_t *klen, const char **where)
{
    if (ps->p >= ps->end || *ps->p != '"') {
        fail(ps, JSONPARSE_SYNTAX, "string or '}' expected");
        return -1;
    }
    *where = ps->p;
    *key = ps->p + 1;
    if (!short_plain(ps, *key, klen)) {
        if (string(ps, key, klen, 1) < 0)
            return -1;
        /* a NUL can only come of an escape: a raw one is a control byte */
        if (*key == ps->scratch.buf && memchr(*key, '\0', *klen)) {
            fail(ps, JSONPARSE_SYNTAX, "NUL byte in object key not supported");
            return -1;
        }
    }
    skip_space(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
        fail(ps, JSONPARSE_SYNTAX, "':' expected");
        return -1;
    }
    ps->p++;
    return 0;
}

/* After a member: 1 when another follows (its ',' passed), 0 at the
 * object's end (its '}' passed), -1 with the error set. */
static int next_member(struct parser *ps)
{
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ',') {
        ps->p++;
        skip_space(ps);
        return 1;
    }
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    fail(ps, JSONPARSE_SYNTAX, "',' or '}' expected");
    return -1;
}

/* 1 when the object at ps->p is empty (its '}' passed). */
static int empty_object(struct parser *ps)
{
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 1;
    }
    return 0;
}

/* An object inside a skipped member: checked as object() reads one, not
 * built; its keys are held while it is read, to refuse a repeat. Returns
 * json_null(), or NULL with the error set. */
static json_t *skim_object(struct parser *ps)
{
    struct held_object ob = { ps->nheld, ps->keytext.len, ps->nslots, 0 };
    json_t *v = json_null();
    const char *key, *where;
    size_t klen;
    int more = !empty_object(ps);

    while (more) {
        if (member_key(ps, &key, &klen, &where) < 0 || hold_key(ps, &ob, key, klen, where) < 0 ||
            !value(ps) || (more = next_member(ps)) < 0) {
            v = NULL;
            break;
        }
    }
    ps->nheld = ob.mark;
    ps->keytext.len = ob.textmark;
    ps->nslots = ob.tbase;
    return v;
}

static json_t *object(struct parser *ps)
{
    json_t *o = json_object(), *v;
    uint64_t live = ps->live, next;
    size_t level = ps->level;
    const char *key, *where, *at;
    size_t klen, size;
    char *kcopy = NULL;
    int skip, hidden, more = !empty_object(ps);

    while (more) {
        if (member_key(ps, &key, &klen, &where) < 0)
            goto bad;
        if (key == ps->scratch.buf) {
            /* the value may reuse the scratch buffer the key lives in */
            kcopy = malloc(klen + 1);
            if (!kcopy)
                goto bad;
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        next = 0;
        skip = live ? skip_member(ps, key, klen, &next) : 0;
        /* a built path's member is read as the rest: only its span is kept */
        hidden = skip && !(ps->skip->built >> (skip - 1) & 1);
        ps->skipping += hidden;
        ps->live = skip ? 0 : next;
        ps->level = level + 1;
        skip_space(ps);
        at = ps->p;
        v = value(ps);
        if (v && skip && ps->spans)
            ps->spans[skip - 1] = (struct jsonparse_span){ (size_t)(at - ps->start), (size_t)(ps->p - at) };
        if (v && skip && (ps->skip->raw >> (skip - 1) & 1)) {
            json_decref(v);
            v = json_stringn_nocheck(at, (size_t)(ps->p - at));
        }
        ps->skipping -= hidden;
        ps->live = live;
        ps->level = level;
        if (!v)
            goto bad;
        /* a key seen before replaces its value: the size tells, without a
         * lookup (and a hash) per member before the insert */
        size = json_object_size(o);
        if (json_object_setn_new_nocheck(o, key, klen, v) < 0)
            goto bad;
        if (json_object_size(o) == size) {
            fail(ps, JSONPARSE_SYNTAX, "duplicate object key");
            goto bad;
        }
        if (kcopy) {
            free(kcopy);
            kcopy = NULL;
        }
        if ((more = next_member(ps)) < 0)
            goto bad;
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
        if (*ps->p == '{') {
            v = ps->skipping ? skim_object(ps) : object(ps);
        } else {
            uint64_t live = ps->live;

            ps->live = 0;   /* no path goes through an array */
            v = array(ps);
            ps->live = live;
        }
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
    return jsonparse_spans(buf, len, max_depth, skip, NULL, used, err);
}

json_t *jsonparse_spans(const char *buf, size_t len, int max_depth, const struct jsonparse_skip *skip,
                        struct jsonparse_span *spans, size_t *used, struct jsonparse_error *err)
{
    struct parser ps = { .p = buf, .end = buf + len, .start = buf, .max_depth = max_depth, .err = err,
                         .scratch = STRBUF_INIT, .keytext = STRBUF_INIT };
    json_t *v = NULL;
    size_t n = 0;

    memset(err, 0, sizeof(*err));
    while (skip && skip->paths[n] && skip->paths[n][0] && n <= JSONPARSE_SKIP_MAX)
        n++;
    if (skip && (n > JSONPARSE_SKIP_MAX || skip->paths[n])) {
        fail(&ps, JSONPARSE_SYNTAX, "invalid skip set");
        return NULL;
    }
    ps.skip = n ? skip : NULL;
    ps.spans = spans;
    if (spans)
        memset(spans, 0, n * sizeof(*spans));
    ps.live = n == JSONPARSE_SKIP_MAX ? ~0ULL : (1ULL << n) - 1;
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
    strbuf_release(&ps.keytext);
    free(ps.held);
    free(ps.slots);
    return v;
}
