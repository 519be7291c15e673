/*
 * patch.c - JSON Patch generation.
 *
 * The operations are written as text as they are found: the admission
 * answer carries them as text (base64 of it), so building jansson objects
 * first, only to serialise them, would cost twice.
 */
#include "mutators/patch.h"

#include <string.h>

#include "mutators/json/jsondump.h"

#define PATCH_MAX_DEPTH 128

struct ops {
    struct strbuf *out;
    size_t count;
};

/* Appends "/" and key escaped as a JSON Pointer token (~ → ~0, / → ~1). */
static void pointer_add(struct strbuf *sb, const char *key)
{
    size_t plain = strcspn(key, "~/");

    strbuf_addch(sb, '/');
    strbuf_add(sb, key, plain);
    for (key += plain; *key; key++) {
        if (*key == '~')
            strbuf_addstr(sb, "~0");
        else if (*key == '/')
            strbuf_addstr(sb, "~1");
        else
            strbuf_addch(sb, *key);
    }
}

static void add_op(struct ops *ops, const char *op, const struct strbuf *path, const json_t *value)
{
    strbuf_addstr(ops->out, ops->count++ ? ",{\"op\":\"" : "[{\"op\":\"");
    strbuf_addstr(ops->out, op);
    strbuf_addstr(ops->out, "\",\"path\":");
    jsondump_string(ops->out, path->buf ? path->buf : "", path->len);
    if (value) {
        strbuf_addstr(ops->out, ",\"value\":");
        jsondump_append(ops->out, value);
    }
    strbuf_addch(ops->out, '}');
}

static void diff(const json_t *from, const json_t *to, struct strbuf *path, struct ops *ops, int depth)
{
    const char *key;
    json_t *fv, *tv;
    void *fi, *ti;
    size_t mark = path->len;

    /* the mutated copy shares every value it did not change */
    if (from == to)
        return;
    /* objects are walked member by member; json_equal() on a whole object
     * at every level would compare each subtree once per ancestor */
    if (!json_is_object(from) || !json_is_object(to) || depth >= PATCH_MAX_DEPTH) {
        if (!json_equal((json_t *)from, (json_t *)to))
            add_op(ops, "replace", path, to);
        return;
    }
    /* A mutated copy keeps the original's members in their order, new
     * ones after them: over the prefix where both walks meet the same
     * keys, no member is looked up by hash. */
    for (fi = json_object_iter((json_t *)from), ti = json_object_iter((json_t *)to); fi && ti;
         fi = json_object_iter_next((json_t *)from, fi), ti = json_object_iter_next((json_t *)to, ti))
        if (strcmp(json_object_iter_key(fi), json_object_iter_key(ti)) != 0)
            break;
    for (void *i = fi; i; i = json_object_iter_next((json_t *)from, i)) {
        key = json_object_iter_key(i);
        if (json_object_get(to, key))
            continue;
        pointer_add(path, key);
        add_op(ops, "remove", path, NULL);
        path->len = mark;
        path->buf[mark] = '\0';
    }
    for (void *f = json_object_iter((json_t *)from), *t = json_object_iter((json_t *)to); t;
         t = json_object_iter_next((json_t *)to, t)) {
        key = json_object_iter_key(t);
        tv = json_object_iter_value(t);
        pointer_add(path, key);
        if (t != ti) {                  /* in the shared prefix: f is its pair */
            fv = json_object_iter_value(f);
            f = json_object_iter_next((json_t *)from, f);
        } else {
            /* past it: with from used up, every key left is new */
            fv = fi ? json_object_get(from, key) : NULL;
            ti = json_object_iter_next((json_t *)to, ti);
        }
        if (!fv)
            add_op(ops, "add", path, tv);
        else
            diff(fv, tv, path, ops, depth + 1);
        path->len = mark;
        path->buf[mark] = '\0';
    }
}

size_t patch_diff_append(const json_t *from, const json_t *to, struct strbuf *out, size_t count)
{
    struct ops ops = { .out = out, .count = count };
    struct strbuf path = STRBUF_INIT;

    diff(from, to, &path, &ops, 0);
    if (ops.count)
        strbuf_addch(out, ']');
    strbuf_release(&path);
    return ops.count;
}

size_t patch_diff_text(const json_t *from, const json_t *to, struct strbuf *out)
{
    return patch_diff_append(from, to, out, 0);
}

json_t *patch_diff(const json_t *from, const json_t *to)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *ops;

    if (!patch_diff_text(from, to, &sb))
        ops = json_array();
    else
        ops = json_loadb(sb.buf, sb.len, JSON_ALLOW_NUL, NULL);
    strbuf_release(&sb);
    return ops;
}
