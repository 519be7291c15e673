/*
 * Unit tests of the policy (mutators/policy.c, policyload.c, policymatch.c)
 * and webhook/policyfile.c: strict loading (one case per error, as a
 * table), namespace precedence and its index (policyindex.c, against a
 * brute-force reference), key-by-key overrides, exemption, and every limit
 * and allow-list through the same kinds_validate() the webhook runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "mutators/fielderr.h"
#include "mutators/json/strbuf.h"
#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "mutators/policyindex.h"
#include "webhook/policyfile.h"

#define HEAD "\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"WebhookPolicy\""
/* What a policy with an imageRegistries list needs besides its test's own
 * entries, since a default outside its own allow-list is refused at load
 * (SPEC §9.4): the helper images under reg, and the converter image. */
#define HELPERS(reg)                                                                  \
    "\"downloaderImage\": \"" reg "curl:8\", \"uploaderImage\": \"" reg "mc:1\", " \
    "\"visualdlImage\": \"" reg "vdl:2\""
#define CONVERTER "\"registry.baidubce.com/paddleflow-public/serving\""

/* A policy from JSON text (a test's own: it must parse). */
static struct policy *load(const char *text)
{
    char err[POLICYFILE_MAX_ERROR] = "";
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    struct policy *p;

    assert_non_null(doc);
    p = policy_parse(doc, "policy.yaml", err, sizeof(err));
    if (!p)
        fail_msg("unexpected error: %s", err);
    json_decref(doc);
    return p;
}

/* ------------------------------------------------------------ strict loading */

static const struct bad_case {
    const char *body;       /* after HEAD, or a whole document when it starts with '!' */
    const char *err;        /* the whole message */
} bad_cases[] = {
    { "![]", "policy.yaml: must be a WebhookPolicy mapping" },
    { "!{\"kind\": \"WebhookPolicy\"}",
      "policy.yaml: apiVersion: must be \"paddlex.paddlepaddle.org/v1alpha1\"" },
    { "!{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"Training\"}",
      "policy.yaml: kind: must be \"WebhookPolicy\"" },
    { "\"limit\": {}",
      "policy.yaml: limit: unknown key (known keys: apiVersion, kind, defaults, limits, allow, "
      "namespaces, exempt)" },
    { "\"limits\": {\"maxGpus\": 1}",
      "policy.yaml: limits.maxGpus: unknown key (known keys: maxGpuPerNode, maxWorkerReplicas, "
      "maxPsReplicas, maxTotalGpus, maxPartitions)" },
    { "\"limits\": []", "policy.yaml: limits: must be a mapping" },
    { "\"limits\": {\"maxGpuPerNode\": -1}", "policy.yaml: limits.maxGpuPerNode: must be an integer ≥ 0" },
    { "\"limits\": {\"maxWorkerReplicas\": \"2\"}",
      "policy.yaml: limits.maxWorkerReplicas: must be an integer ≥ 0" },
    { "\"limits\": {\"maxPsReplicas\": 1.5}", "policy.yaml: limits.maxPsReplicas: must be an integer ≥ 0" },
    { "\"limits\": {\"maxTotalGpus\": true}", "policy.yaml: limits.maxTotalGpus: must be an integer ≥ 0" },
    { "\"limits\": {\"maxPartitions\": null}", "policy.yaml: limits.maxPartitions: must be an integer ≥ 0" },
    { "\"defaults\": {\"port\": 0}", "policy.yaml: defaults.port: must be an integer between 1 and 65535" },
    { "\"defaults\": {\"port\": 65536}",
      "policy.yaml: defaults.port: must be an integer between 1 and 65535" },
    { "\"defaults\": {\"endpoint\": \"ftp://minio:21\"}",
      "policy.yaml: defaults.endpoint: Invalid value: \"ftp://minio:21\": must be http://host[:port] "
      "or https://host[:port]" },
    { "\"defaults\": {\"endpoint\": \"http://u:p@minio:9000\"}",
      "policy.yaml: defaults.endpoint: Invalid value: \"http://u:p@minio:9000\": must not contain "
      "credentials (user-info)" },
    { "\"defaults\": {\"endpoint\": 9000}", "policy.yaml: defaults.endpoint: must be a string" },
    { "\"defaults\": {\"downloaderImage\": \"Curl/Curl\"}",
      "policy.yaml: defaults.downloaderImage: Invalid value: \"Curl/Curl\": invalid image reference: "
      "repository must be lowercase alphanumeric components separated by '/', '.', '_', '__' or '-'" },
    { "\"defaults\": {\"uploaderImage\": \"\"}",
      "policy.yaml: defaults.uploaderImage: Invalid value: \"\": invalid image reference: must be "
      "[registry/]repository[:tag][@algorithm:digest]" },
    { "\"defaults\": {\"visualdlImage\": \"vdl:\"}",
      "policy.yaml: defaults.visualdlImage: Invalid value: \"vdl:\": invalid image reference: tag "
      "must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}" },
    { "\"defaults\": {\"credentialsSecret\": \"a\\u0000b\"}",
      "policy.yaml: defaults.credentialsSecret: must not contain NUL characters" },
    { "\"defaults\": {\"image\": \"x\"}",
      "policy.yaml: defaults.image: unknown key (known keys: endpoint, port, downloaderImage, "
      "uploaderImage, visualdlImage, credentialsSecret, credentialsAccessKey, credentialsSecretKey, "
      "trainingOperator, engineSecret, dataSyncImage, dataClaimSize, dataStorageClass, pod)" },
    { "\"allow\": {\"imageRegistries\": \"registry.example.com/\"}",
      "policy.yaml: allow.imageRegistries: must be a list of strings" },
    { "\"allow\": {\"imageRegistries\": [\"a.io/\", 1]}",
      "policy.yaml: allow.imageRegistries[1]: must be a string" },
    { "\"allow\": {\"imageRegistries\": [\"\"]}",
      "policy.yaml: allow.imageRegistries[0]: must be an image prefix of [a-z0-9._-/:@[]], such as "
      "\"registry.example.com/team/\"" },
    { "\"allow\": {\"sourceUriSchemes\": [\"s3\", \"S3\"]}",
      "policy.yaml: allow.sourceUriSchemes[1]: must be a lowercase URI scheme, such as \"s3\"" },
    { "\"allow\": {\"endpointHosts\": [\"http://minio\"]}",
      "policy.yaml: allow.endpointHosts[0]: must be a lowercase host name, or a glob over one with "
      "'*' and '?'" },
    { "\"allow\": {\"pretrainModelHosts\": [\"a b\"]}",
      "policy.yaml: allow.pretrainModelHosts[0]: must be a lowercase host name, or a glob over one "
      "with '*' and '?'" },
    { "\"allow\": {\"registries\": []}",
      "policy.yaml: allow.registries: unknown key (known keys: imageRegistries, sourceUriSchemes, "
      "endpointHosts, pretrainModelHosts)" },
    { "\"namespaces\": {\"match\": \"a\"}",
      "policy.yaml: namespaces: must be a list of {match, defaults, limits, allow}" },
    { "\"namespaces\": [\"team-*\"]", "policy.yaml: namespaces[0]: must be a mapping" },
    { "\"namespaces\": [{\"limits\": {}}]",
      "policy.yaml: namespaces[0].match: is required: a namespace name or a glob such as \"team-*\"" },
    { "\"namespaces\": [{\"match\": 7}]", "policy.yaml: namespaces[0].match: must be a string" },
    { "\"namespaces\": [{\"match\": \"team-[ab]\"}]",
      "policy.yaml: namespaces[0].match: must be a namespace name, or a glob over one with '*' and "
      "'?' (at most 63 of [a-z0-9-*?])" },
    { "\"namespaces\": [{\"match\": \"\"}]",
      "policy.yaml: namespaces[0].match: must be a namespace name, or a glob over one with '*' and "
      "'?' (at most 63 of [a-z0-9-*?])" },
    { "\"namespaces\": [{\"match\": \"a\"}, {\"match\": \"b\", \"limits\": {\"maxGpuPerNode\": -1}}]",
      "policy.yaml: namespaces[1].limits.maxGpuPerNode: must be an integer ≥ 0" },
    { "\"namespaces\": [{\"match\": \"a*\"}, {\"match\": \"a*\"}]",
      "policy.yaml: namespaces[1].match: \"a*\" is already matched by namespaces[0]" },
    { "\"namespaces\": [{\"match\": \"a\", \"exempt\": {}}]",
      "policy.yaml: namespaces[0].exempt: unknown key (known keys: match, defaults, limits, allow)" },
    { "\"namespaces\": [{\"match\": \"a\", \"defaults\": {\"port\": -5}}]",
      "policy.yaml: namespaces[0].defaults.port: must be an integer between 1 and 65535" },
    { "\"exempt\": []", "policy.yaml: exempt: must be a mapping" },
    { "\"exempt\": {\"users\": \"alice\"}", "policy.yaml: exempt.users: must be a list of strings" },
    { "\"exempt\": {\"groups\": [\"\"]}", "policy.yaml: exempt.groups[0]: must be a group name" },
    { "\"exempt\": {\"roles\": []}",
      "policy.yaml: exempt.roles: unknown key (known keys: users, groups)" },
    /* SPEC §9.2: the operator, its secrets, the claim, defaults.pod */
    { "\"defaults\": {\"trainingOperator\": \"volcano\"}",
      "policy.yaml: defaults.trainingOperator: Unsupported value: \"volcano\": supported values: "
      "\"paddle-operator\", \"kubeflow\"" },
    { "\"defaults\": {\"credentialsAccessKey\": \"access key\"}",
      "policy.yaml: defaults.credentialsAccessKey: Invalid value: \"access key\": must be a Secret key of "
      "[-._a-zA-Z0-9]" },
    { "\"defaults\": {\"dataClaimSize\": \"-1Gi\"}",
      "policy.yaml: defaults.dataClaimSize: Invalid value: \"-1Gi\": must be a resource quantity above zero "
      "such as \"10Gi\"" },
    { "\"defaults\": {\"dataClaimSize\": \"10GB\"}",
      "policy.yaml: defaults.dataClaimSize: Invalid value: \"10GB\": must be a resource quantity above zero "
      "such as \"10Gi\"" },
    { "\"defaults\": {\"dataClaimSize\": \"0.0Gi\"}",
      "policy.yaml: defaults.dataClaimSize: Invalid value: \"0.0Gi\": must be a resource quantity above zero "
      "such as \"10Gi\"" },
    { "\"defaults\": {\"engineSecret\": \"Juice\"}",
      "policy.yaml: defaults.engineSecret: Invalid value: \"Juice\": a lowercase RFC 1123 subdomain must "
      "consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
      "character (e.g. 'example.com', regex used for validation is "
      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" },
    { "\"defaults\": {\"pod\": []}", "policy.yaml: defaults.pod: must be a mapping" },
    { "\"defaults\": {\"pod\": {\"affinity\": {}}}",
      "policy.yaml: defaults.pod.affinity: unknown key (known keys: tolerations, nodeSelector, "
      "serviceAccountName, priorityClassName, labels, annotations, resources)" },
    { "\"defaults\": {\"pod\": {\"tolerations\": {}}}",
      "policy.yaml: defaults.pod.tolerations: must be a list of tolerations" },
    { "\"defaults\": {\"pod\": {\"tolerations\": [{\"key\": \"gpu\", \"operator\": \"In\"}]}}",
      "policy.yaml: defaults.pod.tolerations[0].operator: must be \"Exists\" or \"Equal\"" },
    { "\"defaults\": {\"pod\": {\"tolerations\": [{\"key\": \"gpu\", \"effect\": \"NoSchedule\", "
      "\"tolerationSeconds\": 5}]}}",
      "policy.yaml: defaults.pod.tolerations[0].tolerationSeconds: is only allowed with effect \"NoExecute\"" },
    { "\"defaults\": {\"pod\": {\"tolerations\": [{\"key\": \"gpu\", \"value\": true}]}}",
      "policy.yaml: defaults.pod.tolerations[0].value: must be a string" },
    { "\"defaults\": {\"pod\": {\"tolerations\": [{\"keys\": \"gpu\"}]}}",
      "policy.yaml: defaults.pod.tolerations[0].keys: unknown key (known keys: key, operator, value, effect, "
      "tolerationSeconds)" },
    { "\"defaults\": {\"pod\": {\"tolerations\": [{\"value\": \"x\"}]}}",
      "policy.yaml: defaults.pod.tolerations[0].operator: must be \"Exists\" when key is empty" },
    { "\"defaults\": {\"pod\": {\"nodeSelector\": {\"gpu\": 1}}}",
      "policy.yaml: defaults.pod.nodeSelector[gpu]: must be a string" },
    { "\"defaults\": {\"pod\": {\"labels\": {\"a b\": \"x\"}}}",
      "policy.yaml: defaults.pod.labels[a b]: key must be a qualified name ([prefix/]name)" },
    { "\"defaults\": {\"pod\": {\"labels\": {\"team\": \"-x\"}}}",
      "policy.yaml: defaults.pod.labels[team]: must be a label value" },
    { "\"defaults\": {\"pod\": {\"annotations\": {\"x\": null}}}",
      "policy.yaml: defaults.pod.annotations[x]: must be a string" },
    { "\"defaults\": {\"pod\": {\"serviceAccountName\": \"Runner\"}}",
      "policy.yaml: defaults.pod.serviceAccountName: must be a DNS-1123 subdomain" },
    { "\"defaults\": {\"pod\": {\"priorityClassName\": 1}}",
      "policy.yaml: defaults.pod.priorityClassName: must be a string" },
    { "\"defaults\": {\"pod\": {\"resources\": {\"trainer\": {}}}}",
      "policy.yaml: defaults.pod.resources.trainer: unknown key (known keys: requests, limits, worker, ps, "
      "helper, serving, visualdl)" },
    { "\"defaults\": {\"pod\": {\"resources\": {\"requests\": {\"memory\": \"1 Gi\"}}}}",
      "policy.yaml: defaults.pod.resources.requests[memory]: must be a quantity such as \"500m\" or \"2Gi\"" },
    { "\"defaults\": {\"pod\": {\"resources\": {\"worker\": {\"requests\": {\"cpu\": \"two\"}}}}}",
      "policy.yaml: defaults.pod.resources.worker.requests[cpu]: must be a quantity such as \"500m\" or \"2Gi\"" },
    { "\"defaults\": {\"pod\": {\"resources\": {\"worker\": {\"requests\": {\"cpu\": 1.5}}}}}",
      "policy.yaml: defaults.pod.resources.worker.requests[cpu]: must be a quantity such as \"500m\" or \"2Gi\"" },
    { "\"defaults\": {\"pod\": {\"resources\": {\"helper\": {\"claims\": []}}}}",
      "policy.yaml: defaults.pod.resources.helper.claims: unknown key (known keys: requests, limits)" },
    { "\"namespaces\": [{\"match\": \"team-*\", \"defaults\": {\"pod\": {\"labels\": []}}}]",
      "policy.yaml: namespaces[0].defaults.pod.labels: must be a mapping of strings" },
};

static void test_strict_loading(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char text[1024], err[POLICYFILE_MAX_ERROR] = "";
        json_t *doc;
        struct policy *p;

        if (c->body[0] == '!')
            snprintf(text, sizeof(text), "%s", c->body + 1);
        else
            snprintf(text, sizeof(text), "{" HEAD ", %s}", c->body);
        doc = json_loads(text, JSON_ALLOW_NUL, NULL);
        if (!doc)
            fail_msg("case %zu: bad test JSON: %s", i, text);
        p = policy_parse(doc, "policy.yaml", err, sizeof(err));
        json_decref(doc);
        if (p || strcmp(err, c->err) != 0) {
            policy_unref(p);
            fail_msg("case %zu (%s):\n  got  %s\n  want %s", i, c->body, p ? "(accepted)" : err, c->err);
        }
    }
}

