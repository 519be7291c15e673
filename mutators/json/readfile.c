/*
 * readfile.c - a whole file into memory under a cap (see readfile.h).
 */
#include "mutators/json/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READFILE_FIRST (64 * 1024)  /* the first buffer when the size is not known (a pipe) */

/* A buffer of cap bytes holding the n of old, which is released (zeroed
 * first when secret). NULL when out of memory (old stays). */
static char *grow(char *old, size_t n, size_t cap, unsigned flags)
{
    char *b = malloc(cap);

    if (!b)
        return NULL;
    if (n)
        memcpy(b, old, n);
    if (old && (flags & READFILE_SECRET))
        explicit_bzero(old, n);
    free(old);
    return b;
}

/* Reads fd to EOF into a buffer first sized for hint bytes. */
static int read_all(int fd, const char *name, size_t hint, size_t max, unsigned flags, char **out, size_t *len,
                    char *err, size_t errlen)
{
    /* room for one byte past the cap, and the NUL */
    size_t cap = (hint < max ? hint : max) + 2, n = 0;
    char *buf = malloc(cap), *nb;
    ssize_t got;
    int e;

    if (!buf)
        goto nomem;
    for (;;) {
        if (n + 1 == cap) {
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;

            if (!(nb = grow(buf, n, ncap, flags)))
                goto nomem;
            buf = nb;
            cap = ncap;
        }
        got = read(fd, buf + n, cap - 1 - n);
        if (got == 0)
            break;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            e = errno;
            snprintf(err, errlen, "%s: cannot read: %s", name, strerror(e));
            goto fail;
        }
        n += (size_t)got;
        if (n > max) {
            e = EFBIG;
            snprintf(err, errlen, "%s: larger than %zu bytes", name, max);
            goto fail;
        }
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
nomem:
    e = ENOMEM;
    snprintf(err, errlen, "%s: out of memory", name);
fail:
    if (buf && (flags & READFILE_SECRET))
        explicit_bzero(buf, n);
    free(buf);
    errno = e;
    return -1;
}

int readfile_fd(int fd, const char *name, size_t max, unsigned flags, char **out, size_t *len, char *err,
                size_t errlen)
{
    struct stat st;
    size_t hint = READFILE_FIRST;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0)
        hint = (size_t)st.st_size;
    return read_all(fd, name, hint, max, flags, out, len, err, errlen);
}

int readfile_path(const char *path, size_t max, unsigned flags, char **out, size_t *len, char *err,
                  size_t errlen)
{
    struct stat st;
    int fd, rc = -1, e;
    size_t hint = READFILE_FIRST;

    /* O_NONBLOCK: opening a FIFO with no writer would wait for one */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | ((flags & READFILE_ANY) ? 0 : O_NONBLOCK));
    if (fd < 0) {
        e = errno;
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        e = errno;
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        hint = st.st_size >= 0 ? (size_t)st.st_size : 0;
    } else if (!(flags & READFILE_ANY) || S_ISDIR(st.st_mode)) {
        e = EINVAL;
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    rc = read_all(fd, path, hint, max, flags, out, len, err, errlen);
    e = errno;
out:
    close(fd);
    errno = e;
    return rc;
}
