/*
 * patch.c - JSON Patch text of a mutation.
 *
 * The operations are written as text from the list of changes: the
 * admission answer carries them as text (base64 of it), so building
 * jansson objects first, only to serialise them, would cost twice. Spec
 * members are field names of ours, "generated" and "seal": they need no
 * escaping, in JSON or in a JSON Pointer.
 */
#include "mutators/patch.h"

#include "mutators/json/jsondump.h"

static const char *const op_names[] = {
    [KINDS_ADD] = "add", [KINDS_REPLACE] = "replace", [KINDS_REMOVE] = "remove",
};

/* The value of change c of m. */
static void write_value(struct strbuf *out, const struct kinds_mutation *m, const struct kinds_change *c)
{
    if (c->value)
        jsondump_append(out, c->value);
    else
        strbuf_add(out, m->text.buf, m->text.len);
}

size_t patch_write(const struct kinds_mutation *m, struct strbuf *out)
{
    const struct kinds_change *c;
    size_t i;

    if (!m->nchanges || m->spec == KINDS_SPEC_OTHER)
        return 0;
    if (m->spec != KINDS_SPEC_OBJECT) {
        /* a spec made from nothing: every change is a member of it */
        strbuf_addstr(out, m->spec == KINDS_SPEC_NULL ? "[{\"op\":\"replace\"" : "[{\"op\":\"add\"");
        strbuf_addstr(out, ",\"path\":\"/spec\",\"value\":{");
        for (i = 0; i < m->nchanges; i++) {
            c = &m->changes[i];
            strbuf_addstr(out, i ? ",\"" : "\"");
            strbuf_addstr(out, c->member);
            strbuf_addstr(out, "\":");
            write_value(out, m, c);
        }
        strbuf_addstr(out, "}}]");
        return 1;
    }
    for (i = 0; i < m->nchanges; i++) {
        c = &m->changes[i];
        strbuf_addstr(out, i ? ",{\"op\":\"" : "[{\"op\":\"");
        strbuf_addstr(out, op_names[c->op]);
        strbuf_addstr(out, "\",\"path\":\"/spec/");
        strbuf_addstr(out, c->member);
        if (c->op != KINDS_REMOVE) {
            strbuf_addstr(out, "\",\"value\":");
            write_value(out, m, c);
            strbuf_addch(out, '}');
        } else {
            strbuf_addstr(out, "\"}");
        }
    }
    strbuf_addch(out, ']');
    return m->nchanges;
}
