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

#endif
