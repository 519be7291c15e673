/*
 * main.c - paddlex-webhook: subcommand dispatch and the serve/review options.
 *
 *   paddlex-webhook serve --tls-cert FILE --tls-key FILE [--listen ADDR:PORT] ...
 *   paddlex-webhook review mutate|validate [--policy FILE] < review.json
 *   paddlex-webhook render [--policy FILE] [-o yaml|json] FILE|-...
 *   paddlex-webhook certs --service NAME --namespace NS --out-dir DIR ...
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certs/certgen.h"
#include "mutators/json/arena.h"
#include "mutators/json/readfile.h"
#include "mutators/policy.h"
#include "webhook/log.h"
#include "certs/seal.h"
#include "mutators/kinds.h"
#include "webhook/policyfile.h"
#include "webhook/render.h"
#include "webhook/review.h"
#include "webhook/server.h"

#define EXIT_USAGE 2

/* The serve options as data: name, where it goes, and its bounds. */
enum opt_type { OPT_STRING, OPT_UINT, OPT_SIZE, OPT_LOG_LEVEL };

static const struct option_spec {
    const char *name;
    enum opt_type type;
    size_t offset;              /* in struct server_config */
    unsigned long long min, max;
    const char *help;
} serve_options[] = {
    { "listen", OPT_STRING, offsetof(struct server_config, listen), 0, 0,
      "ADDR:PORT to listen on (default 0.0.0.0:8443)" },
    { "sync-listen", OPT_STRING, offsetof(struct server_config, sync_listen), 0, 0,
      "ADDR:PORT for /sync, /customize, /healthz over plain HTTP (default: off)" },
    { "tls-cert", OPT_STRING, offsetof(struct server_config, cert_file), 0, 0,
      "PEM certificate chain (re-read when it changes)" },
    { "tls-key", OPT_STRING, offsetof(struct server_config, key_file), 0, 0,
      "PEM private key (re-read when it changes)" },
    { "policy", OPT_STRING, offsetof(struct server_config, policy_file), 0, 0,
      "policy file, YAML or JSON (re-read when it changes)" },
    { "seal-key", OPT_STRING, offsetof(struct server_config, seal_key_file), 0, 0,
      "secret file keying the admission seals (default: derived from --tls-key)" },
    { "seal-key-previous", OPT_STRING, offsetof(struct server_config, seal_key_previous), 0, 0,
      "a former --seal-key: its seals still verify" },
    { "max-body", OPT_SIZE, offsetof(struct server_config, max_body), 1024, 64ULL << 20,
      "largest request body in bytes (default 3 MiB)" },
    { "max-buffered", OPT_SIZE, offsetof(struct server_config, max_buffered), 1ULL << 20, 1ULL << 34,
      "bytes of all request bodies held at once; past it 503 (default 24 MiB)" },
    { "threads", OPT_UINT, offsetof(struct server_config, threads), 0, 256,
      "worker threads (default: one per usable core)" },
    { "max-connections", OPT_UINT, offsetof(struct server_config, max_connections), 1, 65536,
      "open connections at once (default 1024)" },
    { "connection-timeout", OPT_UINT, offsetof(struct server_config, connection_timeout), 1, 3600,
      "seconds a connection may idle (default 30)" },
    { "request-timeout", OPT_UINT, offsetof(struct server_config, request_timeout), 1, 3600,
      "seconds from a request's first byte to its answer taken (default 10)" },
    { "header-timeout", OPT_UINT, offsetof(struct server_config, header_timeout), 1, 3600,
      "seconds to a complete request head, TLS handshake included (default 5)" },
    { "min-body-rate", OPT_SIZE, offsetof(struct server_config, min_body_rate), 1024, 1ULL << 34,
      "bytes per second a body must keep up after --header-timeout (default 1 MiB)" },
    { "max-connections-per-address", OPT_UINT, offsetof(struct server_config, max_per_address), 0, 65536,
      "unanswered connections one client address may hold (default: a quarter of --max-connections)" },
    { "reload-interval", OPT_UINT, offsetof(struct server_config, reload_interval_ms), 50, 60000,
      "milliseconds between checks of the certificate and policy files (default 1000; SIGHUP: now)" },
    { "shutdown-delay", OPT_UINT, offsetof(struct server_config, shutdown_delay), 0, 300,
      "seconds to keep serving with /readyz 503 after SIGTERM (default 0)" },
    { "drain-timeout", OPT_UINT, offsetof(struct server_config, drain_timeout), 0, 300,
      "seconds the requests in flight get to finish after that (default 10)" },
    { "log-level", OPT_LOG_LEVEL, 0, 0, 0, "debug, info, warn or error (default info)" },
};

#define NSERVE (sizeof(serve_options) / sizeof(serve_options[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: paddlex-webhook <command> [options]\n\n"
               "commands:\n"
               "  serve     serve /mutate, /validate, /healthz, /readyz, /metrics over HTTPS\n"
               "  review    review mutate|validate [--policy FILE]: one AdmissionReview on stdin\n"
               "  render    render [--policy FILE] [-o yaml|json] FILE|-...: print CRs and children\n"
               "  certs     create a CA and a serving certificate (see certs --help)\n"
               "  version   print the version\n\n"
               "serve options:\n");
    for (size_t i = 0; i < NSERVE; i++)
        fprintf(f, "  --%-20s %s\n", serve_options[i].name, serve_options[i].help);
}

