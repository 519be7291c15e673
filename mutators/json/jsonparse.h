/*
 * jsonparse.h - strict JSON text to jansson values, fast.
 *
 * jansson's json_loadb() reads through a per-character stream and was a
 * quarter of a review's CPU time (and ~50 instructions a byte on long
 * strings). This parser builds the same jansson values straight from the
 * buffer: RFC 8259, one value with white space around it, duplicate keys
 * refused (as JSON_REJECT_DUPLICATES), strings valid UTF-8 with "\u0000"
 * allowed in values but not in keys (as JSON_ALLOW_NUL), integers that do
 * not fit 64 bits refused, nesting capped.
 */
#ifndef JSONPARSE_H
#define JSONPARSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Values one text may hold: a dense body ("[{},{},...]") would otherwise
 * cost ~100 bytes of memory per input byte. A Kubernetes object, at most
 * 1.5 MiB in etcd, holds far fewer. */
#define JSONPARSE_MAX_VALUES 100000

/* Characters of one number literal; the apiserver writes short ones. */
#define JSONPARSE_MAX_NUMBER 128

enum jsonparse_status { JSONPARSE_OK, JSONPARSE_SYNTAX, JSONPARSE_TOO_DEEP, JSONPARSE_TOO_MANY };

struct jsonparse_error {
    enum jsonparse_status status;
    char text[96];      /* lowercase, what was wrong */
    size_t line;        /* 1-based */
    size_t column;      /* 1-based, in bytes */
};

/* Parses buf[0..len) (not necessarily NUL-terminated) into a new value, or
 * returns NULL with err filled. Arrays and objects nest at most max_depth
 * deep. With used NULL, only white space may follow the value; otherwise
 * anything may, and *used is set to the bytes the value took. */
json_t *jsonparse(const char *buf, size_t len, int max_depth, size_t *used,
                  struct jsonparse_error *err);

/* A member's path from the top value: the keys of the objects on the way
 * and its own, "*" standing for any key (a key "*" itself cannot be
 * named); an array on the way matches no path. */
#define JSONPARSE_PATH(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define JSONPARSE_SKIP_MAX 64      /* paths in one skip set */

/* Members not worth building: paths (NULL-terminated, at most
 * JSONPARSE_SKIP_MAX, none empty), e.g.
 *     static const char *const *const unread[] = {
 *         JSONPARSE_PATH("parent", "metadata", "managedFields"),
 *         JSONPARSE_PATH("children", "*", "*", "spec"), NULL };
 *     static const struct jsonparse_skip skip = { .paths = unread }; */
struct jsonparse_skip {
    const char *const *const *paths;
    uint64_t built;     /* bit i: path i's member is built as the rest, only its span kept */
    uint64_t raw;       /* bit i: path i's member is kept as a string of its JSON text, as sent */
};

/* jsonparse(), except that the members skip names (skip may be NULL) are
 * read and refused exactly as the rest (syntax, UTF-8, numbers, repeated
 * keys, depth, JSONPARSE_MAX_VALUES) but kept as null: nothing of them is
 * built, only the keys of their objects are held while each is read, to
 * find repeats. A skip set with more than JSONPARSE_SKIP_MAX paths or an
 * empty path is refused (JSONPARSE_SYNTAX, "invalid skip set"). */
json_t *jsonparse_skipping(const char *buf, size_t len, int max_depth, const struct jsonparse_skip *skip,
                           size_t *used, struct jsonparse_error *err);

/* Where a skipped member's value lies in the input: buf[at..at+len); len
 * 0 when no member matched its path. */
struct jsonparse_span {
    size_t at, len;
};

/* jsonparse_skipping(), also setting spans[i] (one per path of skip) to
 * where the member that path i named lies (the last one, for a path with
 * "*"): a caller that may need a skipped value after all can parse it
 * from there, or use its text as it is. A path whose bit is set in
 * skip->built names a member that is built as any other: only its span
 * is of interest (its text, as sent, beside its tree). One whose bit is
 * set in skip->raw is read as a skipped one, then kept as a JSON string
 * of its text as sent (every member it names, "*" or not): a value
 * rarely needed, parsed from that text when it is. */
json_t *jsonparse_spans(const char *buf, size_t len, int max_depth, const struct jsonparse_skip *skip,
                        struct jsonparse_span *spans, size_t *used, struct jsonparse_error *err);

#endif
