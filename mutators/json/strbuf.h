/*
 * strbuf.h - a growing string buffer (after git's strbuf).
 *
 * Allocation failure aborts: buffers here hold messages and small texts.
 * Network-fed buffers live in webhook/ and carry their own caps.
 */
#ifndef STRBUF_H
#define STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

struct strbuf {
    char *buf;      /* always NUL-terminated once anything was added */
    size_t len, alloc;
};

#define STRBUF_INIT { NULL, 0, 0 }

/* Makes room for extra more bytes, so a caller that knows the size avoids
 * the copies of repeated doubling. */
void strbuf_grow(struct strbuf *sb, size_t extra);

void strbuf_add(struct strbuf *sb, const void *data, size_t len);

/* Inline, so that the length of a literal is counted at compile time. */
static inline void strbuf_addstr(struct strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends v in decimal, zero-padded to at least width digits: numbers on
 * every review, without a format to parse. */
void strbuf_adddec(struct strbuf *sb, unsigned long long v, int width);

/* Appends the strings, ended by NULL: paths and names built on every
 * review, without a format to parse. */
void strbuf_addstrs(struct strbuf *sb, ...) __attribute__((sentinel));

/* The same, from a va_list of strings ended by NULL. */
void strbuf_vaddstrs(struct strbuf *sb, va_list ap);
static inline void strbuf_addch(struct strbuf *sb, char c)
{
    if (sb->len + 1 >= sb->alloc)
        strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

/* Hands the bytes over (never NULL: an empty string when nothing was added);
 * the strbuf is left empty. */
char *strbuf_detach(struct strbuf *sb);

void strbuf_release(struct strbuf *sb);

#endif
