/*
 * swar.h - scanning text eight bytes at a time in a 64-bit word.
 */
#ifndef SWAR_H
#define SWAR_H

#include <stddef.h>
#include <stdint.h>

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

/* The mask of the first n bytes in memory order of a word (0 < n < 8). */
static inline uint64_t swar_prefix_mask(size_t n)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return ~(~0ULL >> (8 * n));
#else
    return ~(~0ULL << (8 * n));
#endif
}

#endif
