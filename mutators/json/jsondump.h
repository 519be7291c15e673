/*
 * jsondump.h - compact JSON serialisation, fast.
 *
 * jansson's json_dumps() decodes every UTF-8 character of every string
 * through a callback; on the admission path, which serialises a patch and a
 * base64 string of several KiB per request, that was most of the CPU time.
 * This writes the same compact text (objects in insertion order, reals as
 * "%.17g") with runs of plain bytes copied whole. Strings held by jansson
 * are valid UTF-8 already, so only '"', '\\' and control characters need
 * escaping.
 */
#ifndef JSONDUMP_H
#define JSONDUMP_H

#include <jansson.h>

#include "mutators/json/strbuf.h"

/* Bytes a formatted number needs, its NUL included. */
#define JSONDUMP_NUMBER_SIZE 32

/* Writes the JSON integer or real v into buf (JSONDUMP_NUMBER_SIZE bytes)
 * and returns its length: a real keeps a fraction or exponent ("1.0"), so
 * it reads back as a real. */
size_t jsondump_number(char *buf, const json_t *v);

/* Appends the compact JSON text of v (borrowed) to sb. */
void jsondump_append(struct strbuf *sb, const json_t *v);

/* The length of s's longest prefix that JSON writes as it is (len when s
 * needs no escaping at all). */
size_t jsondump_plain(const char *s, size_t len);

/* Appends s as a JSON string literal, quotes included. */
void jsondump_string(struct strbuf *sb, const char *s, size_t len);

#endif
