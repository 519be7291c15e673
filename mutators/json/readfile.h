/*
 * readfile.h - a whole file into memory, under a cap, never blocking on
 * what is at the path unless asked to.
 *
 * The one reader of every file the program takes in: certificate and key
 * files (webhook/tls.c, certs/certgen.c), the policy (webhook/policyfile.c),
 * seal keys (certs/seal.c), the service-account token (certs/kubeapi.c),
 * render's inputs and review's stdin (webhook/render.c, webhook/main.c).
 * Here, beside the other memory plumbing, because both certs/ and webhook/
 * use it and neither should include the other's internals.
 *
 * By default only a regular file is read, and it is opened with O_NONBLOCK:
 * a FIFO or a device swapped in at the path (a hostile or broken mount)
 * is refused, not waited on, so a server thread never blocks on it. The
 * buffer starts at the file's size and grows by doubling only if the file
 * grows while it is read, so a small file costs a small allocation; one
 * byte past the cap tells a file over it.
 */
#ifndef READFILE_H
#define READFILE_H

#include <stddef.h>

#define READFILE_ANY    1u  /* also read a pipe, FIFO or device, blocking until EOF (command-line input) */
#define READFILE_SECRET 2u  /* key material: every copy left behind (growth, failure) is zeroed */

#define READFILE_MAX_ERROR 512  /* a good size for err */

/* Reads all of path, at most max bytes, into *out (a new buffer the caller
 * frees; NUL-terminated after *len bytes, so text may be used as a string;
 * with READFILE_SECRET the caller zeroes it before freeing). Returns 0, or
 * -1 with "<path>: <why>" in err and errno set: from open() or read()
 * (ENOENT for a missing file), EINVAL for what is not a regular file,
 * EFBIG for more than max bytes, ENOMEM. An empty file is read (len 0):
 * whether that is an error is the caller's to say. */
int readfile_path(const char *path, size_t max, unsigned flags, char **out, size_t *len, char *err,
                  size_t errlen);

/* The same for an open descriptor (stdin: "-" in messages as name),
 * read blocking until EOF; fd stays open. */
int readfile_fd(int fd, const char *name, size_t max, unsigned flags, char **out, size_t *len, char *err,
                size_t errlen);

#endif
