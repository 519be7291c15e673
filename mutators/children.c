/*
 * children.c - shared builders of generated children.
 */
#include "mutators/children.h"

#include <stdarg.h>
#include <string.h>

#include "mutators/kinds.h"
#include "mutators/policy.h"
#include "mutators/json/strbuf.h"

#define COMPONENT_LABEL "app.kubernetes.io/component"

const char *const children_pod_volumes[] = {
    "dshm", CHILDREN_VOLUME_TASK_CENTER, "pretrain-model", NULL,
};

const char *children_reserved_volume(const char *name)
{
    for (const char *const *v = children_pod_volumes; name && *v; v++)
        if (!strcmp(*v, name))
            return *v;
    return NULL;
}

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

struct node *children_job(const struct owner *owner, const struct settings *st, const char *name,
                          const char *after, const char *component, struct node *pod_spec)
{
    struct node *job = kinds_child(owner, "batch/v1", "Job", name, after);
    struct node *template;

    node_set(pod_spec, "restartPolicy", node_str("Never"));
    template = children_pod_template(job, component, pod_spec);
    children_pod_settings(template, st, CHILDREN_ROLE_HELPER);
    node_set(job, "spec",
                                node_obj("backoffLimit", node_int(CHILDREN_JOB_BACKOFF_LIMIT),
                                             "template", template,
                                             NULL));
    return job;
}

/* ------------------------------------------------------------ pod defaults */

/* Built-in requests per role: enough to be admitted under a profile
 * namespace's ResourceQuota and scheduled sensibly; a policy sets others. */
static const struct {
    const char *name;           /* the key under defaults.pod.resources */
    const char *cpu, *memory;
} roles[CHILDREN_ROLE_COUNT] = {
    [CHILDREN_ROLE_WORKER] = { "worker", "2", "8Gi" },
    [CHILDREN_ROLE_PS] = { "ps", "1", "4Gi" },
    [CHILDREN_ROLE_HELPER] = { "helper", "500m", "1Gi" },
    [CHILDREN_ROLE_SERVING] = { "serving", "1", "2Gi" },
    [CHILDREN_ROLE_VISUALDL] = { "visualdl", "100m", "256Mi" },
};

struct node *children_from_json(const json_t *v)
{
    struct node *n;
    const char *key;
    json_t *x;
    size_t i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        n = node_object();
        json_object_foreach((json_t *)v, key, x) {
            struct node *c = children_from_json(x);

            if (c)
                node_setn(n, key, strlen(key), c);
        }
        return n;
    case JSON_ARRAY:
        n = node_array();
        json_array_foreach(v, i, x) {
            struct node *c = children_from_json(x);

            if (c)
                node_append(n, c);
        }
        return n;
    case JSON_STRING:
        return node_strn(json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return node_int(json_integer_value(v));
    case JSON_TRUE:
        return node_true();
    default:
        return NULL;
    }
}

/* obj[field] as an object, created when absent (borrowed). */
static struct node *object_of(struct node *obj, const char *field)
{
    struct node *o = node_get(obj, field);

    if (!o) {
        o = node_object();
        node_set(obj, field, o);
    }
    return o;
}

/* Sets map[key] = value for each member of the policy map m; with
 * keep_existing, a key map already has keeps its value. */
static void merge_strings(struct node *map, const json_t *m, int keep_existing)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)m, key, v) {
        if (keep_existing && node_getn(map, key, strlen(key)))
            continue;
        node_setn(map, key, strlen(key), node_strn(json_string_value(v), json_string_length(v)));
    }
}

/* Lays the quantities of m (a policy map; NULL: none) over the node map. */
static void merge_quantities(struct node *map, const json_t *m)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)m, key, v)
        node_setn(map, key, strlen(key), children_from_json(v));
}

/* 1 when the policy limits resource name for role (either level). */
static int limited(const json_t *all, const json_t *r, const char *name)
{
    return json_object_get(json_object_get(all, "limits"), name) ||
           json_object_get(json_object_get(r, "limits"), name);
}

/* 1 when the policy requests resource name for role (either level). */
static int requested(const json_t *all, const json_t *r, const char *name)
{
    return json_object_get(json_object_get(all, "requests"), name) ||
           json_object_get(json_object_get(r, "requests"), name);
}

void children_resources(struct node *container, const struct settings *st, enum children_role role)
{
    const json_t *all = st->pod.resources, *r = json_object_get(all, roles[role].name);
    struct node *res = object_of(container, "resources"), *requests = node_object(), *limits;
    struct node *own = node_get(res, "limits");     /* the GPUs the spec asks for */

    /* a limit without a request: the apiserver makes the request the limit */
    if (!limited(all, r, "cpu") || requested(all, r, "cpu"))
        node_set(requests, "cpu", node_str(roles[role].cpu));
    if (!limited(all, r, "memory") || requested(all, r, "memory"))
        node_set(requests, "memory", node_str(roles[role].memory));
    merge_quantities(requests, json_object_get(all, "requests"));
    merge_quantities(requests, json_object_get(r, "requests"));
    if (requests->u.kids.first)
        node_set(res, "requests", requests);
    if (!json_object_size(json_object_get(all, "limits")) && !json_object_size(json_object_get(r, "limits")))
        return;
    limits = node_object();
    merge_quantities(limits, json_object_get(all, "limits"));
    merge_quantities(limits, json_object_get(r, "limits"));
    for (struct node *g = own ? own->u.kids.first : NULL; g; g = g->next)
        node_setn(limits, g->key, g->klen, node_copy(g));
    node_set(res, "limits", limits);
}

/* Every element of the pod spec's list field gets role's resources. */
static void containers_resources(struct node *spec, const char *field, const struct settings *st,
                                 enum children_role role)
{
    struct node *list = node_get(spec, field);

    for (struct node *c = list ? list->u.kids.first : NULL; c; c = c->next)
        children_resources(c, st, role);
}

void children_pod_settings(struct node *template, const struct settings *st, enum children_role role)
{
    struct node *md = object_of(template, "metadata"), *spec = object_of(template, "spec");
    struct node *ann = object_of(md, "annotations");

    node_set(ann, CHILDREN_ISTIO_INJECT, node_str("false"));
    merge_strings(ann, st->pod.annotations, 0);
    if (st->pod.labels)
        merge_strings(object_of(md, "labels"), st->pod.labels, 1);
    if (st->pod.tolerations && !node_get(spec, "tolerations"))
        node_set(spec, "tolerations", children_from_json(st->pod.tolerations));
    if (st->pod.node_selector && !node_get(spec, "nodeSelector"))
        node_set(spec, "nodeSelector", children_from_json(st->pod.node_selector));
    if (st->pod.service_account && !node_get(spec, "serviceAccountName"))
        node_set(spec, "serviceAccountName", node_str(st->pod.service_account));
    if (st->pod.priority_class && !node_get(spec, "priorityClassName"))
        node_set(spec, "priorityClassName", node_str(st->pod.priority_class));
    containers_resources(spec, "initContainers", st, CHILDREN_ROLE_HELPER);
    containers_resources(spec, "containers", st, role);
}
