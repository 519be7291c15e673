/*
 * patch.c - JSON Patch generation.
 */
#include "mutators/patch.h"

#include <string.h>

#include "mutators/strbuf.h"

#define PATCH_MAX_DEPTH 128

/* Appends "/" and key escaped as a JSON Pointer token (~ → ~0, / → ~1). */
static void pointer_add(struct strbuf *sb, const char *key)
{
    strbuf_addch(sb, '/');
    for (; *key; key++) {
        if (*key == '~')
            strbuf_addstr(sb, "~0");
        else if (*key == '/')
            strbuf_addstr(sb, "~1");
        else
            strbuf_addch(sb, *key);
    }
}

static int add_op(json_t *ops, const char *op, const char *path, json_t *value)
{
    json_t *o = json_object();

    if (!o || json_object_set_new_nocheck(o, "op", json_string_nocheck(op)) < 0 ||
        json_object_set_new(o, "path", json_string(path)) < 0 ||
        (value && json_object_set_nocheck(o, "value", value) < 0)) {
        json_decref(o);
        return -1;
    }
    return json_array_append_new(ops, o);
}

static int diff(const json_t *from, const json_t *to, struct strbuf *path, json_t *ops, int depth)
{
    const char *key;
    json_t *fv, *tv;
    size_t mark = path->len;
    int rc = 0;

    /* the mutated copy shares every value it did not change */
    if (from == to)
        return 0;
    /* objects are walked member by member; json_equal() on a whole object
     * at every level would compare each subtree once per ancestor */
    if (!json_is_object(from) || !json_is_object(to) || depth >= PATCH_MAX_DEPTH) {
        if (json_equal((json_t *)from, (json_t *)to))
            return 0;
        return add_op(ops, "replace", path->len ? path->buf : "", (json_t *)to);
    }
    json_object_foreach((json_t *)from, key, fv) {
        if (json_object_get(to, key))
            continue;
        pointer_add(path, key);
        rc |= add_op(ops, "remove", path->buf, NULL);
        path->len = mark;
        path->buf[mark] = '\0';
    }
    json_object_foreach((json_t *)to, key, tv) {
        pointer_add(path, key);
        fv = json_object_get(from, key);
        if (!fv)
            rc |= add_op(ops, "add", path->buf, tv);
        else
            rc |= diff(fv, tv, path, ops, depth + 1);
        path->len = mark;
        path->buf[mark] = '\0';
    }
    return rc;
}

json_t *patch_diff(const json_t *from, const json_t *to)
{
    json_t *ops = json_array();
    struct strbuf path = STRBUF_INIT;

    strbuf_addstr(&path, "");
    if (!ops || diff(from, to, &path, ops, 0) < 0) {
        json_decref(ops);
        ops = NULL;
    }
    strbuf_release(&path);
    return ops;
}