static int parse_number(const struct option_spec *o, const char *arg, unsigned long long *out)
{
    char *end;

    errno = 0;
    *out = strtoull(arg, &end, 10);
    if (errno || end == arg || *end || arg[0] == '-' || *out < o->min || *out > o->max) {
        fprintf(stderr, "paddlex-webhook: --%s %s: want a whole number from %llu to %llu\n",
                o->name, arg, o->min, o->max);
        return -1;
    }
    return 0;
}

static int set_option(struct server_config *cfg, const struct option_spec *o, const char *arg)
{
    char *field = (char *)cfg + o->offset;
    unsigned long long n;
    enum log_level level;

    switch (o->type) {
    case OPT_STRING:
        *(const char **)field = arg;
        return 0;
    case OPT_UINT:
        if (parse_number(o, arg, &n) < 0)
            return -1;
        *(unsigned *)field = (unsigned)n;
        return 0;
    case OPT_SIZE:
        if (parse_number(o, arg, &n) < 0)
            return -1;
        *(size_t *)field = (size_t)n;
        return 0;
    case OPT_LOG_LEVEL:
        if (log_parse_level(arg, &level) < 0) {
            fprintf(stderr, "paddlex-webhook: --log-level %s: want debug, info, warn or error\n", arg);
            return -1;
        }
        log_set_level(level);
        return 0;
    }
    return -1;
}

static int cmd_serve(int argc, char **argv)
{
    struct option longopts[NSERVE + 2];
    struct server_config cfg;
    int c, idx;

    server_config_init(&cfg);
    for (size_t i = 0; i < NSERVE; i++)
        longopts[i] = (struct option){ serve_options[i].name, required_argument, NULL, 0 };
    longopts[NSERVE] = (struct option){ "help", no_argument, NULL, 'h' };
    longopts[NSERVE + 1] = (struct option){ 0 };
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c != 0 || set_option(&cfg, &serve_options[idx], optarg) < 0)
            return EXIT_USAGE;
    }
    if (optind < argc || !cfg.cert_file || !cfg.key_file) {
        fprintf(stderr, "paddlex-webhook: serve needs --tls-cert and --tls-key (and no other arguments)\n");
        return EXIT_USAGE;
    }
    return server_run(&cfg);
}

static int cmd_review(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "policy", required_argument, NULL, 'p' },
        { "seal-key", required_argument, NULL, 's' },
        { 0 },
    };
    const char *policy_file = NULL, *seal_file = NULL;
    struct seal_keys keys = { .n = 0 };
    struct sealer sealer = { &keys, seal_sign, seal_verify };
    struct policy *policy = NULL;
    char err[POLICYFILE_MAX_ERROR];
    enum review_mode mode;
    struct review_result res;
    size_t len;
    char *body;
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'p')
            policy_file = optarg;
        else if (c == 's')
            seal_file = optarg;
        else
            return EXIT_USAGE;
    }
    if (optind + 1 != argc || (strcmp(argv[optind], "mutate") && strcmp(argv[optind], "validate"))) {
        fprintf(stderr, "usage: paddlex-webhook review mutate|validate [--policy FILE] [--seal-key FILE] "
                        "< review.json\n");
        return EXIT_USAGE;
    }
    if (seal_file && seal_keys_add_file(&keys, seal_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "paddlex-webhook: %s\n", err);
        return EXIT_USAGE;
    }
    if (policy_file && !(policy = policyfile_load(policy_file, err, sizeof(err)))) {
        fprintf(stderr, "paddlex-webhook: %s\n", err);
        seal_keys_release(&keys);
        return EXIT_USAGE;
    }
    mode = !strcmp(argv[optind], "mutate") ? REVIEW_MUTATE : REVIEW_VALIDATE;
    if (readfile_fd(0, "-", SERVER_MAX_BODY_DEFAULT, READFILE_ANY, &body, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "paddlex-webhook: request body is unreadable or larger than the limit: %s\n", err);
        seal_keys_release(&keys);
        policy_unref(policy);
        return 1;
    }
    if (review_handle(mode, body, len, policy, seal_file ? &sealer : NULL, &res) < 0) {
        fprintf(stderr, "paddlex-webhook: out of memory\n");
    } else if (res.http_status != 200) {
        fprintf(stderr, "paddlex-webhook: %s", res.body);
    } else if (printf("%s\n", res.body) < 0 || fflush(stdout) != 0 || ferror(stdout)) {
        /* a full disk, a closed pipe: the answer is lost, say so */
        fprintf(stderr, "paddlex-webhook: cannot write the answer: %s\n", strerror(errno));
    } else {
        rc = 0;
    }
    review_result_release(&res);
    free(body);
    seal_keys_release(&keys);
    policy_unref(policy);
    arena_thread_release();
    return rc;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    arena_install();
    if (!cmd || !strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(cmd ? stdout : stderr);
        return cmd ? 0 : EXIT_USAGE;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("paddlex-webhook %s\n", PADDLEX_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "serve"))
        return cmd_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "review"))
        return cmd_review(argc - 1, argv + 1);
    if (!strcmp(cmd, "render"))
        return render_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "certs"))
        return certgen_main(argc - 1, argv + 1);
    fprintf(stderr, "paddlex-webhook: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
