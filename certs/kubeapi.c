/*
 * kubeapi: a small Kubernetes API client (see kubeapi.h for the contract).
 */
#include "certs/kubeapi.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "mutators/json/readfile.h"

#define TIMEOUT_MS 10000         /* whole request */
#define CONNECT_TIMEOUT_MS 5000  /* TCP + TLS handshake */
#define MAX_TOKEN 16384          /* bearer token read from a file */
#define MAX_URL 2048
#define MAX_PATH_TEXT 512        /* API paths built here */
#define RETRIES 3                /* read-modify-write attempts on conflict */
#define BEARER "Authorization: Bearer "

__attribute__((format(printf, 2, 3)))
static int fail(struct kubeapi *api, const char *fmt, ...)
{
    va_list ap;

    /* Truncation only shortens the message, which is acceptable here. */
    va_start(ap, fmt);
    vsnprintf(api->error, sizeof api->error, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- base64 (Secret data and caBundle are []byte: base64 in JSON) ---- */

/* Returns a new NUL-terminated base64 text of data, or NULL. */
static char *base64_encode(const void *data, size_t len)
{
    char *out;

    if (len > INT_MAX / 2)
        return NULL;
    out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

/* Decodes text (line breaks allowed) into new bytes *out (free()). 0/-1. */
static int base64_decode(const char *text, unsigned char **out, size_t *out_len)
{
    size_t len = strlen(text);
    EVP_ENCODE_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    int n, tail, rc = -1;

    if (len > INT_MAX / 2 || !(ctx = EVP_ENCODE_CTX_new()) || !(buf = malloc(len / 4 * 3 + 4)))
        goto out;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, buf, &n, (const unsigned char *)text, (int)len) < 0 ||
        EVP_DecodeFinal(ctx, buf + n, &tail) != 1)
        goto out;
    *out = buf;
    *out_len = (size_t)n + (size_t)tail;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    EVP_ENCODE_CTX_free(ctx);
    return rc;
}

/* ---- configuration ---- */

/* Returns dir/name as a new string (name itself when absolute or dir NULL). */
static char *path_join(const char *dir, const char *name)
{
    size_t n;
    char *path;

    if (!dir || name[0] == '/')
        return strdup(name);
    n = strlen(dir) + strlen(name) + 2;
    path = malloc(n);
    if (path && (size_t)snprintf(path, n, "%s/%s", dir, name) >= n) {
        free(path);
        path = NULL;
    }
    return path;
}

static int set_server(struct kubeapi *api, const char *server)
{
    size_t len;

    if (!server || strncmp(server, "https://", 8) != 0)
        return fail(api, "api server %.200s is not an https:// url", server ? server : "(none)");
    len = strlen(server);
    while (len > 8 && server[len - 1] == '/')
        len--;
    api->server = strndup(server, len);
    return api->server ? 0 : fail(api, "out of memory");
}

/* Builds the Authorization header; the token must be a header-safe word. */
static int set_token(struct kubeapi *api, const char *token)
{
    size_t i, n = strlen(BEARER) + strlen(token) + 1;

    if (token[0] == '\0')
        return fail(api, "empty bearer token");
    for (i = 0; token[i]; i++)
        if (token[i] <= ' ' || token[i] > '~')
            return fail(api, "bearer token holds a character not allowed in a header");
    api->authorization = malloc(n);
    if (!api->authorization)
        return fail(api, "out of memory");
    if ((size_t)snprintf(api->authorization, n, BEARER "%s", token) >= n)
        return fail(api, "bearer token too long");
    return 0;
}

/* Reads a token file (at most MAX_TOKEN bytes, trailing whitespace dropped). */
static int read_token(struct kubeapi *api, const char *path)
{
    char err[READFILE_MAX_ERROR], *buf = NULL;
    size_t n, all;
    int rc;

    if (readfile_path(path, MAX_TOKEN, READFILE_SECRET, &buf, &n, err, sizeof(err)) < 0)
        return errno == EFBIG    ? fail(api, "%s: token longer than %d bytes", path, MAX_TOKEN)
               : errno == EINVAL ? fail(api, "%s", err)
                                 : fail(api, "%s: %s", path, strerror(errno));
    all = n;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    rc = set_token(api, buf);
    OPENSSL_cleanse(buf, all);
    free(buf);
    return rc;
}

static void pem_release(struct kubeapi_pem *pem)
{
    free(pem->path);
    OPENSSL_clear_free(pem->data, pem->len);
    memset(pem, 0, sizeof *pem);
}

/* ---- kubeconfig (YAML, or JSON which is YAML too) ---- */

/* Value of key in mapping node map, or NULL. */
static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pair;

    if (!map || map->type != YAML_MAPPING_NODE)
        return NULL;
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *k = yaml_document_get_node(doc, pair->key);

        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(doc, pair->value);
    }
    return NULL;
}

