/*
 * order.h - order across the four kinds (SPEC §9.3): which related object a
 * parent waits for, and which of its children waits.
 *
 * A Training waits for its Dataset, a ModelHub for the Training that makes
 * its model, a Serving for the ModelHub that uploaded its model and
 * version. Metacontroller learns which objects to watch from the rules
 * order_rules() gives (POST /customize, webhook/related.h), lists them and
 * sends them in the sync request's "related" map; the sync's domain
 * (mutators/lifecycle.h) then asks order_gate() whether the parent's first
 * child must wait. A related object that does not exist in the namespace
 * means no waiting: the model may come from elsewhere.
 *
 * Which object is related (the names a parent declares):
 *   Training  Dataset  spec.dataset
 *   ModelHub  Training spec.modelName (default metadata.name): the convert
 *             Job of Training <name> leaves <name>.tar.gz on its claim, the
 *             file the upload Job of a ModelHub with modelName <name> reads
 *             (mutators/training.c, mutators/modelhub.c); a Training whose
 *             spec.pvcName differs writes to another claim and is not it
 *   Serving   every ModelHub of the namespace, narrowed in the sync hook to
 *             those with the same modelName, modelVersion (and endpoint,
 *             when both carry one): the object that uploads
 *             <modelName>/<modelVersion>/<modelName>.tar.gz
 *   Dataset   nothing
 * Ready means the related object's status.conditions has Ready True (for
 * its current generation, when the condition names one); with several
 * candidates (Serving) one Ready is enough.
 * Of a related object only metadata.{name, namespace, generation}, the
 * spec fields named above (and pvcName, endpoint) and status.conditions
 * are read.
 *
 * The child that waits (only its creation is gated; once it exists it is
 * kept, and what comes after it waits for it through the "after"
 * annotation): PaddleJob/<name> of a Training, Job/<name>-upload of a
 * ModelHub, InferenceService/<name> of a Serving.
 *
 * Metacontroller's side, read in metacontroller/metacontroller at tag
 * v4.11.22 (the release Kubeflow Pipelines ships):
 * pkg/controller/common/customize/manager.go (GetRelatedObjects: a rule
 * with namespace and names lists that namespace only; without a namespace
 * it lists every namespace and keys the objects by bare name, so rules
 * always carry the parent's namespace; the answer is cached per parent uid
 * and generation; a change of a related object re-syncs its parents) and
 * pkg/controller/common/api/v1/common.go (related is keyed
 * "<Kind>.<apiVersion>" then by name, as children are).
 */
#ifndef ORDER_H
#define ORDER_H

#include <stddef.h>

#include <jansson.h>

#define ORDER_TARGET_MAX 384 /* "<Kind>/<name> to be Ready (...)" */
#define ORDER_NAME_MAX   320 /* a child's name: a parent's name and a suffix */

/* What one parent's sync must hold back. */
struct order_gate {
    int waits;                     /* 1: the child below is not created yet */
    const char *kind;              /* the waiting child's kind (static) */
    char name[ORDER_NAME_MAX];     /* and name */
    char target[ORDER_TARGET_MAX]; /* what it waits for, for status.message */
};

/* The relatedResources rules for parent (borrowed) of kind kind_name (new
 * reference, an array; empty when the parent names nothing), or NULL when
 * parent has no metadata.namespace. */
json_t *order_rules(const char *kind_name, const json_t *parent);

/* Fills gate for parent (borrowed) of kind kind_name from the sync
 * request's related map (borrowed, may be NULL): gate->waits is 1 when a
 * related object exists in the parent's namespace and none of them is
 * Ready. */
void order_gate(const char *kind_name, const json_t *parent, const json_t *related,
                struct order_gate *gate);

/* 1 when gate holds back the child kind/name. */
int order_withholds(const struct order_gate *gate, const char *kind, const char *name);

#endif