/* policy_parse() of the JSON text refuses it with exactly want. */
static void expect_refused(const char *text, const char *want)
{
    char err[POLICYFILE_MAX_ERROR] = "";
    json_t *doc = json_loads(text, 0, NULL);

    assert_non_null(doc);
    assert_null(policy_parse(doc, "policy.yaml", err, sizeof(err)));
    if (strcmp(err, want) != 0)
        fail_msg("got  %s\nwant %s", err, want);
    json_decref(doc);
}

/* SPEC §9.4: an invalid file is reported with every problem at once, in
 * file order, on one line; past POLICY_MAX_PROBLEMS they are counted. */
static void test_every_problem_at_once(void **state)
{
    const char *text =
        "{\"apiVersion\": \"v1\", \"kind\": \"WebhookPolicy\", \"limit\": {},"
        " \"defaults\": {\"port\": 0, \"endpoint\": \"ftp://x\"},"
        " \"limits\": {\"maxGpuPerNode\": -1, \"maxTotalGpus\": \"8\"},"
        " \"allow\": {\"sourceUriSchemes\": [\"S3\", 7]},"
        " \"namespaces\": [{\"match\": \"a\"}, {\"match\": \"a\", \"limits\": []}, {\"limits\": {}}],"
        " \"exempt\": {\"groups\": [\"\"]}}";
    const char *want =
        "policy.yaml: apiVersion: must be \"paddlex.paddlepaddle.org/v1alpha1\"; "
        "limit: unknown key (known keys: apiVersion, kind, defaults, limits, allow, namespaces, exempt); "
        "defaults.endpoint: Invalid value: \"ftp://x\": must be http://host[:port] or https://host[:port]; "
        "defaults.port: must be an integer between 1 and 65535; "
        "limits.maxGpuPerNode: must be an integer ≥ 0; limits.maxTotalGpus: must be an integer ≥ 0; "
        "allow.sourceUriSchemes[0]: must be a lowercase URI scheme, such as \"s3\"; "
        "allow.sourceUriSchemes[1]: must be a string; "
        "exempt.groups[0]: must be a group name; "
        "namespaces[1].limits: must be a mapping; "
        "namespaces[1].match: \"a\" is already matched by namespaces[0]; "
        "namespaces[2].match: is required: a namespace name or a glob such as \"team-*\"";
    char err[POLICYFILE_MAX_ERROR];
    json_t *doc;
    struct strbuf many = STRBUF_INIT;

    (void)state;
    expect_refused(text, want);
    /* thirty unknown keys: twenty named, the rest counted */
    strbuf_addstr(&many, "{" HEAD);
    for (int i = 0; i < 30; i++)
        strbuf_addf(&many, ", \"k%02d\": 1", i);
    strbuf_addch(&many, '}');
    doc = json_loads(many.buf, 0, NULL);
    assert_null(policy_parse(doc, "p.yaml", err, sizeof(err)));
    assert_non_null(strstr(err, "k19: unknown key"));
    assert_null(strstr(err, "k20: unknown key"));
    assert_non_null(strstr(err, "; and 10 more problems"));
    /* a small buffer gets a clipped message, never an overrun */
    assert_null(policy_parse(doc, "p.yaml", err, 40));
    assert_int_equal(strlen(err), 39);
    json_decref(doc);
    strbuf_release(&many);
}