/* Text of a scalar node, or NULL. */
static const char *scalar(yaml_node_t *node)
{
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* In a kubeconfig list ("clusters", "users", ...) of {name, <field>} entries,
 * the <field> of the entry called name, or NULL. */
static yaml_node_t *find_named(yaml_document_t *doc, yaml_node_t *root, const char *list,
                               const char *name, const char *field)
{
    yaml_node_t *seq = map_get(doc, root, list);
    yaml_node_item_t *item;

    if (!name || !seq || seq->type != YAML_SEQUENCE_NODE)
        return NULL;
    for (item = seq->data.sequence.items.start; item < seq->data.sequence.items.top; item++) {
        yaml_node_t *entry = yaml_document_get_node(doc, *item);
        const char *entry_name = scalar(map_get(doc, entry, "name"));

        if (entry_name && strcmp(entry_name, name) == 0)
            return map_get(doc, entry, field);
    }
    return NULL;
}

/* Fills pem from "<field>-data" (base64) or "<field>" (a file name) of map. */
static int load_pem(struct kubeapi *api, yaml_document_t *doc, yaml_node_t *map, const char *field,
                    const char *dir, struct kubeapi_pem *pem)
{
    char data_key[64];
    const char *data, *file;

    if ((size_t)snprintf(data_key, sizeof data_key, "%s-data", field) >= sizeof data_key)
        return fail(api, "kubeconfig field name too long");
    data = scalar(map_get(doc, map, data_key));
    file = scalar(map_get(doc, map, field));
    if (data && *data) {
        if (base64_decode(data, &pem->data, &pem->len) < 0)
            return fail(api, "kubeconfig %s is not valid base64", data_key);
    } else if (file && *file) {
        if (!(pem->path = path_join(dir, file)))
            return fail(api, "out of memory");
    }
    return 0;
}

static int load_cluster(struct kubeapi *api, yaml_document_t *doc, yaml_node_t *cluster, const char *dir)
{
    const char *insecure = scalar(map_get(doc, cluster, "insecure-skip-tls-verify"));

    if (insecure && strcmp(insecure, "true") == 0)
        return fail(api, "kubeconfig cluster sets insecure-skip-tls-verify, which is refused");
    if (set_server(api, scalar(map_get(doc, cluster, "server"))) < 0)
        return -1;
    return load_pem(api, doc, cluster, "certificate-authority", dir, &api->ca);
}

static int load_user(struct kubeapi *api, yaml_document_t *doc, yaml_node_t *user, const char *dir)
{
    const char *token = scalar(map_get(doc, user, "token"));
    const char *token_file = scalar(map_get(doc, user, "tokenFile"));
    char *path;
    int rc;

    if (map_get(doc, user, "exec") || map_get(doc, user, "auth-provider"))
        return fail(api, "kubeconfig user uses exec or auth-provider credentials, which are not supported");
    if (load_pem(api, doc, user, "client-certificate", dir, &api->cert) < 0 ||
        load_pem(api, doc, user, "client-key", dir, &api->key) < 0)
        return -1;
    if (!(api->cert.path || api->cert.data) != !(api->key.path || api->key.data))
        return fail(api, "kubeconfig user needs both client-certificate and client-key");
    if (token && *token)
        return set_token(api, token);
    if (!token_file || !*token_file)
        return 0;
    if (!(path = path_join(dir, token_file)))
        return fail(api, "out of memory");
    rc = read_token(api, path);
    free(path);
    return rc;
}

/* Loads the current context's cluster and user from a parsed kubeconfig. */
static int load_context(struct kubeapi *api, yaml_document_t *doc, const char *dir)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    const char *current = scalar(map_get(doc, root, "current-context"));
    yaml_node_t *context, *cluster, *user;

    if (!current || !*current)
        return fail(api, "kubeconfig has no current-context");
    context = find_named(doc, root, "contexts", current, "context");
    if (!context)
        return fail(api, "kubeconfig context %.100s not found", current);
    cluster = find_named(doc, root, "clusters", scalar(map_get(doc, context, "cluster")), "cluster");
    if (!cluster)
        return fail(api, "kubeconfig cluster of context %.100s not found", current);
    user = find_named(doc, root, "users", scalar(map_get(doc, context, "user")), "user");
    if (load_cluster(api, doc, cluster, dir) < 0)
        return -1;
    return user ? load_user(api, doc, user, dir) : 0;
}

