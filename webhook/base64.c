/*
 * base64.c - base64 for the patch of every /mutate answer.
 *
 * A Training's patch is ~7 KB, so this runs over more bytes than anything
 * but the TLS layer: six bytes a step with a table of digit pairs, 1.9 µs
 * for the PP-OCR Training's 7.9 KB. OpenSSL's EVP_EncodeBlock (as certs/
 * uses) takes 3.7 µs, a digit at a time; an AVX2 version took 0.5 µs, but
 * 1.3 µs of a ~47 µs answer did not pay for its 60 lines of intrinsics and
 * CPU dispatch (tests/bench/NOTES.md).
 */
#include "webhook/base64.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char pairs[4096][2];
static pthread_once_t pairs_once = PTHREAD_ONCE_INIT;

static void pairs_init(void)
{
    for (int i = 0; i < 4096; i++) {
        pairs[i][0] = digits[i >> 6];
        pairs[i][1] = digits[i & 63];
    }
}

/* Encodes in[0..n) to q, which has room for (n + 2) / 3 * 4 bytes;
 * returns the end. */
static char *encode(char *q, const unsigned char *p, size_t n)
{
    size_t i = 0;

    pthread_once(&pairs_once, pairs_init);
    /* six bytes per step, read as one big-endian word (two bytes past
     * them are read but not used) */
    for (; i + 8 <= n; i += 6) {
        uint64_t w;

        memcpy(&w, p + i, 8);
        w = __builtin_bswap64(w);
        memcpy(q, pairs[w >> 52], 2);
        memcpy(q + 2, pairs[w >> 40 & 4095], 2);
        memcpy(q + 4, pairs[w >> 28 & 4095], 2);
        memcpy(q + 6, pairs[w >> 16 & 4095], 2);
        q += 8;
    }
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

        memcpy(q, pairs[v >> 12], 2);
        memcpy(q + 2, pairs[v & 4095], 2);
        q += 4;
    }
    if (i < n) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);

        q[0] = digits[v >> 18];
        q[1] = digits[v >> 12 & 63];
        q[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
        q[3] = '=';
        q += 4;
    }
    return q;
}

void base64_append(struct strbuf *sb, const char *in, size_t n)
{
    char *q;

    strbuf_grow(sb, (n + 2) / 3 * 4);
    q = encode(sb->buf + sb->len, (const unsigned char *)in, n);
    sb->len = (size_t)(q - sb->buf);
    sb->buf[sb->len] = '\0';
}
