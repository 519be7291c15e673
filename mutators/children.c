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
        return json_string_nocheck(s);
    for (; *s; s++) {
        if (*s == '$')
            strbuf_addch(&sb, '$');
        strbuf_addch(&sb, *s);
    }
    v = json_stringn_nocheck(sb.buf, sb.len);
    strbuf_release(&sb);
    return v;
}

json_t *children_str(const char *s)
{
    return json_string_nocheck(s);
}

json_t *children_obj(const char *key, json_t *value, ...)
{
    json_t *o = json_object();
    va_list ap;

    va_start(ap, value);
    while (key) {
        json_object_set_new_nocheck(o, key, value);
        key = va_arg(ap, const char *);
        if (key)
            value = va_arg(ap, json_t *);
    }
    va_end(ap);
    return o;
}

json_t *children_list(json_t *value, ...)
{
    json_t *a = json_array();
    va_list ap;

    va_start(ap, value);
    for (; value; value = va_arg(ap, json_t *))
        json_array_append_new(a, value);
    va_end(ap);
    return a;
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
    json_t *c = children_obj("name", children_str(name), "image", children_str(image), NULL);
    json_t *cmd = json_array();

    for (; command && *command; command++)
        json_array_append_new(cmd, children_str(*command));
    json_object_set_new_nocheck(c, "command", cmd);
    if (args)
        json_object_set_new_nocheck(c, "args", args);
    return c;
}

/* container[field] as an array, created when absent (borrowed). */
static json_t *list_of(json_t *obj, const char *field)
{
    json_t *a = json_object_get(obj, field);

    if (!a) {
        a = json_array();
        json_object_set_new_nocheck(obj, field, a);
    }
    return a;
}

void children_mount(json_t *container, const char *volume, const char *path, int read_only)
{
    json_t *m = children_obj("name", children_str(volume), "mountPath", children_str(path), NULL);

    if (read_only)
        json_object_set_new_nocheck(m, "readOnly", json_true());
    json_array_append_new(list_of(container, "volumeMounts"), m);
}

void children_env(json_t *container, const char *name, const char *value)
{
    json_array_append_new(list_of(container, "env"),
                          children_obj("name", children_str(name), "value", children_literal(value), NULL));
}

void children_env_secret(json_t *container, const char *name, const char *secret, const char *key)
{
    json_array_append_new(list_of(container, "env"),
                          children_obj("name", children_str(name), "valueFrom",
                                       children_obj("secretKeyRef",
                                                    children_obj("name", children_str(secret), "key",
                                                                 children_str(key), NULL),
                                                    NULL),
                                       NULL));
}

void children_gpus(json_t *container, long long gpus)
{
    json_object_set_new_nocheck(container, "resources",
                                children_obj("limits", children_obj("nvidia.com/gpu", json_integer(gpus), NULL),
                                             NULL));
}

json_t *children_volume_claim(const char *name, const char *claim)
{
    return children_obj("name", children_str(name), "persistentVolumeClaim",
                        children_obj("claimName", children_str(claim), NULL), NULL);
}

json_t *children_volume_empty(const char *name, const char *medium)
{
    json_t *dir = medium ? children_obj("medium", children_str(medium), NULL) : json_object();

    return children_obj("name", children_str(name), "emptyDir", dir, NULL);
}

json_t *children_pod_labels(const json_t *child, const char *component)
{
    json_t *labels = json_copy(json_object_get(json_object_get(child, "metadata"), "labels"));

    if (!labels)
        labels = json_object();
    json_object_set_new_nocheck(labels, COMPONENT_LABEL, children_str(component));
    return labels;
}

json_t *children_pod_template(const json_t *child, const char *component, json_t *pod_spec)
{
    return children_obj("metadata", children_obj("labels", children_pod_labels(child, component), NULL),
                        "spec", pod_spec, NULL);
}

json_t *children_job(const json_t *owner, const char *name, const char *after,
                     const char *component, json_t *pod_spec)
{
    json_t *job = kinds_child(owner, "batch/v1", "Job", name, after);

    json_object_set_new_nocheck(pod_spec, "restartPolicy", children_str("Never"));
    json_object_set_new_nocheck(job, "spec",
                                children_obj("backoffLimit", json_integer(CHILDREN_JOB_BACKOFF_LIMIT),
                                             "template", children_pod_template(job, component, pod_spec),
                                             NULL));
    return job;
}