static int load_kubeconfig(struct kubeapi *api, const char *path)
{
    const char *slash = strrchr(path, '/');
    yaml_parser_t parser;
    yaml_document_t doc;
    char *dir = NULL;
    FILE *f;
    int rc = -1;

    f = fopen(path, "re");
    if (!f)
        return fail(api, "%s: %s", path, strerror(errno));
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return fail(api, "out of memory");
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        fail(api, "%s: line %zu: %s", path, parser.problem_mark.line + 1,
             parser.problem ? parser.problem : "invalid yaml");
        goto out_parser;
    }
    dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    rc = dir ? load_context(api, &doc, dir) : fail(api, "out of memory");
    free(dir);
    yaml_document_delete(&doc);
out_parser:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static int load_in_cluster(struct kubeapi *api)
{
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    int v6 = host && strchr(host, ':') != NULL;
    char url[MAX_URL];

    if (!host || !*host || !port || !*port)
        return fail(api, "not in a cluster (KUBERNETES_SERVICE_HOST and _PORT unset): give --kubeconfig");
    if ((size_t)snprintf(url, sizeof url, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) >=
        sizeof url)
        return fail(api, "KUBERNETES_SERVICE_HOST too long");
    if (set_server(api, url) < 0)
        return -1;
    if (!(api->ca.path = strdup(KUBEAPI_SERVICEACCOUNT_DIR "/ca.crt")))
        return fail(api, "out of memory");
    return read_token(api, KUBEAPI_SERVICEACCOUNT_DIR "/token");
}

int kubeapi_init(struct kubeapi *api, const char *kubeconfig)
{
    memset(api, 0, sizeof *api);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return fail(api, "cannot initialise libcurl");
    if (!(api->curl = curl_easy_init()))
        fail(api, "cannot initialise libcurl");
    else if ((kubeconfig ? load_kubeconfig(api, kubeconfig) : load_in_cluster(api)) == 0)
        return 0;
    kubeapi_release(api);
    return -1;
}

void kubeapi_release(struct kubeapi *api)
{
    curl_easy_cleanup(api->curl);
    api->curl = NULL;
    curl_global_cleanup();
    free(api->server);
    api->server = NULL;
    if (api->authorization)
        OPENSSL_clear_free(api->authorization, strlen(api->authorization));
    api->authorization = NULL;
    pem_release(&api->ca);
    pem_release(&api->cert);
    pem_release(&api->key);
}

/* ---- requests ---- */

struct response {
    char *data;
    size_t len;
    int too_big;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct response *r = userdata;
    size_t n = size * nmemb;
    char *grown;

    if (n > KUBEAPI_MAX_RESPONSE - r->len) {
        r->too_big = 1;
        return 0;
    }
    grown = realloc(r->data, r->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->len, ptr, n);
    r->data = grown;
    r->len += n;
    r->data[r->len] = '\0';
    return n;
}

/* Points curl at pem, inline or from a file; an empty pem sets nothing. */
static CURLcode set_pem(CURL *curl, const struct kubeapi_pem *pem, CURLoption file_opt, CURLoption blob_opt)
{
    struct curl_blob blob = {pem->data, pem->len, CURL_BLOB_COPY};

    if (pem->data)
        return curl_easy_setopt(curl, blob_opt, &blob);
    if (pem->path)
        return curl_easy_setopt(curl, file_opt, pem->path);
    return CURLE_OK;
}

/* The TLS settings. A failure must stop the request: ignoring one could
 * silently fall back to a weaker trust. */
static CURLcode set_tls(struct kubeapi *api)
{
    CURL *c = api->curl;
    CURLcode cc;

    if ((cc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https")) ||
        (cc = curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2)) ||
        (cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L)) ||
        (cc = curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L)) ||
        (cc = set_pem(c, &api->cert, CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB)) ||
        (cc = set_pem(c, &api->key, CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB)))
        return cc;
    if (!api->ca.path && !api->ca.data)
        return CURLE_OK;
    /* Trust the configured CA only: no system directory beside it. */
    if ((cc = curl_easy_setopt(c, CURLOPT_CAPATH, NULL)))
        return cc;
    return set_pem(c, &api->ca, CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB);
}

