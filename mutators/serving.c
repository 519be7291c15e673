/*
 * serving.c - Serving: a model version served online (SPEC §2, §4.3).
 */
#include <stddef.h>
#include <stdio.h>

#include "mutators/children.h"
#include "mutators/fields.h"
#include "mutators/kinds.h"
#include "mutators/kinds_table.h"

static json_t *default_port(const json_t *obj, const struct context *ctx)
{
    (void)obj;
    return json_integer(ctx->settings->port);
}

static const struct field fields[] = {
    { .name = "image", .type = FIELD_STRING, .flags = FIELD_REQUIRED,
      .check = fields_check_image_pinned },
    KINDS_FIELD_MODEL_NAME,
    KINDS_FIELD_MODEL_VERSION,
    KINDS_FIELD_ENDPOINT,
    { .name = "port", .type = FIELD_INT, .flags = FIELD_MIN | FIELD_MAX, .fdefault = default_port,
      .min = 1, .max = 65535 },
};

/* The predictor {minReplicas, containers: [c]} under st's pod defaults
 * (SPEC §9.2). KServe builds the pod from the predictor: PodSpec fields
 * inline, and its own labels and annotations (the reference CRD's
 * predictor.labels/annotations). No Istio annotation by default: a
 * predictor serves through the mesh, and KServe starts its storage
 * initializer for it; defaults.pod.annotations can still set one. */
static struct node *predictor(const struct settings *st, struct node *c)
{
    struct node *p = node_obj("minReplicas", node_int(1), NULL);

    if (st->pod.labels)
        node_set(p, "labels", children_from_json(st->pod.labels));
    if (st->pod.annotations)
        node_set(p, "annotations", children_from_json(st->pod.annotations));
    if (st->pod.tolerations)
        node_set(p, "tolerations", children_from_json(st->pod.tolerations));
    if (st->pod.node_selector)
        node_set(p, "nodeSelector", children_from_json(st->pod.node_selector));
    if (st->pod.service_account)
        node_set(p, "serviceAccountName", node_str(st->pod.service_account));
    if (st->pod.priority_class)
        node_set(p, "priorityClassName", node_str(st->pod.priority_class));
    node_set(p, "containers", node_list(c, NULL));
    return p;
}

/* Serving -> InferenceService (SPEC §4.3): a custom predictor container.
 * KServe's storage initializer downloads STORAGE_URI (the .tar.gz the
 * ModelHub uploaded) and unpacks it into /mnt/models, giving
 * /mnt/models/<modelName>/server. */
static int expand(const json_t *obj, const struct context *ctx, const struct kinds_parsed *parsed,
                  struct node *children, struct fielderr_list *errs)
{
    static const char *const serve[] = { "python3", "-m", "paddle_serving_server.serve", NULL };
    const json_t *spec = json_object_get(obj, "spec");
    const char *model = kinds_spec_string(spec, "modelName");
    long long port = kinds_spec_int(spec, "port");
    struct owner owner;
    struct node *isvc, *args = node_array(), *c;
    char port_text[24];

    (void)parsed;
    (void)errs;
    kinds_owner(&serving_kind, obj, &owner);
    isvc = kinds_child(&owner, "serving.kserve.io/v1beta1", "InferenceService", owner.name, NULL);
    children_arg(args, "--model");
    children_argcat(args, "/mnt/models/", model, "/server", NULL);
    children_arg(args, "--port");
    snprintf(port_text, sizeof(port_text), "%lld", port);
    children_arg(args, node_cat(port_text, NULL));
    c = children_container("kserve-container", kinds_spec_string(spec, "image"), serve, args);
    node_set(c, "ports", node_list(node_obj("containerPort", node_int(port), "protocol",
                                                               node_str("TCP"), NULL),
                                                  NULL));
    children_env(c, "STORAGE_URI", node_cat(kinds_spec_string(spec, "endpoint"), "/" CHILDREN_MODEL_BUCKET "/",
                                            model, "/", kinds_spec_string(spec, "modelVersion"), "/", model,
                                            ".tar.gz", NULL));
    children_resources(c, ctx->settings, CHILDREN_ROLE_SERVING);
    node_set(isvc, "spec", node_obj("predictor", predictor(ctx->settings, c), NULL));
    node_append(children, isvc);
    return 0;
}

const struct kind serving_kind = {
    .name = "Serving",
    .plural = "servings",
    .owner_label = KINDS_GROUP "/serving",
    .fields = fields,
    .nfields = sizeof(fields) / sizeof(fields[0]),
    .expand = expand,
};
