/*
 * syncport.h - Metacontroller's hooks over plain HTTP on a port of their
 * own (`serve --sync-listen ADDR:PORT`, SPEC §9.3).
 *
 * The Metacontroller that Kubeflow Pipelines ships (v4.11.22) cannot be
 * given a CA for a hook (hooks.*.webhook.caBundle came in v4.16), and
 * Kubeflow calls its own in-cluster hooks over plain HTTP. This port
 * serves only POST /sync, POST /customize and GET /healthz; everything
 * else, admission and /metrics included, is 404 here: admission stays on
 * the TLS port. A NetworkPolicy (manifests/overlays/kubeflow) admits only
 * Metacontroller's pods to it.
 *
 * The same caps as the TLS port: --max-body (413, announced or not),
 * --max-connections, --connection-timeout (idle), and the budget of
 * --max-buffered for all bodies held at once (503 past it).
 * libmicrohttpd runs it in SYNCPORT_THREADS threads of its own.
 */
#ifndef SYNCPORT_H
#define SYNCPORT_H

#include <stddef.h>
#include <sys/socket.h>

struct policy;
struct sealer;
struct server_config;
struct syncport;

#define SYNCPORT_THREADS 2

/* A reference to the policy in force for one request (the caller releases
 * it with policy_unref()), NULL for the built-in one. */
typedef struct policy *syncport_policy_fn(void *cls);

/* Starts serving on cfg->sync_listen with the admission seals' sealer
 * (cfg and sealer borrowed; they must outlive the port). Returns the port,
 * or NULL with the reason logged. */
struct syncport *syncport_start(const struct server_config *cfg, syncport_policy_fn *policy, void *cls,
                                const struct sealer *sealer);

/* Stops serving and frees sp (NULL: nothing). */
void syncport_stop(struct syncport *sp);

/* Parses "ADDR:PORT" or "[ADDR]:PORT" (a numeric address; empty ADDR means
 * 0.0.0.0) into *ss. Returns 0, or -1 with the reason in err. */
int syncport_parse_addr(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen);

#endif