/* SPEC §9.4: a policy whose own defaults (or built-in helper images) its own
 * allow-lists refuse would deny every object using them: it is refused at
 * load, naming the default, for the cluster and for each namespaces[] entry
 * as merged, and a cluster problem is not repeated for every entry. */
static void test_defaults_inside_allow_lists(void **state)
{
    static const struct {
        const char *body;
        const char *want;       /* the whole message; NULL: loads */
    } cases[] = {
        { "\"allow\": {\"imageRegistries\": [\"reg.io/\", " CONVERTER "]}, "
          "\"defaults\": {\"uploaderImage\": \"reg.io/mc:1\", \"visualdlImage\": \"reg.io/vdl:1\"}",
          "policy.yaml: defaults.downloaderImage: \"curlimages/curl:8.5.0\" (the built-in default) is not "
          "under any prefix in allow.imageRegistries [\"reg.io/\", \"registry.baidubce.com/paddleflow-public/"
          "serving\"]" },
        { "\"allow\": {\"imageRegistries\": [\"reg.io/\", " CONVERTER "]}, "
          "\"defaults\": {" HELPERS("reg.io/") ", \"uploaderImage\": \"quay.io/mc:1\"}",
          "policy.yaml: defaults.uploaderImage: \"quay.io/mc:1\" is not under any prefix in "
          "allow.imageRegistries [\"reg.io/\", \"registry.baidubce.com/paddleflow-public/serving\"]" },
        { "\"allow\": {\"imageRegistries\": [\"docker.io/\"]}",
          "policy.yaml: allow.imageRegistries: [\"docker.io/\"] does not allow the built-in converter image "
          "\"registry.baidubce.com/paddleflow-public/serving:v0.6.2\" that a Training's convert Job runs" },
        { "\"allow\": {\"imageRegistries\": [\"docker.io/\", " CONVERTER "]}", NULL },
        { "\"allow\": {\"endpointHosts\": [\"*.corp\"]}",
          "policy.yaml: defaults.endpoint: host \"minio-service.kubeflow\" of "
          "\"http://minio-service.kubeflow:9000\" (the built-in default) is not in allow.endpointHosts "
          "[\"*.corp\"]" },
        { "\"allow\": {\"endpointHosts\": [\"*.corp\"]}, \"defaults\": {\"endpoint\": \"https://s3.corp\"}",
          NULL },
        /* namespaces[], merged: its own list against the cluster's defaults */
        { "\"namespaces\": [{\"match\": \"team-*\", \"allow\": {\"imageRegistries\": "
          "[\"docker.io/\", \"registry.baidubce.com/\"]}}, {\"match\": \"x\", \"allow\": "
          "{\"imageRegistries\": [\"registry.baidubce.com/\"]}}]",
          "policy.yaml: namespaces[1].defaults.downloaderImage: \"curlimages/curl:8.5.0\" (the built-in "
          "default) is not under any prefix in allow.imageRegistries [\"registry.baidubce.com/\"]; "
          "namespaces[1].defaults.uploaderImage: \"minio/mc:RELEASE.2024-01-13T08-44-48Z\" (the built-in "
          "default) is not under any prefix in allow.imageRegistries [\"registry.baidubce.com/\"]; "
          "namespaces[1].defaults.visualdlImage: \"paddlepaddle/visualdl:2.5.3\" (the built-in default) is "
          "not under any prefix in allow.imageRegistries [\"registry.baidubce.com/\"]" },
        /* its own default against the cluster's list */
        { "\"allow\": {\"endpointHosts\": [\"minio-service.kubeflow\"]}, \"namespaces\": [{\"match\": "
          "\"a\"}, {\"match\": \"b\", \"defaults\": {\"endpoint\": \"http://evil.example.com\"}}]",
          "policy.yaml: namespaces[1].defaults.endpoint: host \"evil.example.com\" of "
          "\"http://evil.example.com\" is not in allow.endpointHosts [\"minio-service.kubeflow\"]" },
        /* dataSyncImage runs only under trainingOperator kubeflow (a
         * Dataset's sync Job): judged where that operator is picked */
        { "\"allow\": {\"imageRegistries\": [\"reg.io/\", " CONVERTER "]}, \"defaults\": {" HELPERS("reg.io/") "}",
          NULL },
        { "\"allow\": {\"imageRegistries\": [\"reg.io/\", " CONVERTER "]}, \"defaults\": {" HELPERS("reg.io/") "}, "
          "\"namespaces\": [{\"match\": \"kf-*\", \"defaults\": {\"trainingOperator\": \"kubeflow\"}}]",
          "policy.yaml: namespaces[0].defaults.dataSyncImage: \"juicedata/mount:ce-v1.1.0\" (the built-in "
          "default) is not under any prefix in allow.imageRegistries [\"reg.io/\", "
          "\"registry.baidubce.com/paddleflow-public/serving\"]" },
        { "\"allow\": {\"imageRegistries\": [\"reg.io/\", " CONVERTER "]}, \"defaults\": {" HELPERS("reg.io/") ", "
          "\"trainingOperator\": \"kubeflow\", \"dataSyncImage\": \"reg.io/juicefs:1\"}", NULL },
        /* a cluster problem once, not once more per entry */
        { "\"allow\": {\"endpointHosts\": [\"*.corp\"]}, \"namespaces\": [{\"match\": \"a\"}, "
          "{\"match\": \"b\", \"limits\": {\"maxGpuPerNode\": 1}}]",
          "policy.yaml: defaults.endpoint: host \"minio-service.kubeflow\" of "
          "\"http://minio-service.kubeflow:9000\" (the built-in default) is not in allow.endpointHosts "
          "[\"*.corp\"]" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[2048], err[POLICYFILE_MAX_ERROR] = "";
        json_t *doc;
        struct policy *p;

        snprintf(text, sizeof(text), "{" HEAD ", %s}", cases[i].body);
        doc = json_loads(text, 0, NULL);
        if (!doc)
            fail_msg("case %zu: bad test JSON: %s", i, text);
        p = policy_parse(doc, "policy.yaml", err, sizeof(err));
        json_decref(doc);
        if (cases[i].want ? (p || strcmp(err, cases[i].want) != 0) : !p)
            fail_msg("case %zu:\n  got  %s\n  want %s", i, p ? "(loaded)" : err,
                     cases[i].want ? cases[i].want : "(loaded)");
        policy_unref(p);
    }
}

/* defaults.pod and the operator keys, cluster-wide and per namespace: a
 * namespaces[] entry replaces the cluster's pod keys one by one. */
static void test_operator_and_pod_defaults(void **state)
{
    struct policy *p = load("{" HEAD ", \"defaults\": {\"trainingOperator\": \"kubeflow\", "
                            "\"credentialsSecret\": \"s3\", \"credentialsAccessKey\": \"AK\", "
                            "\"credentialsSecretKey\": \"SK\", \"dataClaimSize\": \"0.5Ti\", "
                            "\"dataStorageClass\": \"nfs\", \"pod\": {"
                            "\"tolerations\": [{\"key\": \"nvidia.com/gpu\", \"operator\": \"Exists\", "
                            "\"effect\": \"NoSchedule\"}], \"nodeSelector\": {\"pool\": \"gpu\"}, "
                            "\"serviceAccountName\": \"runner\", \"priorityClassName\": \"batch\", "
                            "\"labels\": {\"team\": \"ocr\"}, \"annotations\": {\"a\": \"b\"}, "
                            "\"resources\": {\"worker\": {\"requests\": {\"cpu\": 4, \"memory\": \"16Gi\"}}}}}, "
                            "\"namespaces\": [{\"match\": \"legacy\", \"defaults\": {\"trainingOperator\": "
                            "\"paddle-operator\", \"pod\": {\"labels\": {\"team\": \"legacy\"}}}}]}");
    struct context ctx = { .namespace = "team-a" };

    (void)state;
    assert_string_equal(policy_builtin.training_operator, POLICY_OPERATOR_PADDLE);
    assert_false(policy_kubeflow(&policy_builtin));
    assert_null(policy_builtin.pod.tolerations);
    policy_apply(p, &ctx);
    assert_true(policy_kubeflow(ctx.settings));
    assert_string_equal(ctx.settings->credentials_access_key, "AK");
    assert_string_equal(ctx.settings->data_claim_size, "0.5Ti");
    assert_string_equal(ctx.settings->data_storage_class, "nfs");
    assert_int_equal(json_array_size(ctx.settings->pod.tolerations), 1);
    assert_string_equal(json_string_value(json_object_get(ctx.settings->pod.labels, "team")), "ocr");
    assert_string_equal(ctx.settings->pod.service_account, "runner");
    assert_string_equal(ctx.settings->pod.priority_class, "batch");
    ctx.namespace = "legacy";
    policy_apply(p, &ctx);
    assert_false(policy_kubeflow(ctx.settings));
    assert_string_equal(json_string_value(json_object_get(ctx.settings->pod.labels, "team")), "legacy");
    /* the other pod keys are the cluster's */
    assert_int_equal(json_array_size(ctx.settings->pod.tolerations), 1);
    assert_string_equal(ctx.settings->pod.service_account, "runner");
    assert_non_null(json_object_get(ctx.settings->pod.resources, "worker"));
    assert_string_equal(ctx.settings->credentials_secret, "s3");
    policy_unref(p);
}

static void test_minimal_and_empty_sections(void **state)
{
    struct policy *p = load("{" HEAD ", \"defaults\": {}, \"limits\": {}, \"allow\": {}, "
                            "\"namespaces\": [], \"exempt\": {}}");
    struct context ctx = { .namespace = "ns" };

    (void)state;
    policy_apply(p, &ctx);
    assert_string_equal(ctx.settings->rule, "cluster");
    assert_int_equal(ctx.settings->max_gpu_per_node, 16);
    assert_int_equal(ctx.settings->max_partitions, 64);
    assert_int_equal(ctx.settings->max_total_gpus, POLICY_NO_LIMIT);
    assert_null(ctx.settings->image_registries);
    assert_string_equal(ctx.settings->endpoint, policy_builtin.endpoint);
    policy_unref(p);
}

static void test_builtin_without_policy(void **state)
{
    struct context ctx = { .namespace = "team-a", .username = "system:admin" };

    (void)state;
    policy_apply(NULL, &ctx);
    assert_ptr_equal(ctx.settings, &policy_builtin);
    assert_string_equal(ctx.settings->rule, "built-in");
    assert_int_equal(ctx.exempt, 0);
}

static void test_defaults_normalized(void **state)
{
    struct policy *p = load("{" HEAD ", \"defaults\": {\"endpoint\": \"https://minio.corp:9000/\", "
                            "\"port\": 9090, \"credentialsSecret\": \"s3-keys\"}}");
    struct context ctx = { 0 };

    (void)state;
    policy_apply(p, &ctx);
    assert_string_equal(ctx.settings->endpoint, "https://minio.corp:9000");
    assert_int_equal(ctx.settings->port, 9090);
    assert_string_equal(ctx.settings->credentials_secret, "s3-keys");
    assert_string_equal(ctx.settings->downloader_image, policy_builtin.downloader_image);
    policy_unref(p);
}

/* ------------------------------------------------------------ precedence */

static void test_precedence(void **state)
{
    static const struct {
        const char *namespace;  /* NULL: unknown */
        const char *rule;
        long long gpus;
    } cases[] = {
        { "team-vision", "namespaces[team-vision]", 4 },    /* exact beats every glob */
        { "team-visual", "namespaces[team-vis*]", 3 },      /* longest glob */
        { "team-x", "namespaces[team-*]", 2 },
        { "tx", "namespaces[t*]", 5 },
        { "aa", "namespaces[a*]", 6 },                      /* same length: the file's first */
        { "team-", "namespaces[team-*]", 2 },               /* '*' matches nothing too */
        { "team-ab", "namespaces[team-?b]", 7 },            /* '?' one character, longer than team-* */
        { "other", "cluster", 8 },
        { NULL, "cluster", 8 },
    };
    struct policy *p = load("{" HEAD ", \"limits\": {\"maxGpuPerNode\": 8}, \"namespaces\": ["
                            "{\"match\": \"t*\", \"limits\": {\"maxGpuPerNode\": 5}},"
                            "{\"match\": \"team-*\", \"limits\": {\"maxGpuPerNode\": 2}},"
                            "{\"match\": \"team-vis*\", \"limits\": {\"maxGpuPerNode\": 3}},"
                            "{\"match\": \"team-vision\", \"limits\": {\"maxGpuPerNode\": 4}},"
                            "{\"match\": \"a*\", \"limits\": {\"maxGpuPerNode\": 6}},"
                            "{\"match\": \"*a\", \"limits\": {\"maxGpuPerNode\": 9}},"
                            "{\"match\": \"team-?b\", \"limits\": {\"maxGpuPerNode\": 7}}]}");

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct context ctx = { .namespace = cases[i].namespace };

        policy_apply(p, &ctx);
        assert_string_equal(ctx.settings->rule, cases[i].rule);
        assert_int_equal(ctx.settings->max_gpu_per_node, cases[i].gpus);
    }
    policy_unref(p);
}

