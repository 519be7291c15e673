/*
 * Unit tests of certs/seal.c: the admission seal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "certs/seal.h"

static char dir[] = "/tmp/paddlex-seal-XXXXXX";

static const char *write_key(const char *name, const char *bytes)
{
    static char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(bytes, f);
    fclose(f);
    return path;
}

static void load(struct seal_keys *keys, const char *name, const char *bytes)
{
    char err[256];

    if (seal_keys_add_file(keys, write_key(name, bytes), err, sizeof(err)) < 0)
        fail_msg("%s", err);
}

static json_t *spec(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    assert_non_null(v);
    return v;
}

#define SPEC_A "{\"image\": \"r/x:1\", \"workerReplicas\": 2, \"generated\": [{\"kind\": \"Job\", \"a\": [1, \"\\u00e9\"]}]}"
/* the same spec as another serialiser writes it: other key order, escapes */
#define SPEC_A2 "{\"generated\": [{\"a\": [1, \"\\u00E9\"], \"kind\": \"Job\"}], \"workerReplicas\": 2, \"image\": \"r/x:1\"}"

static void test_round_trip(void **state)
{
    struct seal_keys keys = { .n = 0 };
    json_t *a = spec(SPEC_A), *a2 = spec(SPEC_A2);
    char seal[SEAL_TEXT_LEN + 1];

    (void)state;
    load(&keys, "k1", "0123456789abcdef0123456789abcdef");
    assert_int_equal(seal_sign(&keys, "Training", "t", a, NULL, 0, seal), 0);
    assert_int_equal(strlen(seal), SEAL_TEXT_LEN);
    assert_memory_equal(seal, "v2:", 3);
    assert_true(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    /* key order and escaping are the apiserver's business */
    assert_true(seal_verify(&keys, "Training", "t", a2, NULL, 0, seal));
    /* the seal member itself is not sealed */
    json_object_set_new(a2, "seal", json_string(seal));
    assert_true(seal_verify(&keys, "Training", "t", a2, NULL, 0, seal));
    /* another kind or name, a changed value, a forged text */
    assert_false(seal_verify(&keys, "Serving", "t", a, NULL, 0, seal));
    assert_false(seal_verify(&keys, "Training", "u", a, NULL, 0, seal));
    json_object_set_new(a, "workerReplicas", json_integer(3));
    assert_false(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    assert_false(seal_verify(&keys, "Training", "t", a2, NULL, 0, "v1:00000000:"));
    assert_false(seal_verify(&keys, "Training", "t", a2, NULL, 0, NULL));
    seal[SEAL_TEXT_LEN - 1] ^= 1;
    assert_false(seal_verify(&keys, "Training", "t", a2, NULL, 0, seal));
    seal_keys_release(&keys);
    json_decref(a);
    json_decref(a2);
}

/* A seal as releases before v2 wrote it: HMAC-SHA256 over the canonical
 * text itself, keyed as certs/seal.c derives the key. */
static void seal_v1(const char *secret, const char *canonical, char *out)
{
    static const char label[] = "paddlex-webhook admission seal v1\n";
    unsigned char key[32], id[32], md[32];
    unsigned int n = sizeof(md);
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    assert_non_null(c);
    assert_true(EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, label, strlen(label)) &&
                EVP_DigestUpdate(c, secret, strlen(secret)) && EVP_DigestFinal_ex(c, key, NULL));
    EVP_MD_CTX_free(c);
    SHA256(key, sizeof(key), id);
    assert_non_null(HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)canonical, strlen(canonical),
                         md, &n));
    strcpy(out, "v1:");
    for (int i = 0; i < 4; i++)
        sprintf(out + 3 + 2 * i, "%02x", id[i]);
    out[11] = ':';
    for (int i = 0; i < 32; i++)
        sprintf(out + 12 + 2 * i, "%02x", md[i]);
}

