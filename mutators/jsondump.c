/*
 * jsondump.c - compact JSON serialisation.
 */
#include "mutators/jsondump.h"

#include <stdio.h>
#include <string.h>

/* 1 for the bytes a JSON string must escape: controls, '"', '\\', DEL */
static const unsigned char escape[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x7f] = 1,
};

void jsondump_string(struct strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run;

    strbuf_addch(sb, '"');
    for (;;) {
        run = i;
        while (i < len && !escape[p[i]])
            i++;
        strbuf_add(sb, s + run, i - run);
        if (i == len)
            break;
        switch (p[i]) {
        case '"': strbuf_add(sb, "\\\"", 2); break;
        case '\\': strbuf_add(sb, "\\\\", 2); break;
        case '\n': strbuf_add(sb, "\\n", 2); break;
        case '\t': strbuf_add(sb, "\\t", 2); break;
        case '\r': strbuf_add(sb, "\\r", 2); break;
        case '\b': strbuf_add(sb, "\\b", 2); break;
        case '\f': strbuf_add(sb, "\\f", 2); break;
        default: {
            char esc[6] = { '\\', 'u', '0', '0', hex[p[i] >> 4], hex[p[i] & 15] };

            strbuf_add(sb, esc, 6);
        }
        }
        i++;
    }
    strbuf_addch(sb, '"');
}

void jsondump_append(struct strbuf *sb, const json_t *v)
{
    const char *key;
    json_t *item;
    size_t i;
    char num[32];
    int n;

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
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        strbuf_add(sb, num, (size_t)n);
        break;
    case JSON_REAL:
        n = snprintf(num, sizeof(num), "%.17g", json_real_value(v));
        /* a real keeps a fraction or exponent so it reads back as a real */
        if (!strpbrk(num, ".eEni") && n + 2 < (int)sizeof(num))
            n += snprintf(num + n, sizeof(num) - (size_t)n, ".0");
        strbuf_add(sb, num, (size_t)n);
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
