/*
 * test_metrics.c - the series the alerts of manifests/monitoring/ read:
 * answers by status code (known codes one by one, others by class), the
 * latency histogram by path and kind, the last-reload gauges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
    metrics_request(&m, MP_MUTATE, MK_TRAINING, MO_CREATE, MR_ALLOWED, 0.003);
    metrics_request(&m, MP_MUTATE, MK_TRAINING, MO_CREATE, MR_ALLOWED, 3.0);  /* over every bucket */
    metrics_request(&m, MP_MUTATE, MK_DATASET, MO_UPDATE, MR_DENIED, 0.0001); /* on a bound: le is <= */
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
        cmocka_unit_test(test_last_reload_gauges),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