static int add_header(struct curl_slist **headers, const char *header)
{
    struct curl_slist *grown = curl_slist_append(*headers, header);

    if (!grown)
        return -1;
    *headers = grown;
    return 0;
}

int kubeapi_request(struct kubeapi *api, const char *method, const char *path,
                    const char *content_type, const char *body, long *status, char **response)
{
    struct curl_slist *headers = NULL;
    struct response r = {0};
    char url[MAX_URL], ctype[128], curl_error[CURL_ERROR_SIZE] = "";
    CURL *c = api->curl;
    CURLcode cc;
    int rc = -1;

    *response = NULL;
    if ((size_t)snprintf(url, sizeof url, "%s%s", api->server, path) >= sizeof url) {
        fail(api, "url too long");
        goto out;
    }
    if (body && (size_t)snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type) >= sizeof ctype) {
        fail(api, "content type too long");
        goto out;
    }
    /* "Expect:" stops curl from waiting for a 100 Continue on large bodies. */
    if (add_header(&headers, "Accept: application/json") < 0 || add_header(&headers, "Expect:") < 0 ||
        (body && add_header(&headers, ctype) < 0) ||
        (api->authorization && add_header(&headers, api->authorization) < 0)) {
        fail(api, "out of memory");
        goto out;
    }
    curl_easy_reset(c);
    if ((cc = set_tls(api)) != CURLE_OK) {
        fail(api, "cannot configure tls: %s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    cc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    if (r.too_big) {
        fail(api, "%s %s: response larger than %d bytes", method, path, KUBEAPI_MAX_RESPONSE);
        goto out;
    }
    if (cc != CURLE_OK) {
        fail(api, "%s %s: %s", method, path, curl_error[0] ? curl_error : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    *response = r.data ? r.data : strdup("");
    if (!*response) {
        fail(api, "out of memory");
        goto out;
    }
    r.data = NULL;
    rc = 0;
out:
    free(r.data);
    curl_slist_free_all(headers);
    return rc;
}

/* Sends body (borrowed, or NULL) as JSON; *reply is the parsed answer (new
 * reference), NULL when the answer is not JSON. */
static int request_json(struct kubeapi *api, const char *method, const char *path, const char *content_type,
                        const json_t *body, long *status, json_t **reply)
{
    char *text = NULL, *response = NULL;
    int rc = -1;

    *reply = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT))) {
        fail(api, "out of memory");
        goto out;
    }
    if (kubeapi_request(api, method, path, content_type, text, status, &response) < 0)
        goto out;
    *reply = json_loads(response, JSON_REJECT_DUPLICATES, NULL);
    rc = 0;
out:
    free(text);
    free(response);
    return rc;
}

/* Sets api->error for an unexpected answer, quoting the apiserver's Status
 * message (clipped). Returns -1. */
static int unexpected(struct kubeapi *api, const char *what, long status, const json_t *reply)
{
    const char *message = json_string_value(json_object_get(reply, "message"));

    return fail(api, "%s: http %ld%s%.200s", what, status, message ? ": " : "", message ? message : "");
}

/* Sends a write. Returns 0 on 2xx; else -1 with api->error set and *status
 * the HTTP status (0 without an answer) for the caller to decide on a retry. */
static int write_object(struct kubeapi *api, const char *what, const char *method, const char *path,
                        const char *content_type, const json_t *body, long *status)
{
    json_t *reply = NULL;
    int rc = -1;

    *status = 0;
    if (request_json(api, method, path, content_type, body, status, &reply) < 0)
        goto out;
    if (*status >= 200 && *status < 300)
        rc = 0;
    else
        unexpected(api, what, *status, reply);
out:
    json_decref(reply);
    return rc;
}

/* GETs path into *obj (new reference): 0 when found, 1 when 404, else -1. */
static int read_object(struct kubeapi *api, const char *what, const char *path, json_t **obj)
{
    long status;

    if (request_json(api, "GET", path, NULL, NULL, &status, obj) < 0)
        return -1;
    if (status == 200 && json_is_object(*obj))
        return 0;
    if (status == 404)
        return 1;
    return unexpected(api, what, status, *obj);
}

/* ---- Secret ---- */