/* A namespaces[] entry replaces the cluster's keys one by one. */
static void test_key_by_key(void **state)
{
    struct policy *p = load(
        "{" HEAD ", \"defaults\": {\"endpoint\": \"http://minio.corp:9000\", " HELPERS("a.io/") "},"
        " \"limits\": {\"maxGpuPerNode\": 8, \"maxTotalGpus\": 10},"
        " \"allow\": {\"imageRegistries\": [\"a.io/\", " CONVERTER "], \"sourceUriSchemes\": [\"s3\"]},"
        " \"namespaces\": [{\"match\": \"team-*\", \"defaults\": {\"port\": 9000, " HELPERS("b.io/") "},"
        "   \"limits\": {\"maxGpuPerNode\": 2}, \"allow\": {\"imageRegistries\": [\"b.io/\", " CONVERTER "]}}]}");
    struct context ctx = { .namespace = "team-a" };

    (void)state;
    policy_apply(p, &ctx);
    assert_string_equal(ctx.settings->endpoint, "http://minio.corp:9000");
    assert_int_equal(ctx.settings->port, 9000);
    assert_int_equal(ctx.settings->max_gpu_per_node, 2);
    assert_int_equal(ctx.settings->max_total_gpus, 10);
    assert_int_equal(ctx.settings->max_partitions, 64);
    assert_string_equal(json_string_value(json_array_get(ctx.settings->image_registries, 0)), "b.io/");
    assert_string_equal(json_string_value(json_array_get(ctx.settings->source_uri_schemes, 0)), "s3");
    assert_null(ctx.settings->endpoint_hosts);
    policy_unref(p);
}

static void test_exemption(void **state)
{
    static const struct {
        const char *user;
        const char *groups;     /* JSON, or NULL */
        int exempt;
    } cases[] = {
        { "system:serviceaccount:kubeflow:pipeline-runner", NULL, 1 },
        { "alice", "[\"system:authenticated\", \"system:masters\"]", 1 },
        { "alice", "[\"system:authenticated\"]", 0 },
        { "system:serviceaccount:kubeflow:pipeline", "[]", 0 },
        { NULL, NULL, 0 },
        { "system:masters", NULL, 0 },          /* a user is not a group */
    };
    struct policy *p = load("{" HEAD ", \"exempt\": {\"users\": "
                            "[\"system:serviceaccount:kubeflow:pipeline-runner\"], "
                            "\"groups\": [\"system:masters\"]}}");

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *groups = cases[i].groups ? json_loads(cases[i].groups, 0, NULL) : NULL;
        struct context ctx = { .namespace = "team-a", .username = cases[i].user, .groups = groups };

        policy_apply(p, &ctx);
        assert_int_equal(ctx.exempt, cases[i].exempt);
        json_decref(groups);
    }
    policy_unref(p);
}

static void test_refcount(void **state)
{
    struct policy *p = load("{" HEAD "}");

    (void)state;
    assert_ptr_equal(policy_ref(p), p);
    policy_unref(p);
    policy_unref(p);        /* the last: ASan sees a leak or a double free */
    assert_null(policy_ref(NULL));
    policy_unref(NULL);
}

/* ------------------------------------------------------------ the index */

