/*
 * test_metrics.c - the series the alerts of manifests/monitoring/ read:
 * answers by status code (known codes one by one, others by class), the
 * latency histogram by path and kind, the last-reload gauges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "webhook/metrics.h"

#define DURATION "\npaddlex_webhook_request_duration_seconds"

/* The exposition of m; the caller releases it. */
static void render(struct metrics *m, struct strbuf *out)
{
    *out = (struct strbuf)STRBUF_INIT;
    metrics_render(m, out);
}

static void assert_has(const struct strbuf *sb, const char *line)
{
    if (!strstr(sb->buf, line))
        fail_msg("no line %s in:\n%s", line, sb->buf);
}

static void assert_lacks(const struct strbuf *sb, const char *text)
{
    if (strstr(sb->buf, text))
        fail_msg("unexpected %s in:\n%s", text, sb->buf);
}

static void test_codes_known_and_by_class(void **state)
{
    static struct metrics m; /* static: the arrays are a few KiB */
    struct strbuf sb;

    (void)state;
    metrics_init(&m);
    metrics_response(&m, MP_VALIDATE, 200);
    metrics_response(&m, MP_VALIDATE, 200);
    metrics_response(&m, MP_VALIDATE, 503);
    metrics_response(&m, MP_VALIDATE, 413);
    metrics_response(&m, MP_MUTATE, 502);
    metrics_response(&m, MP_MUTATE, 201);
    metrics_response(&m, MP_OTHER, 404);
    metrics_response(&m, MP_OTHER, 99);
    metrics_response(&m, MP_OTHER, 600);
    render(&m, &sb);
    assert_has(&sb, "# TYPE paddlex_webhook_responses_total counter\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"/validate\",code=\"200\"} 2\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"/validate\",code=\"503\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"/validate\",code=\"413\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"/mutate\",code=\"5xx\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"/mutate\",code=\"2xx\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"other\",code=\"404\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_responses_total{path=\"other\",code=\"other\"} 2\n");
    assert_lacks(&sb, "code=\"500\""); /* series that never counted are left out */
    strbuf_release(&sb);
}

static void test_latency_by_path_and_kind(void **state)
{
    static struct metrics m;
    struct strbuf sb;

    (void)state;
    metrics_init(&m);
    metrics_request(&m, MP_MUTATE, metrics_kind_of("Training"), MO_CREATE, MR_ALLOWED, 0.003);
    metrics_request(&m, MP_MUTATE, metrics_kind_of("Training"), MO_CREATE, MR_ALLOWED, 3.0);  /* over every bucket */
    metrics_request(&m, MP_MUTATE, metrics_kind_of("Dataset"), MO_UPDATE, MR_DENIED, 0.0001); /* on a bound: le is <= */
    render(&m, &sb);
    assert_has(&sb, DURATION "_bucket{path=\"/mutate\",kind=\"Training\",le=\"0.0025\"} 0\n");
    assert_has(&sb, DURATION "_bucket{path=\"/mutate\",kind=\"Training\",le=\"0.005\"} 1\n");
    assert_has(&sb, DURATION "_bucket{path=\"/mutate\",kind=\"Training\",le=\"2.5\"} 1\n");
    assert_has(&sb, DURATION "_bucket{path=\"/mutate\",kind=\"Training\",le=\"+Inf\"} 2\n");
    assert_has(&sb, DURATION "_count{path=\"/mutate\",kind=\"Training\"} 2\n");
    assert_has(&sb, DURATION "_sum{path=\"/mutate\",kind=\"Training\"} 3.003000000\n");
    assert_has(&sb, DURATION "_bucket{path=\"/mutate\",kind=\"Dataset\",le=\"0.0001\"} 1\n");
    assert_lacks(&sb, "path=\"/validate\"");
    strbuf_release(&sb);
}

/* The kind labels come from kinds_table: every kind is counted under its
 * own name, and the four names are the ones the PrometheusRule and the
 * dashboard read (manifests/monitoring/). */
static void test_kind_labels_from_the_kinds_table(void **state)
{
    static const char *const names[] = { "Dataset", "Training", "ModelHub", "Serving" };
    static struct metrics m;
    struct strbuf sb;
    char want[256];

    (void)state;
    assert_int_equal(KINDS_COUNT, sizeof(names) / sizeof(names[0]));
    metrics_init(&m);
    for (int k = 0; k < KINDS_COUNT; k++) {
        assert_int_equal(metrics_kind_of(kinds_table[k]->name), k);
        for (int n = 0; n <= k; n++)
            metrics_request(&m, MP_VALIDATE, metrics_kind_of(kinds_table[k]->name), MO_CREATE, MR_ALLOWED, 0.001);
    }
    assert_int_equal(metrics_kind_of("Pod"), MK_OTHER);
    assert_int_equal(metrics_kind_of("training"), MK_OTHER);  /* names are matched exactly */
    assert_int_equal(metrics_kind_of(""), MK_NONE);
    assert_int_equal(metrics_kind_of(NULL), MK_NONE);
    metrics_request(&m, MP_VALIDATE, metrics_kind_of("Pod"), MO_CREATE, MR_ALLOWED, 0.001);
    metrics_request(&m, MP_HEALTHZ, MK_NONE, MO_NONE, MR_OK, 0.001);
    render(&m, &sb);
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        snprintf(want, sizeof(want),
                 "\npaddlex_webhook_requests_total{path=\"/validate\",kind=\"%s\",operation=\"CREATE\","
                 "result=\"allowed\"} %zu\n", names[k], k + 1);
        assert_has(&sb, want);
    }
    assert_has(&sb, "{path=\"/validate\",kind=\"other\",operation=\"CREATE\",result=\"allowed\"} 1\n");
    assert_has(&sb, "{path=\"/healthz\",kind=\"\",operation=\"\",result=\"ok\"} 1\n");
    strbuf_release(&sb);
}

static void test_last_reload_gauges(void **state)
{
    static struct metrics m;
    struct strbuf sb;

    (void)state;
    metrics_init(&m);
    render(&m, &sb); /* the first load succeeded, or the server did not start */
    assert_has(&sb, "\npaddlex_webhook_certificate_last_reload_successful 1\n");
    assert_has(&sb, "\npaddlex_webhook_policy_last_reload_successful 1\n");
    strbuf_release(&sb);

    metrics_policy_reload(&m, 0);
    metrics_cert_reload(&m, 0);
    metrics_cert_reload(&m, 1);
    render(&m, &sb);
    assert_has(&sb, "\npaddlex_webhook_policy_last_reload_successful 0\n");
    assert_has(&sb, "\npaddlex_webhook_policy_reloads_total{result=\"failure\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_certificate_last_reload_successful 1\n");
    assert_has(&sb, "\npaddlex_webhook_certificate_reloads_total{result=\"failure\"} 1\n");
    assert_has(&sb, "\npaddlex_webhook_certificate_reloads_total{result=\"success\"} 1\n");
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_known_and_by_class),
        cmocka_unit_test(test_latency_by_path_and_kind),
        cmocka_unit_test(test_kind_labels_from_the_kinds_table),
        cmocka_unit_test(test_last_reload_gauges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
