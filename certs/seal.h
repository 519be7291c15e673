/*
 * seal.h - the admission seal: proof that this webhook admitted a spec.
 *
 * The mutating webhook writes spec.seal, a MAC under a secret key over the
 * object's kind, name and spec (spec.generated included, spec.seal itself
 * left out) in a canonical form. Whoever holds a key can tell later,
 * without asking the policy in force now, that a spec and its children are
 * what this webhook admitted: the sync hook materialises a sealed spec.generated
 * as it is (a policy edit or an upgrade changes nothing that exists), and
 * the validating replica accepts a sealed spec.generated that its own,
 * possibly newer, policy would have rendered differently (no denial from
 * skew). Nothing else can make a seal: an object created where the webhook
 * does not run (kube-system, its own namespace) or while it was down has
 * none, and is judged afresh.
 *
 * Text: "v2:<key id>:<mac>", the key id the first 8 hex digits of
 * SHA-256(key), the mac 64 hex digits: HMAC-SHA256 over "v2:" and the
 * AES-256-GMAC (fixed IV) of the canonical form, under keys derived from
 * the seal key (certs/seal.c, mac_v2). "v1:" seals, written by releases
 * before, still verify: their mac is HMAC-SHA256 over the canonical form
 * itself, four times slower to compute. Canonical form: the JSON text of
 * {"kind", "name", "spec"} with the keys of every object in byte order and
 * no white space; strings raw UTF-8 but for \" \\ \n \t \r \b \f and
 * \u00XX (upper-case hex) for the other control characters, integers in
 * decimal (mutators/json/jsondump.c, node.c). The apiserver's own
 * re-serialisation (key order, escaping) does not matter: /validate first
 * verifies over the request's text of spec.generated (Go's escapes put
 * back, webhook/review.c), and when that fails parses it and writes it
 * again. tests/e2e/test_lifecycle.py computes it in Python.
 */
#ifndef SEAL_H
#define SEAL_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#define SEAL_MAX_KEYS 4             /* one signs; the others still verify */
#define SEAL_MAX_KEY_FILE 65536     /* bytes read of a key file */
#define SEAL_TEXT_LEN (3 + 8 + 1 + 64)

/* Keys: the first signs, every one verifies (key rotation). Immutable
 * once loaded; shared between threads. */
struct seal_keys {
    unsigned char key[SEAL_MAX_KEYS][32];
    char id[SEAL_MAX_KEYS][9];
    SHA256_CTX ipad[SEAL_MAX_KEYS], opad[SEAL_MAX_KEYS];    /* HMAC states after the pads */
    unsigned char gmac[SEAL_MAX_KEYS][32];                  /* v2's AES-256-GMAC keys */
    EVP_CIPHER *gcm;                                        /* AES-256-GCM, fetched once */
    size_t n;
};

/* Adds the key derived from the bytes of the regular file at path (any
 * secret: a random key file, or a private key in PEM): SHA-256 over a
 * fixed label and the bytes. Returns 0, or -1 with the reason in err. */
int seal_keys_add_file(struct seal_keys *keys, const char *path, char *err, size_t errlen);

/* Wipes the keys and their digest states. */
void seal_keys_release(struct seal_keys *keys);

/* The seal of an object of kind and name with spec (borrowed; its member
 * "seal" is left out) under the first key of keys (a struct seal_keys:
 * void, to serve as struct sealer's sign in mutators/kinds.h), into out
 * (SEAL_TEXT_LEN + 1 bytes). When generated is not NULL, its len bytes
 * are the canonical JSON text (node_dump_canonical) of the
 * spec.generated to seal, in place of spec's own: the mutating webhook
 * hashes the very text its patch carries. Returns 0, or -1 when there is
 * no key or memory ran out. */
int seal_sign(const void *keys, const char *kind, const char *name, const json_t *spec,
              const char *generated, size_t len, char *out);

/* 1 when seal (a string, may be NULL) is the seal of kind, name and spec
 * under one of the keys, else 0. Compared in constant time. generated as
 * in seal_sign(): a validating webhook verifies over the request's own
 * text of spec.generated, the apiserver having written it as node_dump()
 * does (when it did not, the caller falls back to the parsed value). */
int seal_verify(const void *keys, const char *kind, const char *name, const json_t *spec,
                const char *generated, size_t len, const char *seal);

#endif