/* Returns a new {key: base64} object of items, or NULL. */
static json_t *encode_items(const struct kubeapi_bytes *items, size_t n)
{
    json_t *data = json_object();
    size_t i;

    for (i = 0; data && i < n; i++) {
        char *text = base64_encode(items[i].data, items[i].len);

        if (!text || json_object_set_new(data, items[i].key, json_string(text)) < 0) {
            json_decref(data);
            data = NULL;
        }
        free(text);
    }
    return data;
}

/* Does every entry of want appear, equal, in have? */
static int holds_all(const json_t *have, const json_t *want)
{
    const char *key;
    json_t *value;

    json_object_foreach((json_t *)want, key, value)
        if (!json_equal(json_object_get(have, key), value))
            return 0;
    return 1;
}

/* The API paths of Secret ns/name: its collection, itself, and "secret
 * ns/name" for messages. */
struct secret_paths {
    char collection[MAX_PATH_TEXT], path[MAX_PATH_TEXT], what[MAX_PATH_TEXT];
};

static int secret_paths(struct kubeapi *api, const char *ns, const char *name, struct secret_paths *p)
{
    if ((size_t)snprintf(p->collection, sizeof p->collection, "/api/v1/namespaces/%s/secrets", ns) >=
            sizeof p->collection ||
        (size_t)snprintf(p->path, sizeof p->path, "%s/%s", p->collection, name) >= sizeof p->path ||
        (size_t)snprintf(p->what, sizeof p->what, "secret %s/%s", ns, name) >= sizeof p->what)
        return fail(api, "secret name too long");
    return 0;
}

/* A Secret's type cannot change, so one of another type is an error. */
static int check_type(struct kubeapi *api, const json_t *secret, const char *what, const char *type)
{
    const char *have = json_string_value(json_object_get(secret, "type"));

    if (have && strcmp(have, type) == 0)
        return 0;
    return fail(api, "%s has type %.100s, not %s, and a type cannot change: delete it first", what,
                have ? have : "(none)", type);
}

int kubeapi_read_secret(struct kubeapi *api, const char *ns, const char *name, const char *type,
                        struct kubeapi_value *values, size_t n_values)
{
    struct secret_paths p;
    json_t *secret = NULL, *data;
    size_t i;
    int rc;

    for (i = 0; i < n_values; i++) {
        values[i].data = NULL;
        values[i].len = 0;
    }
    if (secret_paths(api, ns, name, &p) < 0)
        return -1;
    if ((rc = read_object(api, p.what, p.path, &secret)) != 0)
        goto out;
    rc = check_type(api, secret, p.what, type);
    data = json_object_get(secret, "data");
    for (i = 0; rc == 0 && i < n_values; i++) {
        const char *text = json_string_value(json_object_get(data, values[i].key));

        if (text && base64_decode(text, &values[i].data, &values[i].len) < 0)
            rc = fail(api, "%s: data[%s] is not base64", p.what, values[i].key);
    }
    for (i = 0; rc < 0 && i < n_values; i++) {
        if (values[i].data)
            OPENSSL_clear_free(values[i].data, values[i].len);
        values[i].data = NULL;
        values[i].len = 0;
    }
out:
    json_decref(secret);
    return rc;
}

/* Builds the write for one attempt: a new Secret (POST to the collection)
 * when current is NULL, else current updated in place (PUT, carrying its
 * resourceVersion). *outcome says which, KUBEAPI_UNCHANGED meaning nothing to
 * write. Returns the body (new reference), or NULL with api->error set. */
static json_t *secret_write(struct kubeapi *api, json_t *current, const char *what, const char *ns,
                            const char *name, const char *type, json_t *data, enum kubeapi_outcome *outcome)
{
    json_t *have_data = json_object_get(current, "data");
    json_t *body = NULL;

    if (!current) {
        *outcome = KUBEAPI_CREATED;
        body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:O}", "apiVersion", "v1", "kind", "Secret", "metadata",
                         "name", name, "namespace", ns, "type", type, "data", data);
    } else if (check_type(api, current, what, type) < 0) {
        return NULL;
    } else if (holds_all(have_data, data)) {
        *outcome = KUBEAPI_UNCHANGED;
        body = json_incref(current);
    } else if ((json_is_object(have_data) ? json_object_update(have_data, data)
                                          : json_object_set(current, "data", data)) == 0) {
        *outcome = KUBEAPI_UPDATED;
        body = json_incref(current);
    }
    if (!body)
        fail(api, "out of memory");
    return body;
}