/* The index alone (mutators/policyindex.h): exact entries by hash, globs
 * filed by literal prefix, by literal suffix, or neither, and the
 * precedence across all of them. */
static void test_index(void **state)
{
    static const struct {
        const char *pattern;
        int glob;
    } entries[] = {
        { "team-a", 0 },        /* 0 */
        { "team-*", 1 },        /* 1: prefix "team-" */
        { "*-prod", 1 },        /* 2: suffix "-prod" */
        { "team-?" "?-prod", 1 },   /* 3: prefix "team-", the longest pattern */
        { "*", 1 },             /* 4: filed under neither */
        { "?x*", 1 },           /* 5: neither: "" and "" */
        { "a*b*c", 1 },         /* 6: prefix "a" and suffix "c": the prefix (ties go to it) */
        { "*ab?", 1 },          /* 7: suffix "" (ends in '?'): filed under neither */
        { "zz-*", 1 },          /* 8: shorter than team-* but another prefix */
        { "t*", 1 },            /* 9 */
        { "b*", 1 },            /* 10: as long as t* and "*a" (11): ties to the first */
        { "*a", 1 },            /* 11 */
    };
    static const struct {
        const char *name;
        size_t want;
    } cases[] = {
        { "team-a", 0 },                /* the exact name wins over every glob */
        { "team-b", 1 },
        { "team-xy-prod", 3 },          /* longer than team-* and *-prod */
        { "team-xyz-prod", 1 },         /* the ?-globs want two bytes; team-* and *-prod tie: the first */
        { "ops-prod", 2 },
        { "-prod", 2 },                 /* '*' matches the empty run */
        { "axbyc", 6 },                 /* a*b*c (5) beats ?x* (3) */
        { "xx", 5 },                    /* ?x* (3) beats * (1) */
        { "qq", 4 },
        { "", 4 },                      /* only "*" matches the empty name */
        { "zz-", 8 },
        { "zab1", 7 },
        { "tab1", 7 },                  /* *ab? (4) beats t* (2) */
        { "tx", 5 },                    /* ?x* (3) beats t* (2) */
        { "ta", 9 },                    /* t* and *a tie at 2: the first */
        { "ba", 10 },                   /* b* and *a tie at 2: the first */
        { "team-*", 1 },                /* a name equal to a glob is matched as a glob */
    };
    struct policyindex *ix = policyindex_new(sizeof(entries) / sizeof(entries[0]) + 1);
    size_t first = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        assert_int_equal(policyindex_add(ix, entries[i].pattern, strlen(entries[i].pattern), entries[i].glob,
                                         i, &first), 0);
    /* the same bytes again, glob or not: refused, naming the first */
    assert_int_equal(policyindex_add(ix, "*-prod", 6, 1, 99, &first), -1);
    assert_int_equal(first, 2);
    assert_int_equal(policyindex_add(ix, "team-a", 6, 0, 99, &first), -1);
    assert_int_equal(first, 0);
    policyindex_build(ix);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = policyindex_find(ix, cases[i].name, strlen(cases[i].name));

        if (got != cases[i].want)
            fail_msg("%s: got %zu, want %zu", cases[i].name, got, cases[i].want);
    }
    /* a name with a NUL inside is never a prefix that passes for another,
     * and no glob sees it (it would see only its first part) */
    assert_int_equal(policyindex_find(ix, "team-a\0x", 8), POLICYINDEX_NONE);
    /* "team-" not NUL-terminated: exact entries only */
    assert_int_equal(policyindex_find(ix, "team-a", 5), POLICYINDEX_NONE);
    policyindex_free(ix);
    policyindex_free(NULL);

    /* exact entries only, as the exempt lists use it */
    ix = policyindex_new(2);
    assert_int_equal(policyindex_add(ix, "system:masters", 14, 0, 0, &first), 0);
    assert_int_equal(policyindex_add(ix, "a*", 2, 0, 1, &first), 0);
    policyindex_build(ix);
    assert_int_equal(policyindex_find(ix, "system:masters", 14), 0);
    assert_int_equal(policyindex_find(ix, "a*", 2), 1);
    assert_int_equal(policyindex_find(ix, "ab", 2), POLICYINDEX_NONE);      /* '*' is a byte here */
    assert_int_equal(policyindex_find(ix, "system:master", 13), POLICYINDEX_NONE);
    policyindex_free(ix);
}

/* Every repeated match is reported at load, each naming its first, with
 * the other problems of the file. */
static void test_duplicates_reported(void **state)
{
    const char *text = "{" HEAD ", \"namespaces\": [{\"match\": \"a\"}, {\"match\": \"b-*\"},"
                       " {\"match\": \"c\"}, {\"match\": \"a\"}, {\"match\": \"b-*\", \"limits\": []},"
                       " {\"match\": \"a\"}, {\"match\": \"B\"}, {\"match\": \"b-?\"}, {\"match\": \"B\"}]}";
    const char *want = "policy.yaml: namespaces[3].match: \"a\" is already matched by namespaces[0]; "
                       "namespaces[4].limits: must be a mapping; "
                       "namespaces[4].match: \"b-*\" is already matched by namespaces[1]; "
                       "namespaces[5].match: \"a\" is already matched by namespaces[0]; "
                       "namespaces[6].match: must be a namespace name, or a glob over one with '*' and '?' "
                       "(at most 63 of [a-z0-9-*?]); "
                       "namespaces[8].match: must be a namespace name, or a glob over one with '*' and '?' "
                       "(at most 63 of [a-z0-9-*?])";

    (void)state;
    expect_refused(text, want);
}

/* The precedence as SPEC §4.8 and policy.h state it, the slow way: every
 * rule tried, with a matcher of its own. */
static int ref_glob(const char *p, const char *s)
{
    if (!*p)
        return !*s;
    if (*p == '*')
        return ref_glob(p + 1, s) || (*s && ref_glob(p, s + 1));
    return *s && (*p == '?' || *p == *s) && ref_glob(p + 1, s + 1);
}

/* The index of the rule for name among n matches (file order), or -1. */
static long ref_rule(char (*matches)[16], size_t n, const char *name)
{
    long best = -1;

    for (size_t i = 0; i < n; i++)
        if (!strpbrk(matches[i], "*?") && !strcmp(matches[i], name))
            return (long)i;
    for (size_t i = 0; i < n; i++)
        if (strpbrk(matches[i], "*?") && ref_glob(matches[i], name) &&
            (best < 0 || strlen(matches[i]) > strlen(matches[best])))
            best = (long)i;
    return best;
}

static unsigned rnd(unsigned long long *seed, unsigned n)
{
    *seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (unsigned)(*seed >> 33) % n;
}

/* A random string of 0..max bytes over the first k of alphabet. */
static void rnd_string(unsigned long long *seed, char *buf, unsigned max, const char *alphabet, unsigned k)
{
    unsigned n = rnd(seed, max + 1);

    for (unsigned i = 0; i < n; i++)
        buf[i] = alphabet[rnd(seed, k)];
    buf[n] = '\0';
}

/* A 10,000-rule policy, exact names and globs over a four-letter alphabet
 * so that many overlap, answers through policy_apply() exactly what the
 * brute-force reference does, for random names and for each rule's own. */
static void test_index_matches_reference(void **state)
{
    enum { RULES = 10000, NAMES = 1500 };
    static char matches[RULES][16];
    static const char alphabet[] = "ab-c*?";
    unsigned long long seed = 19;
    struct strbuf text = STRBUF_INIT;
    json_t *seen = json_object();
    struct policy *p;
    size_t n = 0;
    char name[16];

    (void)state;
    strbuf_addstr(&text, "{" HEAD ", \"namespaces\": [");
    while (n < RULES) {
        char *m = matches[n];

        if (rnd(&seed, 4) == 0) {
            rnd_string(&seed, m, 12, alphabet, 4);          /* an exact name */
        } else {
            rnd_string(&seed, m, 10, alphabet, 6);          /* a glob, at most two '*': the
                                                             * reference backtracks */
            if (!strpbrk(m, "*?"))
                strcat(m, rnd(&seed, 2) ? "*" : "?");
            for (char *s = m, *star = NULL; *s; s++)
                if (*s == '*' && (star = strchr(s + 1, '*')) && strchr(star + 1, '*'))
                    *s = 'a';
        }
        if (!*m || json_object_get(seen, m))
            continue;
        json_object_set_new(seen, m, json_true());
        strbuf_addf(&text, "%s{\"match\": \"%s\"}", n ? ", " : "", m);
        n++;
    }
    strbuf_addstr(&text, "]}");
    p = load(text.buf);
    for (size_t i = 0; i < NAMES + RULES / 10; i++) {
        struct context ctx = { .namespace = name };
        char want[32];
        long r;

        if (i < NAMES) {
            rnd_string(&seed, name, 14, alphabet, 4);
        } else if (i % 2) {
            snprintf(name, sizeof(name), "%s", matches[(i - NAMES) * 10]);    /* '*' and '?' as bytes too */
        } else {
            /* a name the rule matches: its wildcards filled in */
            size_t at = 0;

            for (const char *m = matches[(i - NAMES) * 10]; *m && at < 12; m++)
                if (*m == '?')
                    name[at++] = alphabet[rnd(&seed, 4)];
                else if (*m != '*')
                    name[at++] = *m;
                else
                    for (unsigned k = rnd(&seed, 3); k && at < 12; k--)
                        name[at++] = alphabet[rnd(&seed, 4)];
            name[at] = '\0';
        }
        r = ref_rule(matches, RULES, name);
        snprintf(want, sizeof(want), r < 0 ? "cluster" : "namespaces[%s]", r < 0 ? "" : matches[r]);
        policy_apply(p, &ctx);
        if (strcmp(ctx.settings->rule, want) != 0)
            fail_msg("namespace \"%s\": got %s, want %s", name, ctx.settings->rule, want);
    }
    policy_unref(p);
    json_decref(seen);
    strbuf_release(&text);
}

