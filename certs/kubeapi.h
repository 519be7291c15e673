/*
 * kubeapi: a small Kubernetes API client for the certs subcommand.
 *
 * It reads its connection from a kubeconfig file or from the in-cluster
 * service account, speaks JSON over HTTPS with libcurl, and knows what
 * `certs` needs: read a Secret, create-or-update one, and set caBundle on
 * every webhook of an admission webhook configuration.
 *
 * Security: the API server's certificate is always verified (against the
 * configured CA when there is one, else the system store), TLS 1.2 or newer,
 * https only; `insecure-skip-tls-verify` is refused. The bearer token and
 * client key are wiped from memory on release. Every call has a timeout and
 * every response a size cap. Not thread-safe: one struct kubeapi per thread,
 * and kubeapi_init/kubeapi_release only from the main thread (they call
 * curl_global_init/curl_global_cleanup).
 */
#ifndef CERTS_KUBEAPI_H
#define CERTS_KUBEAPI_H

#include <stddef.h>

#include <curl/curl.h>

/* Largest response body accepted; a bigger one fails the request. Objects in
 * etcd are at most 1.5 MiB by default, so this leaves headroom. */
#define KUBEAPI_MAX_RESPONSE (4 * 1024 * 1024)
/* Size of struct kubeapi's error text, including the terminating NUL. */
#define KUBEAPI_ERROR_MAX 512
/* Where the in-cluster credentials are mounted. */
#define KUBEAPI_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* PEM material given either as a file (path) or inline (data, len). */
struct kubeapi_pem {
    char *path;
    unsigned char *data;
    size_t len;
};

struct kubeapi {
    char *server;              /* "https://host:port", no trailing slash */
    char *authorization;       /* "Authorization: Bearer ..." or NULL */
    struct kubeapi_pem ca;     /* trust anchor for the server; empty: system store */
    struct kubeapi_pem cert;   /* client certificate, or empty */
    struct kubeapi_pem key;    /* client key, or empty */
    CURL *curl;                /* one handle, so connections are reused */
    char error[KUBEAPI_ERROR_MAX]; /* why the last failing call failed */
};

/*
 * Loads the API connection. kubeconfig NULL: in-cluster, from
 * KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and the token and ca.crt in
 * KUBEAPI_SERVICEACCOUNT_DIR. Otherwise the current context of the kubeconfig
 * file: its cluster's server and certificate-authority(-data), its user's
 * token or tokenFile, or client-certificate(-data) with client-key(-data).
 * Relative file names are resolved against the kubeconfig's directory, as
 * kubectl does. exec and auth-provider users are refused.
 * Returns 0, or -1 with api->error set and nothing left to release.
 */
int kubeapi_init(struct kubeapi *api, const char *kubeconfig);

/* Frees what kubeapi_init allocated. Call once per successful kubeapi_init. */
void kubeapi_release(struct kubeapi *api);

/*
 * Sends one request: method ("GET", "PATCH", ...) to path (already escaped,
 * starting with "/"), with body (NUL-terminated, or NULL for none) typed
 * content_type (ignored without a body). On 0, *status is the HTTP status and
 * *response a new NUL-terminated body owned by the caller (free()), whatever
 * the status. On -1 (no answer, timeout, TLS failure, response larger than
 * KUBEAPI_MAX_RESPONSE) api->error says why and *response is NULL.
 */
int kubeapi_request(struct kubeapi *api, const char *method, const char *path,
                    const char *content_type, const char *body, long *status, char **response);

/* One data entry of a Secret: key and raw bytes (borrowed). */
struct kubeapi_bytes {
    const char *key;
    const void *data;
    size_t len;
};

enum kubeapi_outcome { KUBEAPI_UNCHANGED, KUBEAPI_CREATED, KUBEAPI_UPDATED };

/* One data entry read from a Secret: key (borrowed, set by the caller), then
 * the decoded bytes, new (wipe and free them: OPENSSL_clear_free), or NULL
 * when the Secret has no such key. */
struct kubeapi_value {
    const char *key;
    unsigned char *data;
    size_t len;
};

/*
 * Reads Secret ns/name and fills values with its data entries. Returns 0
 * when it exists, 1 when it does not (404), or -1 with api->error set: another
 * answer, a Secret of another type than type, a value that is not base64.
 * Every data pointer is NULL unless 0 is returned.
 */
int kubeapi_read_secret(struct kubeapi *api, const char *ns, const char *name, const char *type,
                        struct kubeapi_value *values, size_t n_values);

/*
 * Creates Secret ns/name of the given type holding items (base64-encoded on
 * the wire), or updates an existing one: its other keys, labels and
 * annotations are kept, and the PUT carries the resourceVersion just read, so
 * a concurrent writer makes it fail with 409 and the read-modify-write is
 * retried (a few times). An existing Secret of another type is an error (the
 * type is immutable). No write when the Secret already holds items exactly.
 * Returns 0 with *outcome set, or -1 with api->error set.
 */
int kubeapi_apply_secret(struct kubeapi *api, const char *ns, const char *name, const char *type,
                         const struct kubeapi_bytes *items, size_t n_items,
                         enum kubeapi_outcome *outcome);

/*
 * Sets clientConfig.caBundle to base64(ca) on every webhook of the
 * admissionregistration.k8s.io/v1 object resource/name, where resource is
 * "mutatingwebhookconfigurations" or "validatingwebhookconfigurations".
 * One JSON patch (application/json-patch+json): a "test" of
 * /metadata/resourceVersion, then an "add" of each differing caBundle by
 * index. The test makes the patch fail (HTTP 422) when the object changed
 * since it was read, so an index never lands on the wrong webhook; the read
 * and patch are then retried (a few times). No write when every caBundle is
 * already current. A missing object is an error.
 * Returns 0 with *updated webhooks changed out of *total, or -1 with
 * api->error set.
 */
int kubeapi_patch_ca_bundle(struct kubeapi *api, const char *resource, const char *name,
                            const void *ca, size_t ca_len, size_t *updated, size_t *total);

#endif
