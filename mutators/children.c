/*
 * children.c - shared builders of generated children.
 */
#include "mutators/children.h"

#include <stdarg.h>
#include <string.h>

#include "mutators/kinds.h"
#include "mutators/strbuf.h"

#define COMPONENT_LABEL "app.kubernetes.io/component"

struct node *children_literal(const char *s)
{
    const char *dollar = strchrnul(s, '$');
    struct strbuf sb = STRBUF_INIT;
    struct node *v;

    if (!*dollar)
        return node_strn(s, (size_t)(dollar - s));
    for (; *s; s++) {
        if (*s == '$')
            strbuf_addch(&sb, '$');
        strbuf_addch(&sb, *s);
    }
    v = node_str(node_cat(sb.buf, NULL));      /* node strings are borrowed */
    strbuf_release(&sb);
    return v;
}

void children_arg(struct node *args, const char *s)
{
    node_append(args, children_literal(s));
}

void children_argcat(struct node *args, ...)
{
    va_list ap;

    va_start(ap, args);
    children_arg(args, node_vcat(ap));
    va_end(ap);
}

struct node *children_args(const char *const *list)
{
    struct node *args = node_array();

    for (; *list; list++)
        children_arg(args, *list);
    return args;
}

struct node *children_container(const char *name, const char *image, const char *const *command,
                           struct node *args)
{
    struct node *c = node_obj("name", node_str(name), "image", node_str(image), NULL);
    struct node *cmd = node_array();

    for (; command && *command; command++)
        node_append(cmd, node_str(*command));
    node_set(c, "command", cmd);
    if (args)
        node_set(c, "args", args);
    return c;
}

/* container[field] as an array, created when absent (borrowed). */
static struct node *list_of(struct node *obj, const char *field)
{
    struct node *a = node_get(obj, field);

    if (!a) {
        a = node_array();
        node_set(obj, field, a);
    }
    return a;
}

void children_mount(struct node *container, const char *volume, const char *path, int read_only)
{
    struct node *m = node_obj("name", node_str(volume), "mountPath", node_str(path), NULL);

    if (read_only)
        node_set(m, "readOnly", node_true());
    node_append(list_of(container, "volumeMounts"), m);
}

void children_env(struct node *container, const char *name, const char *value)
{
    node_append(list_of(container, "env"),
                          node_obj("name", node_str(name), "value", children_literal(value), NULL));
}

void children_env_secret(struct node *container, const char *name, const char *secret, const char *key)
{
    node_append(list_of(container, "env"),
                          node_obj("name", node_str(name), "valueFrom",
                                       node_obj("secretKeyRef",
                                                    node_obj("name", node_str(secret), "key",
                                                                 node_str(key), NULL),
                                                    NULL),
                                       NULL));
}

void children_gpus(struct node *container, long long gpus)
{
    node_set(container, "resources",
                                node_obj("limits", node_obj("nvidia.com/gpu", node_int(gpus), NULL),
                                             NULL));
}

struct node *children_volume_claim(const char *name, const char *claim)
{
    return node_obj("name", node_str(name), "persistentVolumeClaim",
                        node_obj("claimName", node_str(claim), NULL), NULL);
}

struct node *children_volume_empty(const char *name, const char *medium)
{
    struct node *dir = medium ? node_obj("medium", node_str(medium), NULL) : node_object();

    return node_obj("name", node_str(name), "emptyDir", dir, NULL);
}

struct node *children_pod_labels(const struct node *child, const char *component)
{
    struct node *labels = node_copy(node_get(node_get(child, "metadata"), "labels"));

    if (!labels)
        labels = node_object();
    node_set(labels, COMPONENT_LABEL, node_str(component));
    return labels;
}

struct node *children_pod_template(const struct node *child, const char *component, struct node *pod_spec)
{
    return node_obj("metadata", node_obj("labels", children_pod_labels(child, component), NULL),
                        "spec", pod_spec, NULL);
}

struct node *children_job(const struct owner *owner, const char *name, const char *after,
                     const char *component, struct node *pod_spec)
{
    struct node *job = kinds_child(owner, "batch/v1", "Job", name, after);

    node_set(pod_spec, "restartPolicy", node_str("Never"));
    node_set(job, "spec",
                                node_obj("backoffLimit", node_int(CHILDREN_JOB_BACKOFF_LIMIT),
                                             "template", children_pod_template(job, component, pod_spec),
                                             NULL));
    return job;
}