/* The shape make bench loads: team-N exact and team-N-* globs. */
static void test_bench_shaped_policy(void **state)
{
    static const struct {
        const char *namespace;
        const char *rule;
    } cases[] = {
        { "team-7", "namespaces[team-7]" },
        { "team-8", "cluster" },                        /* team-8-* needs the dash */
        { "team-8-", "namespaces[team-8-*]" },
        { "team-8-x", "namespaces[team-8-*]" },
        { "team-9998-ocr", "namespaces[team-9998-*]" },
        { "team-9999", "namespaces[team-9999]" },
        { "kubeflow", "cluster" },
    };
    struct strbuf text = STRBUF_INIT;
    struct policy *p;

    (void)state;
    strbuf_addstr(&text, "{" HEAD ", \"namespaces\": [");
    for (int i = 0; i < 10000; i++)
        strbuf_addf(&text, "%s{\"match\": \"team-%d%s\"}", i ? ", " : "", i, i % 2 ? "" : "-*");
    strbuf_addstr(&text, "]}");
    p = load(text.buf);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct context ctx = { .namespace = cases[i].namespace };

        policy_apply(p, &ctx);
        assert_string_equal(ctx.settings->rule, cases[i].rule);
    }
    policy_unref(p);
    strbuf_release(&text);
}

/* ------------------------------------------------------------ enforcement */

static const char training[] =
    "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"Training\","
    " \"metadata\": {\"name\": \"ocr\", \"namespace\": \"team-a\"},"
    " \"spec\": {\"project\": \"PaddleOCR\", \"image\": \"registry.baidubce.com/paddle/paddle:2.5\","
    " \"configPath\": \"configs/det.yml\", \"dataset\": \"ds\", \"pvcName\": \"pvc\","
    " \"workerReplicas\": 2, \"gpuPerNode\": 1, \"saveInference\": false}}";

static const char dataset[] =
    "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"Dataset\","
    " \"metadata\": {\"name\": \"ds\", \"namespace\": \"team-a\"},"
    " \"spec\": {\"sourceUri\": \"s3://bucket/data\", \"sourceSecret\": \"s3\", \"partitions\": 2}}";

static const char serving[] =
    "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"Serving\","
    " \"metadata\": {\"name\": \"ocr\", \"namespace\": \"team-a\"},"
    " \"spec\": {\"image\": \"registry.baidubce.com/paddle/serving:0.9\"}}";

/* Validates manifest with spec fields set from the JSON object patch (may be
 * NULL) under policy text (NULL: none), as user in namespace team-a.
 * Returns a new list of the errors. */
static struct fielderr_list judge(const char *policy_text, const char *manifest, const char *patch,
                                  const char *user)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct policy *p = policy_text ? load(policy_text) : NULL;
    json_t *obj = json_loads(manifest, 0, NULL), *warnings = json_array();
    json_t *extra = patch ? json_loads(patch, 0, NULL) : NULL;
    struct context ctx = { .namespace = "team-a", .username = user };

    assert_non_null(obj);
    if (extra)
        json_object_update(json_object_get(obj, "spec"), extra);
    policy_apply(p, &ctx);
    kinds_validate(kinds_of_object(obj), obj, &ctx, &errs, warnings);
    json_decref(extra);
    json_decref(warnings);
    json_decref(obj);
    policy_unref(p);
    return errs;
}

/* Asserts errs is exactly one policy denial at path whose detail holds each
 * of the NULL-terminated strings; releases errs. */
static void expect_denial(struct fielderr_list *errs, const char *path, ...)
{
    va_list ap;
    const char *want;

    if (errs->len != 1) {
        for (size_t i = 0; i < errs->len; i++) {
            char *s = fielderr_string(&errs->v[i]);

            print_message("  error: %s\n", s);
            free(s);
        }
        fail_msg("want one denial at %s, got %zu errors", path, errs->len);
    }
    assert_string_equal(errs->v[0].path, path);
    assert_int_equal(errs->v[0].type, FIELDERR_FORBIDDEN);
    assert_true(fielderr_all_policy(errs));
    va_start(ap, path);
    while ((want = va_arg(ap, const char *)))
        if (!strstr(errs->v[0].detail, want))
            fail_msg("%s: detail \"%s\" lacks \"%s\"", path, errs->v[0].detail, want);
    va_end(ap);
    fielderr_release(errs);
}

static void expect_none(struct fielderr_list *errs)
{
    if (errs->len) {
        char *s = fielderr_string(&errs->v[0]);

        fail_msg("want no error, got %zu: %s", errs->len, s);
    }
    fielderr_release(errs);
}

static void test_limits(void **state)
{
    static const struct {
        const char *limits, *manifest;
        const char *over, *at;      /* spec patches: one past the limit, one at it */
        const char *path, *limit;
    } cases[] = {
        { "\"maxGpuPerNode\": 2", training, "{\"gpuPerNode\": 3}", "{\"gpuPerNode\": 2}",
          "spec.gpuPerNode", "maxGpuPerNode=2" },
        { "\"maxWorkerReplicas\": 4", training, "{\"workerReplicas\": 5}", "{\"workerReplicas\": 4}",
          "spec.workerReplicas", "maxWorkerReplicas=4" },
        { "\"maxPsReplicas\": 1", training, "{\"psReplicas\": 2}", "{\"psReplicas\": 1}",
          "spec.psReplicas", "maxPsReplicas=1" },
        { "\"maxTotalGpus\": 8", training, "{\"workerReplicas\": 3, \"gpuPerNode\": 3}",
          "{\"workerReplicas\": 4, \"gpuPerNode\": 2}", "spec.gpuPerNode", "maxTotalGpus=8" },
        { "\"maxPartitions\": 4", dataset, "{\"partitions\": 5}", "{\"partitions\": 4}",
          "spec.partitions", "maxPartitions=4" },
        { "\"maxGpuPerNode\": 0", training, "{\"gpuPerNode\": 1}", "{\"gpuPerNode\": 0}",
          "spec.gpuPerNode", "maxGpuPerNode=0" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cluster[256], ns[256];
        struct fielderr_list errs;

        snprintf(cluster, sizeof(cluster), "{" HEAD ", \"limits\": {%s}}", cases[i].limits);
        snprintf(ns, sizeof(ns), "{" HEAD ", \"namespaces\": [{\"match\": \"team-*\", \"limits\": {%s}}]}",
                 cases[i].limits);
        errs = judge(cluster, cases[i].manifest, cases[i].over, "alice");
        expect_denial(&errs, cases[i].path, cases[i].limit, "policy rule: cluster", NULL);
        errs = judge(ns, cases[i].manifest, cases[i].over, "alice");
        expect_denial(&errs, cases[i].path, cases[i].limit, "policy rule: namespaces[team-*]", NULL);
        /* at the limit is fine; an exempt user is not limited */
        errs = judge(cluster, cases[i].manifest, cases[i].at, "alice");
        expect_none(&errs);
        snprintf(cluster, sizeof(cluster), "{" HEAD ", \"limits\": {%s}, \"exempt\": {\"users\": [\"root\"]}}",
                 cases[i].limits);
        errs = judge(cluster, cases[i].manifest, cases[i].over, "root");
        expect_none(&errs);
    }
}

/* Issue 18: workerReplicas x gpuPerNode was a plain 64-bit product, so
 * 2^62 x 4 wrapped to 0 and passed maxTotalGpus=8. Now the product is
 * checked, and the value is refused as past the CRD's int32 besides. */
static void test_total_gpus_cannot_overflow(void **state)
{
    static const char *const patches[] = {
        "{\"workerReplicas\": 4611686018427387904, \"gpuPerNode\": 4}",
        "{\"workerReplicas\": 9223372036854775807, \"gpuPerNode\": 2}",
        "{\"workerReplicas\": 2305843009213693953, \"gpuPerNode\": 8}",
    };
    const char *policy = "{" HEAD ", \"limits\": {\"maxTotalGpus\": 8}}";

    (void)state;
    for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
        struct fielderr_list errs = judge(policy, training, patches[i], "alice");
        int range = 0, total = 0;

        for (size_t j = 0; j < errs.len; j++) {
            if (!strcmp(errs.v[j].path, "spec.workerReplicas") && errs.v[j].type == FIELDERR_INVALID &&
                strstr(errs.v[j].detail, "less than or equal to 2147483647"))
                range++;
            if (!strcmp(errs.v[j].path, "spec.gpuPerNode") && errs.v[j].policy &&
                strstr(errs.v[j].detail, "exceeds the limit maxTotalGpus=8"))
                total++;
        }
        if (range != 1 || total != 1)
            fail_msg("%s: %zu errors, int32 %d, maxTotalGpus %d", patches[i], errs.len, range, total);
        assert_false(fielderr_all_policy(&errs));   /* a 422: the field error with the denial */
        fielderr_release(&errs);
    }
}

