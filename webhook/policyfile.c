/*
 * policyfile.c - a policy file from disk: read under a cap, YAML or JSON to
 * json_t (webhook/yaml.h), then mutators/policy.c's strict parser.
 */
#include "webhook/policyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "mutators/policy.h"
#include "webhook/yaml.h"

/* The whole file into a new buffer of *len bytes; NULL with the reason in
 * err when it is not a regular file, cannot be read or holds more than
 * POLICYFILE_MAX_BYTES. Never blocks on what is at path. */
static char *read_capped(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t n = 0;
    struct stat st;
    ssize_t got;
    /* O_NONBLOCK: a FIFO (or a device) swapped in at the path must not
     * block the caller, the server's main thread; it is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        goto out;
    }
    /* one byte more than the cap tells a file that grew past it */
    buf = malloc(POLICYFILE_MAX_BYTES + 1);
    if (!buf) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    while (n <= POLICYFILE_MAX_BYTES &&
           (got = read(fd, buf + n, POLICYFILE_MAX_BYTES + 1 - n)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto fail;
        }
        n += (size_t)got;
    }
    if (n > POLICYFILE_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %u bytes", path, POLICYFILE_MAX_BYTES);
        goto fail;
    }
    *len = n;
    goto out;
fail:
    free(buf);
    buf = NULL;
out:
    close(fd);
    return buf;
}

struct policy *policyfile_load(const char *path, char *err, size_t errlen)
{
    char yerr[YAML_MAX_ERROR];
    struct policy *p = NULL;
    json_t *docs = NULL;
    size_t len;
    char *buf = read_capped(path, &len, err, errlen);

    if (!buf)
        return NULL;
    docs = yaml_load_all(buf, len, yerr);
    if (!docs)
        snprintf(err, errlen, "%s: %s", path, yerr);
    else if (json_array_size(docs) != 1)
        snprintf(err, errlen, "%s: holds %zu documents, want one " POLICY_KIND, path,
                 json_array_size(docs));
    else
        p = policy_parse(json_array_get(docs, 0), path, err, errlen);
    json_decref(docs);
    free(buf);
    return p;
}
