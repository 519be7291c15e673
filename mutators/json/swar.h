/*
 * swar.h - scanning text eight bytes at a time in a 64-bit word (and
 * sixteen in an SSE2 register, where x86-64 has one).
 */
#ifndef SWAR_H
#define SWAR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The index of the first byte in memory order whose high bit is set in
 * flags, a word loaded with memcpy; flags is not 0. With the classic
 * "has zero byte" tests the first flag is always a true one (only bytes
 * after a match can be flagged falsely), so this is the first match. */
static inline size_t swar_first(uint64_t flags)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return (size_t)__builtin_clzll(flags) >> 3;
#else
    return (size_t)__builtin_ctzll(flags) >> 3;
#endif
}

/* Flags (high bits) on the bytes of v, a word loaded with memcpy, that a
 * JSON string must escape: controls, '"' and '\\'. Only bytes after a
 * flagged one can be flagged falsely (see swar_first). */
static inline uint64_t swar_json_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');

    return (((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

#ifdef __SSE2__
/* 0xff on the bytes of x a JSON string must escape: '"', '\\' and the
 * controls (the bytes whose minimum with 0x1f is themselves). */
static inline __m128i sse2_json_special(__m128i x)
{
    return _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                     _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                        _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1f)), x));
}
#endif

/* Copies s[0..len) to d without a call when it is short, in pieces that
 * overlap (nothing outside either range is read or written). */
static inline void swar_copy(char *d, const char *s, size_t len)
{
    uint64_t a, b;
    uint32_t c, e;

    if (len > 16) {
        memcpy(d, s, len);
    } else if (len >= 8) {
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + len - 8, &b, 8);
    } else if (len >= 4) {
        memcpy(&c, s, 4);
        memcpy(&e, s + len - 4, 4);
        memcpy(d, &c, 4);
        memcpy(d + len - 4, &e, 4);
    } else if (len) {
        d[0] = s[0];
        d[len / 2] = s[len / 2];
        d[len - 1] = s[len - 1];
    }
}

/* Copies s[0..len) to d and tells whether any of the bytes is one a JSON
 * string must escape (nonzero then). Nothing outside either range is read
 * or written: the last block overlaps the one before it, and a string
 * shorter than a word is read in pieces that overlap. */
static inline int swar_copy_json(char *d, const char *s, size_t len)
{
    uint64_t v, special = 0;

#ifdef __SSE2__
    if (len >= 16) {
        __m128i x, flags = _mm_setzero_si128();

        for (size_t i = 0;; i += 16) {
            if (i + 16 > len)
                i = len - 16;
            x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            _mm_storeu_si128((__m128i *)(void *)(d + i), x);
            flags = _mm_or_si128(flags, sse2_json_special(x));
            if (i + 16 == len)
                break;
        }
        return _mm_movemask_epi8(flags) != 0;
    }
#endif
    if (len >= 8) {
        for (size_t i = 0; i + 8 <= len; i += 8) {
            memcpy(&v, s + i, 8);
            memcpy(d + i, &v, 8);
            special |= swar_json_special(v);
        }
        memcpy(&v, s + len - 8, 8);
        memcpy(d + len - 8, &v, 8);
        special |= swar_json_special(v);
    } else if (len >= 4) {
        /* two words of four that overlap, tested as one of eight */
        uint32_t a, b;

        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + len - 4, &b, 4);
        special = swar_json_special((uint64_t)a | (uint64_t)b << 32);
    } else if (len) {
        /* first, middle and last cover them; 'a' fills the word */
        unsigned char a = (unsigned char)s[0], b = (unsigned char)s[len / 2], c = (unsigned char)s[len - 1];

        d[0] = (char)a;
        d[len / 2] = (char)b;
        d[len - 1] = (char)c;
        special = swar_json_special((uint64_t)a | (uint64_t)b << 8 | (uint64_t)c << 16 | 0x6161616161000000ULL);
    }
    return special != 0;
}

#endif
