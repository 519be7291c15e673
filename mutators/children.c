/*
 * children.c - shared builders of generated children.
 */
#include "mutators/children.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutators/kinds.h"
#include "mutators/strbuf.h"

#define COMPONENT_LABEL "app.kubernetes.io/component"

json_t *children_literal(const char *s)
{
    struct strbuf sb = STRBUF_INIT;
    json_t *v;

    if (!strchr(s, '$'))
        return json_string(s);
    for (; *s; s++) {
        if (*s == '$')
            strbuf_addch(&sb, '$');
        strbuf_addch(&sb, *s);
    }
    v = json_stringn(sb.buf, sb.len);
    strbuf_release(&sb);
    return v;
}

void children_arg(json_t *args, const char *s)
{
    json_array_append_new(args, children_literal(s));
}

void children_argf(json_t *args, const char *fmt, ...)
{
    va_list ap;
    char *s;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        abort();
    children_arg(args, s);
    free(s);
}

json_t *children_args(const char *const *list)
{
    json_t *args = json_array();

    for (; *list; list++)
        children_arg(args, *list);
    return args;
}

json_t *children_container(const char *name, const char *image, const char *const *command,
                           json_t *args)
{
    json_t *c = json_pack("{s:s, s:s}", "name", name, "image", image), *cmd = json_array();

    for (; command && *command; command++)
        json_array_append_new(cmd, json_string(*command));
    json_object_set_new(c, "command", cmd);
    if (args)
        json_object_set_new(c, "args", args);
    return c;
}

/* container[field] as an array, created when absent (borrowed). */
static json_t *list_of(json_t *obj, const char *field)
{
    json_t *a = json_object_get(obj, field);

    if (!a) {
        a = json_array();
        json_object_set_new(obj, field, a);
    }
    return a;
}

void children_mount(json_t *container, const char *volume, const char *path, int read_only)
{
    json_t *m = json_pack("{s:s, s:s}", "name", volume, "mountPath", path);

    if (read_only)
        json_object_set_new(m, "readOnly", json_true());
    json_array_append_new(list_of(container, "volumeMounts"), m);
}

void children_env(json_t *container, const char *name, const char *value)
{
    json_array_append_new(list_of(container, "env"),
                          json_pack("{s:s, s:o}", "name", name, "value", children_literal(value)));
}

void children_env_secret(json_t *container, const char *name, const char *secret, const char *key)
{
    json_array_append_new(list_of(container, "env"),
                          json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", name, "valueFrom",
                                    "secretKeyRef", "name", secret, "key", key));
}

void children_gpus(json_t *container, long long gpus)
{
    json_object_set_new(container, "resources",
                        json_pack("{s:{s:I}}", "limits", "nvidia.com/gpu", (json_int_t)gpus));
}

json_t *children_volume_claim(const char *name, const char *claim)
{
    return json_pack("{s:s, s:{s:s}}", "name", name, "persistentVolumeClaim", "claimName", claim);
}

json_t *children_volume_empty(const char *name, const char *medium)
{
    json_t *dir = medium ? json_pack("{s:s}", "medium", medium) : json_object();

    return json_pack("{s:s, s:o}", "name", name, "emptyDir", dir);
}

json_t *children_pod_labels(const json_t *child, const char *component)
{
    json_t *labels = json_copy(json_object_get(json_object_get(child, "metadata"), "labels"));

    if (!labels)
        labels = json_object();
    json_object_set_new(labels, COMPONENT_LABEL, json_string(component));
    return labels;
}

json_t *children_pod_template(const json_t *child, const char *component, json_t *pod_spec)
{
    return json_pack("{s:{s:o}, s:o}", "metadata", "labels", children_pod_labels(child, component),
                     "spec", pod_spec);
}

json_t *children_job(const json_t *owner, const char *name, const char *after,
                     const char *component, json_t *pod_spec)
{
    json_t *job = kinds_child(owner, "batch/v1", "Job", name, after);

    json_object_set_new(pod_spec, "restartPolicy", json_string("Never"));
    json_object_set_new(job, "spec",
                        json_pack("{s:i, s:o}", "backoffLimit", CHILDREN_JOB_BACKOFF_LIMIT,
                                  "template", children_pod_template(job, component, pod_spec)));
    return job;
}
