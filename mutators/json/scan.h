/*
 * scan.h - finding the end of a run of plain JSON string text, sixteen
 * bytes at a time with SSE2 (every x86-64 has it), byte by byte elsewhere.
 *
 * Kept because it pays on large bodies: a 1 MiB object's /mutate is 2.9 M
 * instructions with it, 7.8 M (+0.25 ms) byte by byte (tests/bench/NOTES.md).
 */
#ifndef SCAN_H
#define SCAN_H

#include <stddef.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* By byte: 0 for plain text, 1 for bytes >= 0x80 (plain unless asked),
 * 2 for '"', '\\' and the controls. */
#define SCAN_RUN16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char scan_stop[256] = {
    SCAN_RUN16(2), SCAN_RUN16(2),
    0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     /* '"' */
    SCAN_RUN16(0), SCAN_RUN16(0),
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0,     /* '\\' */
    SCAN_RUN16(0), SCAN_RUN16(0),
    SCAN_RUN16(1), SCAN_RUN16(1), SCAN_RUN16(1), SCAN_RUN16(1),
    SCAN_RUN16(1), SCAN_RUN16(1), SCAN_RUN16(1), SCAN_RUN16(1),
};
#undef SCAN_RUN16

#ifdef __SSE2__
/* The bytes of the sixteen at s that stop plain text, as bits: '"', '\\'
 * and the controls, and with high the bytes >= 0x80 as well. */
static inline unsigned scan_stops16(const unsigned char *s, int high)
{
    const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), controls = _mm_set1_epi8(0x1f);
    const __m128i space = _mm_set1_epi8(0x20);
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    /* with high, one signed compare finds controls and bytes >= 0x80
     * alike (they are negative); else a control is a byte whose unsigned
     * minimum with 0x1f is itself */
    __m128i stop = high ? _mm_cmplt_epi8(x, space) : _mm_cmpeq_epi8(_mm_min_epu8(x, controls), x);

    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, backslash)), stop));
}
#endif

/* The length of s's longest prefix of bytes other than '"', '\\' and the
 * controls, and, when high is set, other than the bytes >= 0x80 as well. */
static inline size_t scan_plain(const unsigned char *s, size_t len, int high)
{
    size_t i = 0;

#ifdef __SSE2__
    for (; i + 16 <= len; i += 16) {
        unsigned bits = scan_stops16(s + i, high);

        if (bits)
            return i + (size_t)__builtin_ctz(bits);
    }
#endif
    /* the tail, and the short strings most of a Training's children are:
     * one load and one test a byte */
    while (i < len && scan_stop[s[i]] + high < 2)
        i++;
    return i;
}

/* 1 when s[0..len) has no '"', '\\' or control: scan_plain(s, len, 0)
 * == len, but for text whose buffer has 15 readable bytes past len (what
 * follows them is ignored), so that a short string takes one load and
 * no byte loop: node.c checks each string of the children as copied. */
static inline int scan_plain_padded(const unsigned char *s, size_t len)
{
#ifdef __SSE2__
    for (size_t i = 0; i < len; i += 16) {
        unsigned bits = scan_stops16(s + i, 0);

        if (len - i < 16)
            bits &= (1u << (len - i)) - 1;
        if (bits)
            return 0;
    }
    return 1;
#else
    return scan_plain(s, len, 0) == len;
#endif
}

#endif
