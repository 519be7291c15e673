/*
 * jsondump.c - compact JSON serialisation.
 */
#include "mutators/json/jsondump.h"

#include <stdio.h>
#include <string.h>

#include "mutators/json/scan.h"

/* Index of the first byte at or after i that needs escaping, else len. */
static size_t plain_run(const unsigned char *p, size_t i, size_t len)
{
    return i + scan_plain(p + i, len - i, 0);
}

size_t jsondump_plain(const char *s, size_t len)
{
    return plain_run((const unsigned char *)s, 0, len);
}

void jsondump_string(struct strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run;

    /* the common case, nothing to escape: one copy */
    strbuf_grow(sb, len + 2);
    i = plain_run(p, 0, len);
    sb->buf[sb->len++] = '"';
    memcpy(sb->buf + sb->len, s, i);
    sb->len += i;
    while (i < len) {
        char esc[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };
        const char *short_esc = NULL;

        switch (p[i]) {
        case '"': short_esc = "\\\""; break;
        case '\\': short_esc = "\\\\"; break;
        case '\n': short_esc = "\\n"; break;
        case '\t': short_esc = "\\t"; break;
        case '\r': short_esc = "\\r"; break;
        case '\b': short_esc = "\\b"; break;
        case '\f': short_esc = "\\f"; break;
        }
        if (short_esc)
            strbuf_add(sb, short_esc, 2);
        else
            strbuf_add(sb, esc, 6);
        run = ++i;
        i = plain_run(p, i, len);
        strbuf_add(sb, s + run, i - run);
    }
    strbuf_addch(sb, '"');
}

size_t jsondump_number(char *buf, const json_t *v)
{
    int n;

    if (json_is_integer(v))
        return (size_t)snprintf(buf, JSONDUMP_NUMBER_SIZE, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    n = snprintf(buf, JSONDUMP_NUMBER_SIZE, "%.17g", json_real_value(v));
    /* a real keeps a fraction or exponent so it reads back as a real */
    if (!strpbrk(buf, ".eEni") && n + 2 < JSONDUMP_NUMBER_SIZE)
        n += snprintf(buf + n, JSONDUMP_NUMBER_SIZE - (size_t)n, ".0");
    return (size_t)n;
}

void jsondump_append(struct strbuf *sb, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    char num[JSONDUMP_NUMBER_SIZE];

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        strbuf_addch(sb, '{');
        i = 0;
        json_object_foreach((json_t *)v, key, item) {
            if (i++)
                strbuf_addch(sb, ',');
            jsondump_string(sb, key, strlen(key));
            strbuf_addch(sb, ':');
            jsondump_append(sb, item);
        }
        strbuf_addch(sb, '}');
        break;
    case JSON_ARRAY:
        strbuf_addch(sb, '[');
        json_array_foreach((json_t *)v, i, item) {
            if (i)
                strbuf_addch(sb, ',');
            jsondump_append(sb, item);
        }
        strbuf_addch(sb, ']');
        break;
    case JSON_STRING:
        jsondump_string(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        strbuf_add(sb, num, jsondump_number(num, v));
        break;
    case JSON_TRUE:
        strbuf_add(sb, "true", 4);
        break;
    case JSON_FALSE:
        strbuf_add(sb, "false", 5);
        break;
    case JSON_NULL:
        strbuf_add(sb, "null", 4);
        break;
    }
}
