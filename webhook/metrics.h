/*
 * metrics.h - Prometheus counters of the server (SPEC §6).
 *
 * Every metric is a fixed array of atomics indexed by small enums, so the
 * hot path takes no lock and allocates nothing. Names: paddlex_webhook_*.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdatomic.h>
#include <time.h>

#include "mutators/json/strbuf.h"
#include "mutators/kinds_table.h"

enum metrics_path { MP_MUTATE, MP_VALIDATE, MP_SYNC, MP_HEALTHZ, MP_READYZ, MP_METRICS, MP_OTHER, MP_COUNT };
/* A kind is its position in kinds_table (label: its name), then "other"
 * (a kind not ours) and "" (none: not a review). */
enum metrics_kind { MK_OTHER = KINDS_COUNT, MK_NONE, MK_COUNT };
enum metrics_op { MO_CREATE, MO_UPDATE, MO_DELETE, MO_CONNECT, MO_OTHER, MO_NONE, MO_COUNT };
enum metrics_result { MR_ALLOWED, MR_DENIED, MR_ERROR, MR_OK, MR_COUNT };
/* Unavailable: a 503 because --max-buffered is spent, apart from TooLarge (413) */
enum metrics_reason { MD_INVALID, MD_FORBIDDEN, MD_BAD_REQUEST, MD_TOO_LARGE, MD_UNAVAILABLE, MD_COUNT };

#define METRICS_BUCKETS 14
/* HTTP status codes counted one by one (metrics.c: code_known), then the
 * classes 1xx..5xx for any other, then "other" (outside 100..599). */
#define METRICS_CODES 13

struct metrics {
    atomic_ullong requests[MP_COUNT][MK_COUNT][MO_COUNT][MR_COUNT];
    atomic_ullong latency_buckets[MP_COUNT][MK_COUNT][METRICS_BUCKETS]; /* cumulative at render */
    atomic_ullong latency_sum_ns[MP_COUNT][MK_COUNT];
    atomic_ullong latency_count[MP_COUNT][MK_COUNT];
    atomic_ullong responses[MP_COUNT][METRICS_CODES];
    atomic_ullong denials[MD_COUNT];
    atomic_llong cert_not_after;       /* unix seconds, 0 when unknown */
    atomic_ullong cert_reloads[2];     /* [0] ok, [1] failed */
    atomic_ullong policy_reloads[2];   /* [0] ok, [1] failed */
    atomic_int cert_reload_ok;         /* 1: the last load of the pair succeeded */
    atomic_int policy_reload_ok;       /* 1: the last load of the policy succeeded */
    atomic_int in_flight;
    atomic_ullong refused_per_address; /* connections closed at accept: over --max-connections-per-address */
};

void metrics_init(struct metrics *m);

enum metrics_path metrics_path_of(const char *url);
/* kind's position in kinds_table, matched by name (request.kind.kind),
 * MK_OTHER for another name, MK_NONE for none. */
enum metrics_kind metrics_kind_of(const char *kind);
enum metrics_op metrics_op_of(const char *operation);

/* Counts one request and its latency (the histogram by path and kind). */
void metrics_request(struct metrics *m, enum metrics_path p, enum metrics_kind k, enum metrics_op o,
                     enum metrics_result r, double seconds);

/* Counts one answer by its HTTP status: what the caller (the apiserver,
 * Metacontroller) saw, 5xx apart from 4xx, 503 apart from 413. */
void metrics_response(struct metrics *m, enum metrics_path p, unsigned status);

void metrics_denial(struct metrics *m, enum metrics_reason reason);

/* Counts one reload of the certificate pair or the policy (ok: 1 loaded,
 * 0 failed and the previous one kept) and remembers its outcome. */
void metrics_cert_reload(struct metrics *m, int ok);
void metrics_policy_reload(struct metrics *m, int ok);

/* Appends the text exposition format (version 0.0.4) to out. */
void metrics_render(struct metrics *m, struct strbuf *out);

#endif
