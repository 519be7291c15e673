/*
 * seal_fixture.h - what the unit tests that seal share (test_review.c,
 * test_sync.c): a seal key read back from a file, as --seal-key reads one,
 * a verify that notes whether a seal held over spec.generated's text as
 * sent (the callers' fast path) or over the tree, and the edit the tests
 * make to that text. Included after cmocka.h.
 */
#ifndef SEAL_FIXTURE_H
#define SEAL_FIXTURE_H

#include <stdlib.h>
#include <unistd.h>

#include "certs/seal.h"
#include "mutators/json/strbuf.h"

static int over_text;      /* the last seal verified over spec.generated's text, given apart */

static int noting_verify(const void *keys, const char *kind, const char *name, const json_t *spec,
                         const char *generated, size_t len, const char *seal)
{
    int ok = seal_verify(keys, kind, name, spec, generated, len, seal);

    over_text = ok && generated;
    return ok;
}

/* Adds the tests' key to keys. */
static void seal_fixture_keys(struct seal_keys *keys)
{
    char path[] = "/tmp/paddlex_test_seal_XXXXXX", err[256];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "0123456789abcdef0123456789abcdef", 32), 32);
    close(fd);
    if (seal_keys_add_file(keys, path, err, sizeof(err)) < 0)
        fail_msg("seal key: %s", err);
    unlink(path);
}

/* A copy of text with its first `what` after `after` replaced by `with`. */
static char *replaced(const char *text, const char *after, const char *what, const char *with)
{
    const char *at = strstr(strstr(text, after), what);
    struct strbuf sb = STRBUF_INIT;

    assert_non_null(at);
    strbuf_add(&sb, text, (size_t)(at - text));
    strbuf_addstr(&sb, with);
    strbuf_addstr(&sb, at + strlen(what));
    return strbuf_detach(&sb);
}

#endif
