/*
 * base64.c - base64 for the patch of every /mutate answer.
 *
 * A Training's patch is ~7 KB, so this runs over more bytes than anything
 * but the TLS layer. With AVX2 (x86-64 CPUs since 2013), twenty-four bytes
 * become thirty-two digits in a handful of instructions, twelve per
 * 128-bit lane: a shuffle spreads each three bytes over a 32-bit lane, two
 * multiplies move the four 6-bit fields into bytes, and a 16-entry table,
 * indexed by the field's range, gives what turns a field into its digit.
 * The scalar version (other CPUs, and the tail) does six bytes a step with
 * a table of digit pairs.
 */
#include "webhook/base64.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BASE64_AVX2 1
#endif

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
static char *encode_scalar(char *q, const unsigned char *p, size_t n)
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

#ifdef BASE64_AVX2
/* Twenty-four bytes a step (twelve per 128-bit lane) while twenty-eight
 * can be read; the rest as above. */
__attribute__((target("avx2")))
static char *encode_avx2(char *q, const unsigned char *p, size_t n)
{
    /* lane k holds bytes 3k+1, 3k, 3k+2, 3k+1 (little-endian: b1 b0 b2 b1) */
    const __m256i spread = _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10,
                                            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
    /* what to add to a 6-bit field, by its range: index 0 for 26..51,
     * 1..10 for 52..61, 11 for 62, 12 for 63, 13 for 0..25 */
    const __m256i shift = _mm256_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
                                           '/' - 63, 'A', 0, 0,
                                           'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                                           '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
                                           '/' - 63, 'A', 0, 0);
    size_t i = 0;

    for (; i + 28 <= n; i += 24) {
        __m256i in = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(p + i))),
                                             _mm_loadu_si128((const __m128i *)(p + i + 12)), 1);
        /* fields a (bits 23..18) and c (11..6) to the low 6 bits of bytes
         * 0 and 2, b (17..12) and d (5..0) to bytes 1 and 3 */
        __m256i ac, bd, f, range;

        in = _mm256_shuffle_epi8(in, spread);
        ac = _mm256_mulhi_epu16(_mm256_and_si256(in, _mm256_set1_epi32(0x0fc0fc00)),
                                _mm256_set1_epi32(0x04000040));
        bd = _mm256_mullo_epi16(_mm256_and_si256(in, _mm256_set1_epi32(0x003f03f0)),
                                _mm256_set1_epi32(0x01000010));
        f = _mm256_or_si256(ac, bd);
        range = _mm256_subs_epu8(f, _mm256_set1_epi8(51));
        range = _mm256_or_si256(range, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), f),
                                                        _mm256_set1_epi8(13)));
        _mm256_storeu_si256((__m256i *)q, _mm256_add_epi8(f, _mm256_shuffle_epi8(shift, range)));
        q += 32;
    }
    return encode_scalar(q, p + i, n - i);
}

#endif

static void append(struct strbuf *sb, const char *in, size_t n, int vector)
{
    char *q;

    strbuf_grow(sb, (n + 2) / 3 * 4);
    q = sb->buf + sb->len;
#ifdef BASE64_AVX2
    if (vector && __builtin_cpu_supports("avx2"))
        q = encode_avx2(q, (const unsigned char *)in, n);
    else
#endif
        q = encode_scalar(q, (const unsigned char *)in, n);
    (void)vector;
    sb->len = (size_t)(q - sb->buf);
    sb->buf[sb->len] = '\0';
}

void base64_append(struct strbuf *sb, const char *in, size_t n)
{
    append(sb, in, n, 1);
}

void base64_append_scalar(struct strbuf *sb, const char *in, size_t n)
{
    append(sb, in, n, 0);
}