static void test_v1_still_verifies(void **state)
{
    static const char secret[] = "0123456789abcdef0123456789abcdef";
    struct seal_keys keys = { .n = 0 };
    json_t *a = spec(SPEC_A2);
    char seal[SEAL_TEXT_LEN + 1], v2[SEAL_TEXT_LEN + 1];

    (void)state;
    load(&keys, "k1", secret);
    seal_v1(secret, "{\"kind\":\"Training\",\"name\":\"t\",\"spec\":{\"generated\":[{\"a\":[1,\"\xc3\xa9\"],"
                    "\"kind\":\"Job\"}],\"image\":\"r/x:1\",\"workerReplicas\":2}}", seal);
    assert_int_equal(strlen(seal), SEAL_TEXT_LEN);
    assert_true(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    /* the version names the mac: a v1 mac under v2, or v3, is nothing */
    assert_int_equal(seal_sign(&keys, "Training", "t", a, NULL, 0, v2), 0);
    assert_memory_not_equal(v2 + 12, seal + 12, 64);
    seal[1] = '2';
    assert_false(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    seal[1] = '3';
    assert_false(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    v2[1] = '1';
    assert_false(seal_verify(&keys, "Training", "t", a, NULL, 0, v2));
    seal[1] = '1';
    json_object_set_new(a, "workerReplicas", json_integer(3));
    assert_false(seal_verify(&keys, "Training", "t", a, NULL, 0, seal));
    seal_keys_release(&keys);
    json_decref(a);
}

/* Key order never matters, for objects sorted by insertion or by qsort. */
static void test_member_order(void **state)
{
    struct seal_keys keys = { .n = 0 };
    json_t *up = json_object(), *down = json_object();
    char seal[SEAL_TEXT_LEN + 1], key[16];

    (void)state;
    load(&keys, "k1", "0123456789abcdef0123456789abcdef");
    for (int n = 0; n < 2; n++) {
        json_t *a = json_object(), *b = json_object();
        int members = n ? 200 : 20;     /* either side of SEAL_INSERTION_MAX */

        for (int i = 0; i < members; i++) {
            snprintf(key, sizeof(key), "k%d", i);
            json_object_set_new(a, key, json_integer(i));
            snprintf(key, sizeof(key), "k%d", members - 1 - i);
            json_object_set_new(b, key, json_integer(members - 1 - i));
        }
        json_object_set_new(up, n ? "many" : "few", a);
        json_object_set_new(down, n ? "many" : "few", b);
    }
    assert_int_equal(seal_sign(&keys, "Training", "t", up, NULL, 0, seal), 0);
    assert_true(seal_verify(&keys, "Training", "t", down, NULL, 0, seal));
    json_object_set_new(json_object_get(down, "many"), "k7", json_integer(8));
    assert_false(seal_verify(&keys, "Training", "t", down, NULL, 0, seal));
    seal_keys_release(&keys);
    json_decref(up);
    json_decref(down);
}

static void test_keys(void **state)
{
    struct seal_keys old = { .n = 0 }, rotated = { .n = 0 }, other = { .n = 0 };
    json_t *a = spec(SPEC_A);
    char seal[SEAL_TEXT_LEN + 1], err[256];

    (void)state;
    load(&old, "old", "old secret, 32 bytes long......");
    assert_int_equal(seal_sign(&old, "Training", "t", a, NULL, 0, seal), 0);
    /* a new key signs, the previous one still verifies */
    load(&rotated, "new", "new secret, 32 bytes long......");
    load(&rotated, "old", "old secret, 32 bytes long......");
    assert_true(seal_verify(&rotated, "Training", "t", a, NULL, 0, seal));
    load(&other, "other", "another secret of enough length");
    assert_false(seal_verify(&other, "Training", "t", a, NULL, 0, seal));
    seal_keys_release(&old);
    seal_keys_release(&rotated);
    seal_keys_release(&other);
    /* no key: nothing signs, nothing verifies */
    assert_int_equal(seal_sign(&other, "Training", "t", a, NULL, 0, seal), -1);
    assert_false(seal_verify(NULL, "Training", "t", a, NULL, 0, seal));
    /* too short, missing, not a regular file (a FIFO would block) */
    assert_int_equal(seal_keys_add_file(&other, write_key("short", "tiny"), err, sizeof(err)), -1);
    assert_non_null(strstr(err, "at least 16 bytes"));
    assert_int_equal(seal_keys_add_file(&other, "/nonexistent/key", err, sizeof(err)), -1);
    snprintf(err, sizeof(err), "%s/fifo", dir);
    assert_int_equal(mkfifo(err, 0600), 0);
    {
        char path[256];

        snprintf(path, sizeof(path), "%s", err);
        assert_int_equal(seal_keys_add_file(&other, path, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "not a regular file"));
        unlink(path);
    }
    assert_int_equal(other.n, 0);
    json_decref(a);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_v1_still_verifies),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_keys),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
