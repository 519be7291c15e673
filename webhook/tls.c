/*
 * tls.c - certificate loading and hot swap.
 *
 * A swapped-out pair may still be in use by a handshake that fetched it just
 * before the swap, so it is retired, not freed: retired pairs are freed once
 * TLS_RETIRE_AFTER seconds have passed, which outlasts any handshake.
 *
 * The session-ticket key lives beside the pair under the same lock: GnuTLS
 * copies it into each session it is given to, so replacing it never
 * touches a session already started.
 */
#include "webhook/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/x509.h>

#include "mutators/json/readfile.h"

#define TLS_RETIRE_AFTER 300

struct pair {
    gnutls_pcert_st certs[TLS_MAX_CHAIN];
    unsigned int ncerts;
    gnutls_privkey_t key;
    time_t not_after;
    time_t retired_at;
    struct pair *next;        /* in the retired list */
    unsigned char digest[32]; /* SHA-256 of the files read (files_digest) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pair *current;
static struct pair *retired;
static gnutls_datum_t ticket_key;     /* gnutls_malloc'd; data NULL: make one at next use */
static time_t ticket_key_made;

/* Wipes and drops the ticket key; the next session makes a new one.
 * Called with lock held. */
static void ticket_key_drop(void)
{
    if (ticket_key.data) {
        gnutls_memset(ticket_key.data, 0, ticket_key.size);
        gnutls_free(ticket_key.data);
    }
    ticket_key.data = NULL;
    ticket_key.size = 0;
}

static void pair_free(struct pair *p)
{
    for (unsigned i = 0; i < p->ncerts; i++)
        gnutls_pcert_deinit(&p->certs[i]);
    if (p->key)
        gnutls_privkey_deinit(p->key);
    free(p);
}

/* Reads a whole regular file of at most TLS_MAX_PEM bytes into d (freed by
 * the caller through free()), never blocking on a FIFO or device at the
 * path (mutators/json/readfile.h). */
static int read_file(const char *path, gnutls_datum_t *d, char *err, size_t errlen)
{
    char *buf;
    size_t n;

    if (readfile_path(path, TLS_MAX_PEM, READFILE_SECRET, &buf, &n, err, errlen) < 0)
        return -1;
    if (n == 0) {
        snprintf(err, errlen, "%s is empty", path);
        free(buf);
        return -1;
    }
    d->data = (unsigned char *)buf;
    d->size = (unsigned int)n;
    return 0;
}

/* 1 when key is the private half of cert's public key. */
static int key_matches(gnutls_pcert_st *cert, gnutls_privkey_t key)
{
    gnutls_pubkey_t pub;
    unsigned char a[64], b[64];
    size_t alen = sizeof(a), blen = sizeof(b);
    int ok = 0;

    if (gnutls_pubkey_init(&pub) < 0)
        return 0;
    if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
        gnutls_pubkey_get_key_id(pub, 0, a, &alen) == 0 &&
        gnutls_pubkey_get_key_id(cert->pubkey, 0, b, &blen) == 0)
        ok = alen == blen && !memcmp(a, b, alen);
    gnutls_pubkey_deinit(pub);
    return ok;
}

static time_t expiry(gnutls_pcert_st *cert)
{
    gnutls_x509_crt_t crt;
    time_t t = 0;

    if (gnutls_x509_crt_init(&crt) < 0)
        return 0;
    if (gnutls_x509_crt_import(crt, &cert->cert, GNUTLS_X509_FMT_DER) == 0)
        t = gnutls_x509_crt_get_expiration_time(crt);
    gnutls_x509_crt_deinit(crt);
    return t;
}

static void free_old_retired(time_t now)
{
    struct pair **pp = &retired;

    while (*pp) {
        if (now - (*pp)->retired_at >= TLS_RETIRE_AFTER) {
            struct pair *dead = *pp;

            *pp = dead->next;
            pair_free(dead);
        } else {
            pp = &(*pp)->next;
        }
    }
}

/* The digest of a pair's files into out: both PEM texts, each after its
 * length. Returns 0, or -1. */
