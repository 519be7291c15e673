/*
 * strbuf.c - growing string buffer.
 */
#include "mutators/json/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_grow(struct strbuf *sb, size_t extra)
{
    size_t want = sb->len + extra + 1;

    if (want <= sb->alloc)
        return;
    sb->alloc = sb->alloc ? sb->alloc : 64;
    while (sb->alloc < want)
        sb->alloc *= 2;
    sb->buf = realloc(sb->buf, sb->alloc);
    if (!sb->buf)
        abort();
}

void strbuf_add(struct strbuf *sb, const void *data, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, data, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}


void strbuf_vaddstrs(struct strbuf *sb, va_list ap)
{
    const char *s;

    while ((s = va_arg(ap, const char *)))
        strbuf_addstr(sb, s);
}

void strbuf_addstrs(struct strbuf *sb, ...)
{
    va_list ap;

    va_start(ap, sb);
    strbuf_vaddstrs(sb, ap);
    va_end(ap);
}

void strbuf_adddec(struct strbuf *sb, unsigned long long v, int width)
{
    char buf[24], *p = buf + sizeof(buf);
    int n = 0;

    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
        n++;
    } while (v || n < width);
    strbuf_add(sb, p, (size_t)(buf + sizeof(buf) - p));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    strbuf_grow(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

char *strbuf_detach(struct strbuf *sb)
{
    char *s = sb->buf;

    if (!s) {
        s = strdup("");
        if (!s)
            abort();
    }
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
    return s;
}

void strbuf_release(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->alloc = 0;
}