/* An absent limit keeps the built-in cap, and names it. */
static void test_builtin_caps(void **state)
{
    struct fielderr_list errs = judge("{" HEAD "}", training, "{\"gpuPerNode\": 17}", "alice");

    (void)state;
    expect_denial(&errs, "spec.gpuPerNode", "maxGpuPerNode=16", "policy rule: cluster", NULL);
    errs = judge(NULL, dataset, "{\"partitions\": 65}", "alice");
    expect_denial(&errs, "spec.partitions", "maxPartitions=64", "policy rule: built-in", NULL);
}

static void test_allow_lists(void **state)
{
    static const struct {
        const char *allow, *manifest, *patch;
        const char *path;           /* NULL: allowed */
        const char *detail;
        const char *endpoint;       /* defaults.endpoint, or NULL for the built-in */
    } cases[] = {
        /* imageRegistries: prefixes, at a boundary, tried fully qualified */
        { "\"imageRegistries\": [\"docker.io/paddle/\"]", training, NULL, "spec.image",
          "image \"registry.baidubce.com/paddle/paddle:2.5\" is not under any prefix in "
          "allow.imageRegistries [\"docker.io/paddle/\", \"helpers.io/\", " CONVERTER "] (policy rule: cluster)", NULL },
        { "\"imageRegistries\": [\"registry.baidubce.com/\"]", training, NULL, NULL, NULL, NULL },
        { "\"imageRegistries\": [\"registry.baidubce.com/paddle/paddle\"]", training, NULL, NULL, NULL, NULL },
        { "\"imageRegistries\": [\"registry.baidubce.com/paddle/pad\"]", training, NULL, "spec.image",
          "allow.imageRegistries", NULL },
        { "\"imageRegistries\": [\"registry.baidubce.com\"]", training,
          "{\"image\": \"registry.baidubce.com.evil.io/x:1\"}", "spec.image", "allow.imageRegistries", NULL },
        { "\"imageRegistries\": [\"docker.io/paddlepaddle/\"]", training,
          "{\"image\": \"paddlepaddle/paddle:2.5\"}", NULL, NULL, NULL },
        { "\"imageRegistries\": [\"docker.io/library/\"]", training, "{\"image\": \"python:3\"}", NULL, NULL, NULL },
        { "\"imageRegistries\": [\"paddlepaddle/\"]", training, "{\"image\": \"paddlepaddle/paddle:2.5\"}",
          NULL, NULL, NULL },
        { "\"imageRegistries\": [\"a.io/\", \"registry.baidubce.com/paddle/\"]", serving, NULL, NULL, NULL, NULL },
        /* a bracketed IPv6 registry is a prefix like any other */
        { "\"imageRegistries\": [\"[fd00::1]:5000/\"]", training,
          "{\"image\": \"[fd00::1]:5000/team/ocr:1\"}", NULL, NULL, NULL },
        { "\"imageRegistries\": [\"[fd00::1]:5000/\"]", training,
          "{\"image\": \"[fd00::1]:5001/team/ocr:1\"}", "spec.image", "allow.imageRegistries", NULL },
        /* an upper-case first component is a registry (splitDockerDomain),
         * not a Docker Hub namespace: "docker.io/" does not cover it */
        { "\"imageRegistries\": [\"docker.io/\"]", training, "{\"image\": \"Evil/miner:1\"}", "spec.image",
          "image \"Evil/miner:1\" is not under any prefix in allow.imageRegistries", NULL },
        /* sourceUriSchemes */
        { "\"sourceUriSchemes\": [\"bos\", \"s3\"]", dataset, NULL, NULL, NULL, NULL },
        { "\"sourceUriSchemes\": [\"bos\"]", dataset, NULL, "spec.sourceUri",
          "scheme \"s3\" is not in allow.sourceUriSchemes [\"bos\"] (policy rule: cluster)", NULL },
        /* endpointHosts: spec.endpoint (defaulted too) */
        { "\"endpointHosts\": [\"minio-service.kubeflow\"]", serving, NULL, NULL, NULL, NULL },
        { "\"endpointHosts\": [\"*.corp\"]", serving, "{\"endpoint\": \"http://minio.corp:9000\"}", NULL, NULL,
          "http://s3.corp" },
        { "\"endpointHosts\": [\"minio.corp\"]", serving, "{\"endpoint\": \"https://MINIO.corp\"}", NULL, NULL,
          "http://minio.corp" },
        { "\"endpointHosts\": [\"*.corp\"]", serving, "{\"endpoint\": \"http://minio-service.kubeflow:9000\"}",
          "spec.endpoint", "host \"minio-service.kubeflow\" is not in allow.endpointHosts [\"*.corp\"]",
          "http://minio.corp:9000" },
        /* pretrainModelHosts */
        { "\"pretrainModelHosts\": [\"paddleocr.bj.bcebos.com\"]", training,
          "{\"pretrainModel\": \"https://paddleocr.bj.bcebos.com/x/det.pdparams\"}", NULL, NULL, NULL },
        { "\"pretrainModelHosts\": [\"paddleocr.bj.bcebos.com\"]", training,
          "{\"pretrainModel\": \"https://evil.example.com/det.pdparams\"}", "spec.pretrainModel",
          "host \"evil.example.com\" is not in allow.pretrainModelHosts", NULL },
        /* other lists do not judge what they do not name */
        { "\"endpointHosts\": [\"nowhere\"], \"pretrainModelHosts\": [\"nowhere\"]", dataset, NULL, NULL, NULL,
          "http://nowhere:9000" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], allow[512], endpoint[128] = "";
        const char *list = strstr(cases[i].allow, "\"imageRegistries\": [");
        const char *end = list ? strstr(list, "\"]") : NULL;
        struct fielderr_list errs;

        /* the helpers and the converter join every imageRegistries list */
        if (end)
            snprintf(allow, sizeof(allow), "%.*s, \"helpers.io/\", " CONVERTER "%s",
                     (int)(end + 1 - cases[i].allow), cases[i].allow, end + 1);
        else
            snprintf(allow, sizeof(allow), "%s", cases[i].allow);
        if (cases[i].endpoint)
            snprintf(endpoint, sizeof(endpoint), ", \"endpoint\": \"%s\"", cases[i].endpoint);
        snprintf(text, sizeof(text), "{" HEAD ", \"defaults\": {" HELPERS("helpers.io/") "%s}, "
                 "\"allow\": {%s}}", endpoint, allow);
        print_message("case %zu: %s\n", i, cases[i].allow);
        errs = judge(text, cases[i].manifest, cases[i].patch, "alice");
        if (cases[i].path)
            expect_denial(&errs, cases[i].path, cases[i].detail, NULL);
        else
            expect_none(&errs);
    }
}

static void test_allow_exempt_and_absent(void **state)
{
    const char *text = "{" HEAD ", \"defaults\": {" HELPERS("a.io/") "}, \"allow\": {\"imageRegistries\": "
                       "[\"a.io/\", " CONVERTER "], \"sourceUriSchemes\": [\"bos\"]}, "
                       "\"exempt\": {\"groups\": [\"ops\"]}}";
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *obj = json_loads(dataset, 0, NULL), *groups = json_pack("[s]", "ops");
    struct policy *p = load(text);
    struct context ctx = { .namespace = "team-a", .username = "bob", .groups = groups };

    (void)state;
    policy_apply(p, &ctx);
    assert_true(ctx.exempt);
    policy_check(obj, NULL, &ctx, &errs);
    expect_none(&errs);
    errs = judge(NULL, training, "{\"image\": \"anything.io/x:1\"}", "alice");
    expect_none(&errs);
    json_decref(groups);
    json_decref(obj);
    policy_unref(p);
}

/* A spec field that already has an error is not judged again. */
static void test_skips_fields_in_error(void **state)
{
    struct fielderr_list errs = judge("{" HEAD ", \"defaults\": {" HELPERS("a.io/") "}, \"allow\": "
                                      "{\"imageRegistries\": [\"a.io/\", " CONVERTER "]}}",
                                      training, "{\"image\": \"Bad Image\"}", "alice");

    (void)state;
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.v[0].path, "spec.image");
    assert_int_equal(errs.v[0].type, FIELDERR_INVALID);
    assert_false(fielderr_all_policy(&errs));
    fielderr_release(&errs);
}