static int files_digest(const gnutls_datum_t *cert, const gnutls_datum_t *key, unsigned char *out)
{
    gnutls_hash_hd_t h;
    unsigned int len[2] = { cert->size, key->size };

    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0)
        return -1;
    gnutls_hash(h, len, sizeof(len));
    gnutls_hash(h, cert->data, cert->size);
    gnutls_hash(h, key->data, key->size);
    gnutls_hash_deinit(h, out);
    return 0;
}

int tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen)
{
    gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
    struct pair *p = calloc(1, sizeof(*p));
    int rc = -1, gr;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (read_file(cert_file, &cert, err, errlen) < 0 || read_file(key_file, &key, err, errlen) < 0)
        goto out;
    /* the same bytes as the pair in force (a SIGHUP for the policy): kept,
     * and with it the ticket key; a swap would retire a pair for
     * TLS_RETIRE_AFTER, ~7 KB of RSS a reload */
    if (files_digest(&cert, &key, p->digest) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&lock);
    if (current && !memcmp(current->digest, p->digest, sizeof(p->digest))) {
        pthread_mutex_unlock(&lock);
        rc = 0;
        goto out;
    }
    pthread_mutex_unlock(&lock);
    p->ncerts = TLS_MAX_CHAIN;
    gr = gnutls_pcert_list_import_x509_raw(p->certs, &p->ncerts, &cert, GNUTLS_X509_FMT_PEM, 0);
    if (gr < 0 || p->ncerts == 0) {
        p->ncerts = 0;
        snprintf(err, errlen, "%s: no usable certificate: %s", cert_file, gnutls_strerror(gr));
        goto out;
    }
    if ((gr = gnutls_privkey_init(&p->key)) < 0 ||
        (gr = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
        snprintf(err, errlen, "%s: no usable private key: %s", key_file, gnutls_strerror(gr));
        goto out;
    }
    if (!key_matches(&p->certs[0], p->key)) {
        snprintf(err, errlen, "%s does not belong to the certificate in %s", key_file, cert_file);
        goto out;
    }
    p->not_after = expiry(&p->certs[0]);
    pthread_mutex_lock(&lock);
    if (current) {
        current->retired_at = time(NULL);
        current->next = retired;
        retired = current;
    }
    current = p;
    p = NULL;
    ticket_key_drop();      /* no resumption across a swap of the pair */
    free_old_retired(time(NULL));
    pthread_mutex_unlock(&lock);
    rc = 0;
out:
    if (p)
        pair_free(p);
    free(cert.data);
    if (key.data)
        gnutls_memset(key.data, 0, key.size);    /* readfile.h: READFILE_SECRET's copy is the caller's to wipe */
    free(key.data);
    return rc;
}

time_t tls_not_after(void)
{
    time_t t;

    pthread_mutex_lock(&lock);
    t = current ? current->not_after : 0;
    pthread_mutex_unlock(&lock);
    return t;
}

int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                 unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
    int rc = -1;

    (void)session, (void)req_ca_dn, (void)nreqs, (void)pk_algos, (void)pk_algos_length;
    pthread_mutex_lock(&lock);
    if (current) {
        *pcert = current->certs;
        *pcert_length = current->ncerts;
        *privkey = current->key;
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int tls_session_start(gnutls_session_t session)
{
    time_t now = time(NULL);
    int rc = -1;

    pthread_mutex_lock(&lock);
    if (ticket_key.data && (now - ticket_key_made >= TLS_TICKET_ROTATE || now < ticket_key_made))
        ticket_key_drop();
    if (!ticket_key.data && gnutls_session_ticket_key_generate(&ticket_key) == 0)
        ticket_key_made = now;
    /* the ticket's lifetime, and the period of GnuTLS's own rotation of
     * the keys it derives from ours (lib/stek.c) */
    if (ticket_key.data && gnutls_session_ticket_enable_server(session, &ticket_key) == 0) {
        gnutls_db_set_cache_expiration(session, TLS_TICKET_ROTATE);
        rc = 0;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void tls_release(void)
{
    pthread_mutex_lock(&lock);
    ticket_key_drop();
    if (current)
        pair_free(current);
    current = NULL;
    while (retired) {
        struct pair *next = retired->next;

        pair_free(retired);
        retired = next;
    }
    pthread_mutex_unlock(&lock);
}
