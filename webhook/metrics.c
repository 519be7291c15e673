/*
 * metrics.c - counters, a latency histogram and gauges in Prometheus text.
 */
#include "webhook/metrics.h"

#include <string.h>


static const double bucket_le[METRICS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};
static const char *const path_names[MP_COUNT] = {
    "/mutate", "/validate", "/sync", "/healthz", "/readyz", "/metrics", "other",
};
static const char *const op_names[MO_COUNT] = { "CREATE", "UPDATE", "DELETE", "CONNECT", "other", "" };
static const char *const result_names[MR_COUNT] = { "allowed", "denied", "error", "ok" };
static const char *const reason_names[MD_COUNT] = { "Invalid", "Forbidden", "BadRequest", "TooLarge",
                                                    "Unavailable" };

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    atomic_store(&m->cert_reload_ok, 1);    /* the first load failing stops the server */
    atomic_store(&m->policy_reload_ok, 1);
}

static int index_of(const char *const *names, int n, const char *s, int other)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return i;
    return other;
}

enum metrics_path metrics_path_of(const char *url)
{
    return (enum metrics_path)index_of(path_names, MP_OTHER, url, MP_OTHER);
}

/* The kind label: a kind's name as kinds_table has it, "other" or "". */
static const char *kind_name(int k)
{
    return k < KINDS_COUNT ? kinds_table[k]->name : k == MK_OTHER ? "other" : "";
}

enum metrics_kind metrics_kind_of(const char *kind)
{
    if (!kind || !*kind)
        return MK_NONE;
    for (int k = 0; k < KINDS_COUNT; k++)
        if (!strcmp(kinds_table[k]->name, kind))
            return (enum metrics_kind)k;
    return MK_OTHER;
}

enum metrics_op metrics_op_of(const char *operation)
{
    if (!operation || !*operation)
        return MO_NONE;
    return (enum metrics_op)index_of(op_names, MO_OTHER, operation, MO_OTHER);
}

void metrics_request(struct metrics *m, enum metrics_path p, enum metrics_kind k, enum metrics_op o,
                     enum metrics_result r, double seconds)
{
    int b = 0;

