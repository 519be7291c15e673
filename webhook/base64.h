/*
 * base64.h - the encoding of an AdmissionReview's patch (RFC 4648, with
 * padding, no line breaks).
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

#include "mutators/json/strbuf.h"

/* Appends the base64 of in[0..n) to sb. */
void base64_append(struct strbuf *sb, const char *in, size_t n);

/* The same without vector instructions: the reference the tests hold
 * base64_append() to, and what it runs on a CPU without AVX2. */
void base64_append_scalar(struct strbuf *sb, const char *in, size_t n);

#endif