int kubeapi_apply_secret(struct kubeapi *api, const char *ns, const char *name, const char *type,
                         const struct kubeapi_bytes *items, size_t n_items, enum kubeapi_outcome *outcome)
{
    struct secret_paths p;
    json_t *data = NULL, *current = NULL, *body = NULL;
    int attempt, found, rc = -1;
    long status;

    if (secret_paths(api, ns, name, &p) < 0)
        return -1;
    if (!(data = encode_items(items, n_items)))
        return fail(api, "out of memory");
    for (attempt = 1;; attempt++) {
        json_decref(current);
        json_decref(body);
        current = body = NULL;
        if ((found = read_object(api, p.what, p.path, &current)) < 0)
            goto out;
        if (!(body = secret_write(api, found == 0 ? current : NULL, p.what, ns, name, type, data, outcome)))
            goto out;
        if (*outcome == KUBEAPI_UNCHANGED ||
            write_object(api, p.what, found == 0 ? "PUT" : "POST", found == 0 ? p.path : p.collection,
                         "application/json", body, &status) == 0) {
            rc = 0;
            goto out;
        }
        /* 409: changed since read (PUT) or created meanwhile (POST). */
        if (status != 409 || attempt == RETRIES)
            goto out;
    }
out:
    json_decref(body);
    json_decref(current);
    json_decref(data);
    return rc;
}

/* ---- webhook configurations ---- */

/* Returns the JSON patch that sets bundle on each webhook of obj whose
 * caBundle differs, after a test of the resourceVersion read; NULL on a
 * malformed object or no memory. */
static json_t *ca_bundle_patch(const json_t *obj, json_t *bundle, size_t *updated, size_t *total)
{
    json_t *version = json_object_get(json_object_get(obj, "metadata"), "resourceVersion");
    json_t *webhooks = json_object_get(obj, "webhooks");
    json_t *patch, *hook;
    char pointer[64];
    size_t i;

    *updated = 0;
    *total = json_array_size(webhooks);
    patch = json_pack("[{s:s, s:s, s:O}]", "op", "test", "path", "/metadata/resourceVersion", "value", version);
    json_array_foreach(webhooks, i, hook) {
        if (!patch)
            break;
        if (json_equal(json_object_get(json_object_get(hook, "clientConfig"), "caBundle"), bundle))
            continue;
        (*updated)++;
        if ((size_t)snprintf(pointer, sizeof pointer, "/webhooks/%zu/clientConfig/caBundle", i) >= sizeof pointer ||
            json_array_append_new(patch, json_pack("{s:s, s:s, s:O}", "op", "add", "path", pointer, "value",
                                                   bundle)) < 0) {
            json_decref(patch);
            patch = NULL;
        }
    }
    return patch;
}

int kubeapi_patch_ca_bundle(struct kubeapi *api, const char *resource, const char *name,
                            const void *ca, size_t ca_len, size_t *updated, size_t *total)
{
    char path[MAX_PATH_TEXT], what[MAX_PATH_TEXT], *text;
    json_t *bundle = NULL, *current = NULL, *patch = NULL;
    int attempt, found, rc = -1;
    long status;

    if ((size_t)snprintf(path, sizeof path, "/apis/admissionregistration.k8s.io/v1/%s/%s", resource, name) >=
            sizeof path ||
        (size_t)snprintf(what, sizeof what, "%s/%s", resource, name) >= sizeof what)
        return fail(api, "webhook configuration name too long");
    text = base64_encode(ca, ca_len);
    bundle = text ? json_string(text) : NULL;
    free(text);
    if (!bundle)
        return fail(api, "out of memory");
    for (attempt = 1;; attempt++) {
        json_decref(current);
        json_decref(patch);
        current = patch = NULL;
        if ((found = read_object(api, what, path, &current)) != 0) {
            if (found > 0)
                fail(api, "%s not found", what);
            goto out;
        }
        if (!(patch = ca_bundle_patch(current, bundle, updated, total))) {
            fail(api, "%s: cannot build a patch (no resourceVersion?)", what);
            goto out;
        }
        if (*updated == 0 ||
            write_object(api, what, "PATCH", path, "application/json-patch+json", patch, &status) == 0) {
            rc = 0;
            goto out;
        }
        /* 422 is how the apiserver answers a failed "test" operation. */
        if ((status != 409 && status != 422) || attempt == RETRIES)
            goto out;
    }
out:
    json_decref(patch);
    json_decref(current);
    json_decref(bundle);
    return rc;
}
