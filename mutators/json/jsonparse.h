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

/* Members not worth building: those named in keys (NULL-terminated) of
 * objects nested depth deep (1: the outermost object's members). */
struct jsonparse_skip {
    int depth;
    const char *const *keys;
};

/* jsonparse(), except that members named by skip (may be NULL) are read
 * and refused exactly as the rest but kept as null: inside them only the
 * keys of objects are stored, to find repeated ones, and only while the
 * object is read. */
json_t *jsonparse_skipping(const char *buf, size_t len, int max_depth, const struct jsonparse_skip *skip,
                           size_t *used, struct jsonparse_error *err);

#endif
