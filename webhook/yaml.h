/*
 * yaml.h - YAML (and JSON) manifests to and from json_t, with libyaml.
 *
 * Reading follows what `kubectl apply` sends the apiserver (go-yaml v2,
 * YAML 1.1): plain scalars resolve to null (~, null, empty), booleans
 * (true/false, yes/no, on/off, y/n in their three spellings), integers
 * (decimal, 0x hex, 0o/leading-0 octal, 0b binary, '_' separators) and
 * floats; quoted, block and "!!str" scalars stay strings. Anchors are
 * ignored; aliases are refused (no expansion bombs); mapping keys must be
 * scalars and unique. Input that starts with '{' or '[' and is JSON is read
 * by jansson as a sequence of JSON values.
 *
 * Writing quotes every string that a YAML 1.1 reader would take for
 * anything else, so the output reads back to the same JSON.
 */
#ifndef PADDLEX_YAML_H
#define PADDLEX_YAML_H  /* not YAML_H: libyaml's <yaml.h> uses that guard */

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#define YAML_MAX_INPUT (3u << 20)   /* bytes of one input; callers read no more */
#define YAML_MAX_DEPTH 64           /* nesting of mappings and sequences */
#define YAML_MAX_DOCUMENTS 1024     /* documents in one input */
#define YAML_MAX_ERROR 256          /* bytes of an error message, NUL included */

/* Parses len bytes of buf (documents separated by "---", or concatenated
 * JSON values) into a new array of the documents, empty ones skipped.
 * Returns NULL with "line L, column C: what" (or "what") in err, which has
 * room for YAML_MAX_ERROR bytes, when the input is malformed or exceeds a
 * cap. */
json_t *yaml_load_all(const char *buf, size_t len, char err[YAML_MAX_ERROR]);

/* Writes every element of docs (a borrowed array) to out as one YAML
 * document each, each starting with "---". Returns 0, or -1 when out fails. */
int yaml_dump_all(const json_t *docs, FILE *out);

#endif
