/*
 * policyfile.c - a policy file from disk: read under a cap, YAML or JSON to
 * json_t (webhook/yaml.h), then mutators/policy.c's strict parser.
 */
#include "webhook/policyfile.h"

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "mutators/json/readfile.h"
#include "mutators/policy.h"
#include "webhook/yaml.h"

struct policy *policyfile_load(const char *path, char *err, size_t errlen)
{
    char yerr[YAML_MAX_ERROR];
    struct policy *p = NULL;
    json_t *docs = NULL;
    size_t len;
    char *buf = NULL;

    /* only a regular file, never blocking: the reload thread must not wait on a FIFO */
    if (readfile_path(path, POLICYFILE_MAX_BYTES, 0, &buf, &len, err, errlen) < 0)
        return NULL;
    docs = yaml_load_all(buf, len, yerr);
    if (!docs)
        snprintf(err, errlen, "%s: %s", path, yerr);
    else if (json_array_size(docs) != 1)
        snprintf(err, errlen, "%s: holds %zu documents, want one " POLICY_KIND, path,
                 json_array_size(docs));
    else
        p = policy_parse(json_array_get(docs, 0), path, err, errlen);
    json_decref(docs);
    free(buf);
    return p;
}
