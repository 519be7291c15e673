/*
 * conditions.h - status.conditions of the four kinds (SPEC §9.3), in
 * Kubernetes' Condition shape (k8s.io/apimachinery pkg/apis/meta/v1
 * types.go, type Condition: type, status, observedGeneration,
 * lastTransitionTime, reason, message), so that `kubectl wait
 * --for=condition=Ready`, Argo/KFP resource steps and GitOps health checks
 * can follow an object.
 *
 * Derived from the status the sync hook composed (phase, message,
 * children), never from anything else, so they cannot disagree with it:
 *   Ready   True when the work is done: phase Succeeded (Training: trained,
 *           and exported/converted when asked; ModelHub: uploaded) or Ready
 *           (Dataset: SampleSet Ready; Serving: InferenceService Ready).
 *           False otherwise, reason Failed, Running, Waiting (nothing
 *           runs yet and a child waits for another or for a related
 *           object) or Pending.
 *   Failed  True when phase is Failed (a child failed): reason
 *           ChildFailed. False otherwise, reason NoFailure.
 * A parent that does not validate (and was not admitted: lifecycle.c keeps
 * its observed children and creates nothing) is Ready False and Failed
 * True, both with reason InvalidSpec, whatever its children's phases.
 * message is status.message when there is one (clipped to the API's 32768
 * bytes), else a sentence of our own. lastTransitionTime is kept from the
 * parent's own status.conditions when that condition's status is
 * unchanged, else it is now: a resync never moves it.
 */
#ifndef CONDITIONS_H
#define CONDITIONS_H

#include <time.h>

#include <jansson.h>

#define CONDITIONS_MESSAGE_MAX 32768 /* metav1.Condition message maxLength */

/* Sets status.conditions (status borrowed, changed in place) for parent
 * (borrowed: its kind, metadata.generation and status.conditions), invalid
 * when the parent does not validate, at time now. Returns 0, or -1 when
 * status is not an object. */
int conditions_set_at(json_t *status, const json_t *parent, int invalid, time_t now);

/* conditions_set_at() with the current time. */
int conditions_set(json_t *status, const json_t *parent, int invalid);

#endif
