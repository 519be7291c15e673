/*
 * tls.h - the serving certificate, reloadable without a restart.
 *
 * libmicrohttpd asks GnuTLS for the certificate on every handshake through
 * tls_retrieve(); a reload swaps the pair new handshakes get, while
 * connections already open keep theirs. GnuTLS passes that callback no user
 * pointer, so the current pair is the one piece of file-level state here,
 * guarded by a mutex.
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#define TLS_MAX_PEM (1024 * 1024)   /* bytes of a certificate or key file */
#define TLS_MAX_CHAIN 16            /* certificates in the chain */

/* GnuTLS priorities: TLS 1.2 and 1.3 only. TLS 1.2 offers AEAD ciphers
 * (GCM, ChaCha20-Poly1305, CCM) with ECDHE or DHE key exchange only: no CBC,
 * no SHA-1 or SHA-2 MACs, no static RSA key exchange (no forward secrecy).
 * "-MAC-ALL:+AEAD" keeps TLS 1.3's suites as they were: all of them are
 * AEAD. */
#define TLS_PRIORITIES \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-MAC-ALL:+AEAD:-RSA:%SERVER_PRECEDENCE"

/* Loads cert_file (PEM chain) and key_file (PEM key), checks that the key
 * belongs to the first certificate, and makes them the pair new handshakes
 * get. On failure the previous pair stays and err says why (lowercase).
 * Returns 0 or -1. */
int tls_load(const char *cert_file, const char *key_file, char *err, size_t errlen);

/* The not-after time of the current certificate, or 0 when none. */
time_t tls_not_after(void);

/* gnutls_certificate_retrieve_function2 for MHD_OPTION_HTTPS_CERT_CALLBACK. */
int tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
                 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
                 unsigned int *pcert_length, gnutls_privkey_t *privkey);

/* Session tickets (TLS 1.2 RFC 5077, TLS 1.3 PSK with (EC)DHE): a client
 * that comes back with a ticket resumes without the certificate's
 * signature. Tickets are sealed under a random key that lives only in this
 * process's memory (never on disk, never logged), replaced every
 * TLS_TICKET_ROTATE seconds and whenever the certificate pair is reloaded,
 * so no session made under a swapped-out pair resumes after the swap. A
 * ticket lives TLS_TICKET_ROTATE seconds at most; past that, or from
 * before a rotation, the handshake is a full one. No 0-RTT data. */
#define TLS_TICKET_ROTATE 3600

/* Lets session (a new server session, before its handshake) issue and
 * accept tickets under the current key, replacing the key first when it
 * is due. Returns 0, or -1 when no key could be made (the session then
 * works without resumption). */
int tls_session_start(gnutls_session_t session);

/* Frees every pair and the ticket key; only after the server has stopped. */
void tls_release(void);

#endif
