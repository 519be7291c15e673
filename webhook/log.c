/*
 * log.c - JSON lines on stdout (admissions) and stderr (the rest).
 */
#include "webhook/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "mutators/jsondump.h"
#include "webhook/review.h"

#define LOG_MAX_MESSAGE 1024

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

void log_admission(const char *path, const struct review_result *r, double seconds)
{
    char ts[40];

    if (LOG_INFO < threshold)
        return;
    timestamp(ts, sizeof(ts));
    emit(stdout, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:i, s:f}", "ts",
                           ts, "level", "info", "msg", "admission", "path", path, "uid", r->uid,
                           "kind", r->kind, "namespace", r->namespace, "name", r->name, "operation",
                           r->operation, "allowed", r->allowed, "patched", r->patched, "status",
                           r->http_status, "durationMs", (double)(long long)(seconds * 1e6) / 1000.0));
}