/* The children's containers, whatever their kind: images and URLs. */
static void test_children_walk(void **state)
{
    const char *children_text =
        "[{\"kind\": \"PaddleJob\", \"spec\": {\"worker\": {\"template\": {\"spec\": {"
        "   \"initContainers\": [{\"image\": \"curl:8\", \"args\": [\"-o\", \"f\", "
        "                         \"https://models.example.com/det.pdparams\"]}],"
        "   \"containers\": [{\"image\": \"a.io/train:1\"}]}}}}},"
        " {\"kind\": \"Job\", \"spec\": {\"template\": {\"spec\": {\"containers\": ["
        "   {\"image\": \"a.io/mc:1\", \"args\": [\"http://minio.ok:9000\", \"http://leak.example.com/x\"]},"
        "   {\"image\": \"b.io/mc:1\", \"env\": [{\"name\": \"STORAGE_URI\","
        "                                         \"value\": \"https://other.example.com/m.tar.gz\"},"
        "                                        {\"name\": \"X\", \"valueFrom\": {}}]}]}}}}]";
    const char *spec_text =
        "{\"spec\": {\"image\": \"a.io/train:1\", \"endpoint\": \"http://minio.ok:9000\","
        " \"pretrainModel\": \"https://models.example.com/det.pdparams\"}}";
    struct policy *p = load("{" HEAD ", \"defaults\": {\"endpoint\": \"http://minio.ok:9000\", " HELPERS("a.io/")
                            "}, \"allow\": {\"imageRegistries\": [\"a.io/\", " CONVERTER "], "
                            "\"endpointHosts\": [\"minio.ok\"], \"pretrainModelHosts\": [\"*.example.com\"]}}");
    json_t *children = json_loads(children_text, 0, NULL), *obj = json_loads(spec_text, 0, NULL);
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    struct context ctx = { .namespace = "team-a" };
    static const char *const want[] = {
        "spec.generated[0].spec.worker.template.spec.initContainers[0].image",
        "spec.generated[1].spec.template.spec.containers[0].args[1]",
        "spec.generated[1].spec.template.spec.containers[1].image",
        "spec.generated[1].spec.template.spec.containers[1].env[0].value",
    };

    (void)state;
    assert_non_null(children);
    policy_apply(p, &ctx);
    policy_check(obj, children, &ctx, &errs);
    for (size_t i = 0; i < errs.len; i++)
        print_message("  %s: %s\n", errs.v[i].path, errs.v[i].detail);
    assert_int_equal(errs.len, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < errs.len; i++) {
        assert_string_equal(errs.v[i].path, want[i]);
        assert_true(errs.v[i].policy);
    }
    assert_non_null(strstr(errs.v[1].detail, "host \"leak.example.com\" is not in allow.endpointHosts"));
    fielderr_release(&errs);
    json_decref(children);
    json_decref(obj);
    policy_unref(p);
}

/* The rendered children of a real kind are walked: the default downloader
 * image. A loaded policy can no longer put it outside its own list (see
 * test_defaults_inside_allow_lists), so these settings are made by hand,
 * as a policy that changed under an object would be. */
static void test_rendered_children(void **state)
{
    struct fielderr_list errs = FIELDERR_LIST_INIT;
    json_t *list = json_pack("[s]", "registry.baidubce.com/"), *warnings = json_array();
    json_t *obj = json_loads(training, 0, NULL);
    struct settings st = policy_builtin;
    struct context ctx = { .namespace = "team-a", .settings = &st };

    (void)state;
    st.image_registries = list;
    json_object_set_new(json_object_get(obj, "spec"), "pretrainModel",
                        json_string("https://paddleocr.bj.bcebos.com/det.pdparams"));
    kinds_validate(kinds_of_object(obj), obj, &ctx, &errs, warnings);
    expect_denial(&errs, "spec.generated[0].spec.worker.template.spec.initContainers[0].image",
                  "image \"curlimages/curl:8.5.0\"", NULL);
    json_decref(obj);
    json_decref(warnings);
    json_decref(list);
}

/* ------------------------------------------------------------ files */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_policyfile(void **state)
{
    char dir[] = "/tmp/paddlex-policy-XXXXXX", path[128], err[POLICYFILE_MAX_ERROR], want[256];
    struct policy *p;
    struct context ctx = { .namespace = "team-a" };
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/policy.yaml", dir);

    write_file(path, "apiVersion: paddlex.paddlepaddle.org/v1alpha1\nkind: WebhookPolicy\n"
                     "namespaces:\n- match: team-*\n  limits: {maxGpuPerNode: 2}\n");
    p = policyfile_load(path, err, sizeof(err));
    assert_non_null(p);
    policy_apply(p, &ctx);
    assert_int_equal(ctx.settings->max_gpu_per_node, 2);
    policy_unref(p);

    write_file(path, "{\"apiVersion\": \"paddlex.paddlepaddle.org/v1alpha1\", \"kind\": \"WebhookPolicy\","
                     " \"limits\": {\"maxPartitions\": 3}}");
    p = policyfile_load(path, err, sizeof(err));
    assert_non_null(p);
    policy_unref(p);

    write_file(path, "apiVersion: paddlex.paddlepaddle.org/v1alpha1\nkind: WebhookPolicy\n"
                     "namespaces:\n- match: a\n- match: b\n  limits:\n    maxGpuPerNode: -1\n");
    assert_null(policyfile_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: namespaces[1].limits.maxGpuPerNode: must be an integer ≥ 0", path);
    assert_string_equal(err, want);

    write_file(path, "apiVersion: paddlex.paddlepaddle.org/v1alpha1\nkind: WebhookPolicy\n"
                     "limits: {maxGpuPerNode: 1, maxGpuPerNode: 2}\n");
    assert_null(policyfile_load(path, err, sizeof(err)));
    assert_non_null(strstr(err, path));

    write_file(path, "kind: WebhookPolicy\n---\nkind: WebhookPolicy\n");
    assert_null(policyfile_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: holds 2 documents, want one WebhookPolicy", path);
    assert_string_equal(err, want);

    write_file(path, "");
    assert_null(policyfile_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: holds 0 documents, want one WebhookPolicy", path);
    assert_string_equal(err, want);

    write_file(path, "limits: [\n");
    assert_null(policyfile_load(path, err, sizeof(err)));
    assert_int_equal(strncmp(err, path, strlen(path)), 0);

    f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 0; i <= POLICYFILE_MAX_BYTES / 16; i++)
        fputs("# padding lines\n", f);   /* 16 bytes */
    fclose(f);
    assert_null(policyfile_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: larger than %u bytes", path, POLICYFILE_MAX_BYTES);
    assert_string_equal(err, want);

    unlink(path);
    assert_null(policyfile_load(path, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(err, want);

    assert_null(policyfile_load(dir, err, sizeof(err)));
    snprintf(want, sizeof(want), "%s: not a regular file", dir);
    assert_string_equal(err, want);
    rmdir(dir);
}

/* The shipped example loads (tests run from the top of the tree). */
static void test_example(void **state)
{
    char err[POLICYFILE_MAX_ERROR] = "";
    struct policy *p = policyfile_load("examples/policy.yaml", err, sizeof(err));
    struct context ctx = { .namespace = "team-vision", .username = "alice" };

    (void)state;
    if (!p)
        fail_msg("%s", err);
    policy_apply(p, &ctx);
    assert_string_equal(ctx.settings->rule, "namespaces[team-vision]");
    assert_int_equal(ctx.settings->max_gpu_per_node, 4);
    assert_int_equal(ctx.settings->max_worker_replicas, 16);
    assert_false(ctx.exempt);
    policy_unref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strict_loading),
        cmocka_unit_test(test_every_problem_at_once),
        cmocka_unit_test(test_defaults_inside_allow_lists),
        cmocka_unit_test(test_operator_and_pod_defaults),
        cmocka_unit_test(test_minimal_and_empty_sections),
        cmocka_unit_test(test_builtin_without_policy),
        cmocka_unit_test(test_defaults_normalized),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_key_by_key),
        cmocka_unit_test(test_exemption),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_duplicates_reported),
        cmocka_unit_test(test_index_matches_reference),
        cmocka_unit_test(test_bench_shaped_policy),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_total_gpus_cannot_overflow),
        cmocka_unit_test(test_builtin_caps),
        cmocka_unit_test(test_allow_lists),
        cmocka_unit_test(test_allow_exempt_and_absent),
        cmocka_unit_test(test_skips_fields_in_error),
        cmocka_unit_test(test_children_walk),
        cmocka_unit_test(test_rendered_children),
        cmocka_unit_test(test_policyfile),
        cmocka_unit_test(test_example),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