    atomic_fetch_add_explicit(&m->requests[p][k][o][r], 1, memory_order_relaxed);
    while (b < METRICS_BUCKETS && seconds > bucket_le[b])
        b++;
    if (b < METRICS_BUCKETS)
        atomic_fetch_add_explicit(&m->latency_buckets[p][k][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_ns[p][k], (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_count[p][k], 1, memory_order_relaxed);
}

/* The statuses the server answers with; the rest of code_names: classes. */
static const unsigned code_known[] = { 200, 400, 404, 405, 413, 500, 503 };
#define CODE_KNOWN (sizeof(code_known) / sizeof(code_known[0]))
static const char *const code_names[METRICS_CODES] = {
    "200", "400", "404", "405", "413", "500", "503", "1xx", "2xx", "3xx", "4xx", "5xx", "other",
};
_Static_assert(CODE_KNOWN + 6 == METRICS_CODES, "code_names: the known codes, 5 classes, other");

void metrics_response(struct metrics *m, enum metrics_path p, unsigned status)
{
    size_t c = 0;

    while (c < CODE_KNOWN && code_known[c] != status)
        c++;
    if (c == CODE_KNOWN)
        c = status >= 100 && status <= 599 ? CODE_KNOWN + status / 100 - 1 : METRICS_CODES - 1;
    atomic_fetch_add_explicit(&m->responses[p][c], 1, memory_order_relaxed);
}

void metrics_denial(struct metrics *m, enum metrics_reason reason)
{
    atomic_fetch_add_explicit(&m->denials[reason], 1, memory_order_relaxed);
}

void metrics_cert_reload(struct metrics *m, int ok)
{
    atomic_fetch_add_explicit(&m->cert_reloads[ok ? 0 : 1], 1, memory_order_relaxed);
    atomic_store(&m->cert_reload_ok, ok ? 1 : 0);
}

void metrics_policy_reload(struct metrics *m, int ok)
{
    atomic_fetch_add_explicit(&m->policy_reloads[ok ? 0 : 1], 1, memory_order_relaxed);
    atomic_store(&m->policy_reload_ok, ok ? 1 : 0);
}

static unsigned long long get(atomic_ullong *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

static void render_requests(struct metrics *m, struct strbuf *out)
{
    strbuf_addstr(out, "# HELP paddlex_webhook_requests_total Requests by path, kind, operation and result.\n"
                       "# TYPE paddlex_webhook_requests_total counter\n");
    for (int p = 0; p < MP_COUNT; p++)
        for (int k = 0; k < MK_COUNT; k++)
            for (int o = 0; o < MO_COUNT; o++)
                for (int r = 0; r < MR_COUNT; r++) {
                    unsigned long long n = get(&m->requests[p][k][o][r]);

                    if (n)
                        strbuf_addf(out, "paddlex_webhook_requests_total{path=\"%s\",kind=\"%s\","
                                         "operation=\"%s\",result=\"%s\"} %llu\n",
                                    path_names[p], kind_name(k), op_names[o], result_names[r], n);
                }
}

static void render_latency(struct metrics *m, struct strbuf *out)
{
    strbuf_addstr(out, "# HELP paddlex_webhook_request_duration_seconds Request latency by path and kind.\n"
                       "# TYPE paddlex_webhook_request_duration_seconds histogram\n");
    for (int p = 0; p < MP_COUNT; p++)
        for (int k = 0; k < MK_COUNT; k++) {
            unsigned long long count = get(&m->latency_count[p][k]), cum = 0;

            if (!count)
                continue;
            for (int b = 0; b < METRICS_BUCKETS; b++) {
                cum += get(&m->latency_buckets[p][k][b]);
                strbuf_addf(out, "paddlex_webhook_request_duration_seconds_bucket{path=\"%s\",kind=\"%s\","
                                 "le=\"%g\"} %llu\n",
                            path_names[p], kind_name(k), bucket_le[b], cum);
            }
            strbuf_addf(out,
                        "paddlex_webhook_request_duration_seconds_bucket{path=\"%s\",kind=\"%s\",le=\"+Inf\"} %llu\n"
                        "paddlex_webhook_request_duration_seconds_sum{path=\"%s\",kind=\"%s\"} %.9f\n"
                        "paddlex_webhook_request_duration_seconds_count{path=\"%s\",kind=\"%s\"} %llu\n",
                        path_names[p], kind_name(k), count, path_names[p], kind_name(k),
                        get(&m->latency_sum_ns[p][k]) / 1e9, path_names[p], kind_name(k), count);
        }
}

static void render_responses(struct metrics *m, struct strbuf *out)
{
    strbuf_addstr(out, "# HELP paddlex_webhook_responses_total Answers by path and HTTP status code.\n"
                       "# TYPE paddlex_webhook_responses_total counter\n");
    for (int p = 0; p < MP_COUNT; p++)
        for (int c = 0; c < METRICS_CODES; c++) {
            unsigned long long n = get(&m->responses[p][c]);

            if (n)
                strbuf_addf(out, "paddlex_webhook_responses_total{path=\"%s\",code=\"%s\"} %llu\n",
                            path_names[p], code_names[c], n);
        }
}

void metrics_render(struct metrics *m, struct strbuf *out)
{
    render_requests(m, out);
    render_latency(m, out);
    render_responses(m, out);
    strbuf_addstr(out, "# HELP paddlex_webhook_denials_total Denied or refused requests by reason.\n"
                       "# TYPE paddlex_webhook_denials_total counter\n");
    for (int r = 0; r < MD_COUNT; r++)
        strbuf_addf(out, "paddlex_webhook_denials_total{reason=\"%s\"} %llu\n", reason_names[r],
                    get(&m->denials[r]));
    strbuf_addf(out,
                "# HELP paddlex_webhook_certificate_not_after_seconds Serving certificate expiry (unix time).\n"
                "# TYPE paddlex_webhook_certificate_not_after_seconds gauge\n"
                "paddlex_webhook_certificate_not_after_seconds %lld\n"
                "# HELP paddlex_webhook_certificate_reloads_total Certificate reloads by result.\n"
                "# TYPE paddlex_webhook_certificate_reloads_total counter\n"
                "paddlex_webhook_certificate_reloads_total{result=\"success\"} %llu\n"
                "paddlex_webhook_certificate_reloads_total{result=\"failure\"} %llu\n"
                "# HELP paddlex_webhook_policy_reloads_total Policy reloads by result.\n"
                "# TYPE paddlex_webhook_policy_reloads_total counter\n"
                "paddlex_webhook_policy_reloads_total{result=\"success\"} %llu\n"
                "paddlex_webhook_policy_reloads_total{result=\"failure\"} %llu\n"
                "# HELP paddlex_webhook_certificate_last_reload_successful 1 when the last load of the "
                "certificate pair succeeded, 0 when it failed and the previous pair is still served.\n"
                "# TYPE paddlex_webhook_certificate_last_reload_successful gauge\n"
                "paddlex_webhook_certificate_last_reload_successful %d\n"
                "# HELP paddlex_webhook_policy_last_reload_successful 1 when the last load of the "
                "policy succeeded, 0 when it failed and the previous policy is still applied.\n"
                "# TYPE paddlex_webhook_policy_last_reload_successful gauge\n"
                "paddlex_webhook_policy_last_reload_successful %d\n"
                "# HELP paddlex_webhook_in_flight_requests Requests being handled.\n"
                "# TYPE paddlex_webhook_in_flight_requests gauge\n"
                "paddlex_webhook_in_flight_requests %d\n"
                "# HELP paddlex_webhook_connections_refused_total Connections closed at accept by reason.\n"
                "# TYPE paddlex_webhook_connections_refused_total counter\n"
                "paddlex_webhook_connections_refused_total{reason=\"PerAddressLimit\"} %llu\n"
                "# HELP paddlex_webhook_build_info Build information.\n"
                "# TYPE paddlex_webhook_build_info gauge\n"
                "paddlex_webhook_build_info{version=\"%s\"} 1\n",
                (long long)atomic_load(&m->cert_not_after), get(&m->cert_reloads[0]),
                get(&m->cert_reloads[1]), get(&m->policy_reloads[0]), get(&m->policy_reloads[1]),
                atomic_load(&m->cert_reload_ok), atomic_load(&m->policy_reload_ok),
                atomic_load(&m->in_flight), get(&m->refused_per_address), PADDLEX_VERSION);
}
