/*
 * log.h - one JSON line per event.
 *
 * Admissions go to stdout, one line each (uid, kind, namespace/name,
 * operation, allowed, duration); everything else to stderr. The level is set
 * once at start and read by the LOG macro before any formatting.
 */
#ifndef LOG_H
#define LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Parses "debug", "info", "warn" or "error". Returns 0 or -1. */
int log_parse_level(const char *s, enum log_level *out);

/* Sets the level; call before any thread starts. */
void log_set_level(enum log_level level);

enum log_level log_level(void);

/* Writes one line {"ts","level","msg"} to stderr; msg is clipped. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG(level, ...)                    \
    do {                                   \
        if ((level) >= log_level())        \
            log_write((level), __VA_ARGS__); \
    } while (0)

struct review_result;

/* The admission line on stdout: at once, or with log_hold() in force on the
 * calling thread, at its next log_flush() (or when 4 KiB are held). */
void log_admission(const char *path, const struct review_result *r, double seconds);

/* From now on this thread's admission lines wait for log_flush(). */
void log_hold(void);

/* Writes this thread's held lines, in one write of at most 4 KiB. */
void log_flush(void);

/* Flushes and frees what this thread held; lines go out at once again. */
void log_release(void);

#endif
