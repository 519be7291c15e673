/*
 * log.c - JSON lines on stdout (admissions) and stderr (the rest).
 */
#include "webhook/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mutators/json/jsondump.h"
#include "webhook/review.h"

#define LOG_MAX_MESSAGE 1024
#define LOG_BATCH 4096      /* PIPE_BUF: one write of whole lines is never split */

static enum log_level threshold = LOG_INFO;

static const char *const names[] = { "debug", "info", "warn", "error" };

int log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (!strcmp(s, names[i])) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

void log_set_level(enum log_level level)
{
    threshold = level;
}

enum log_level log_level(void)
{
    return threshold;
}

static void timestamp(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Prints obj as one line and frees it. */
static void emit(FILE *f, json_t *obj)
{
    struct strbuf sb = STRBUF_INIT;

    if (!obj)
        return;
    jsondump_append(&sb, obj);
    fprintf(f, "%s\n", sb.buf);
    fflush(f);
    strbuf_release(&sb);
    json_decref(obj);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char ts[40], msg[LOG_MAX_MESSAGE];
    va_list ap;

    json_t *text;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* a message quoting clipped untrusted text may not be valid UTF-8:
     * mask the non-ASCII bytes rather than lose the line */
    text = json_string(msg);
    if (!text) {
        for (char *c = msg; *c; c++)
            if ((unsigned char)*c >= 0x80)
                *c = '?';
        text = json_string(msg);
    }
    timestamp(ts, sizeof(ts));
    emit(stderr, json_pack("{s:s, s:s, s:o}", "ts", ts, "level", names[level], "msg", text));
}

/* Admission lines are written as text (no jansson object per line) and,
 * on a thread that holds them, gathered and written together: one write
 * per worker round instead of one per admission. */
static __thread struct strbuf pending;
static __thread int holding;
static __thread time_t stamped;         /* the second ts_second spells */
static __thread char ts_second[24];     /* "2026-12-02T21:50:18" */

void log_hold(void)
{
    holding = 1;
}

void log_flush(void)
{
    const char *p = pending.buf;
    size_t n = pending.len;

    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;          /* stdout is gone: nowhere to say so */
        p += w;
        n -= (size_t)w;
    }
    pending.len = 0;
}

void log_release(void)
{
    log_flush();
    strbuf_release(&pending);
    holding = 0;
}

static void add_field(struct strbuf *sb, const char *key, const char *value)
{
    strbuf_addstr(sb, key);
    jsondump_string(sb, value, strlen(value));
}

void log_admission(const char *path, const struct review_result *r, double seconds)
{
    struct timespec ts;
    struct tm tm;
    unsigned long long us = seconds > 0 ? (unsigned long long)(seconds * 1e6) : 0;
    size_t start = pending.len;

    if (LOG_INFO < threshold)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != stamped) {
        gmtime_r(&ts.tv_sec, &tm);
        strftime(ts_second, sizeof(ts_second), "%Y-%m-%dT%H:%M:%S", &tm);
        stamped = ts.tv_sec;
    }
    strbuf_grow(&pending, 512);
    strbuf_addstr(&pending, "{\"ts\":\"");
    strbuf_addstr(&pending, ts_second);
    strbuf_addch(&pending, '.');
    strbuf_adddec(&pending, (unsigned long long)ts.tv_nsec / 1000000, 3);
    strbuf_addstr(&pending, "Z\",\"level\":\"info\",\"msg\":\"admission\"");
    add_field(&pending, ",\"path\":", path);
    add_field(&pending, ",\"uid\":", r->uid);
    add_field(&pending, ",\"kind\":", r->kind);
    add_field(&pending, ",\"namespace\":", r->namespace);
    add_field(&pending, ",\"name\":", r->name);
    add_field(&pending, ",\"operation\":", r->operation);
    strbuf_addstr(&pending, r->allowed ? ",\"allowed\":true" : ",\"allowed\":false");
    strbuf_addstr(&pending, r->patched ? ",\"patched\":true,\"status\":" : ",\"patched\":false,\"status\":");
    strbuf_adddec(&pending, (unsigned long long)r->http_status, 1);
    strbuf_addstr(&pending, ",\"durationMs\":");
    strbuf_adddec(&pending, us / 1000, 1);
    strbuf_addch(&pending, '.');
    strbuf_adddec(&pending, us % 1000, 3);
    strbuf_addstr(&pending, "}\n");
    /* whole lines, at most LOG_BATCH bytes a write: what came before this
     * line goes first when both would not fit */
    if (pending.len > LOG_BATCH && start > 0) {
        size_t n = pending.len - start;

        pending.len = start;
        log_flush();
        memmove(pending.buf, pending.buf + start, n);
        pending.len = n;
    }
    if (!holding)
        log_release();      /* a thread that does not hold keeps no buffer */
}
