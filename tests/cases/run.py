#!/usr/bin/env python3
"""Runs the data-driven admission cases: tests/cases/<kind>/<case>/.

A case folder holds:

  object.json   the custom resource, sent in a CREATE AdmissionReview built
                here as the kube-apiserver builds it;
  review.json   (instead, or as well) a whole AdmissionReview, for cases
                about the protocol: v1beta1, DELETE, dryRun, other kinds,
                UPDATE with oldObject, the namespace from the request only.
                When both exist, object.json replaces request.object;
  policy.yaml   (optional) the WebhookPolicy both `review` runs load
                (--policy): cases of what a policy picks, such as
                defaults.trainingOperator;
  expect.json   what must happen (every key optional except "allowed"):
    allowed     the verdict of /validate on the mutated object
    code        status.code when denied (default 422); 403 means Forbidden
    errors      "<path>: <body>" lines: each appears in status.message and
                is one cause {field: path, message: body} with the reason
                its body names (Invalid value -> FieldValueInvalid, ...)
    causes      the exact number of causes (default: len(errors))
    match       [{field, reason?, contains: [substrings]}]: a cause of that
                field whose message holds every substring, for wording the
                SPEC fixes only in part
    patched     a partial object the mutated object must contain (objects
                member by member, lists of the same length element by
                element, everything else equal with its JSON type); {} in a
                list stands for an element the case does not look into
    absent      dotted paths ("spec.x", "spec.generated.0.spec.ps") the
                mutated object must not have; a number indexes a list
    warnings    substrings, each found in a warning of /mutate or /validate
    no_warnings substrings found in no warning of /mutate or /validate
    nopatch     true: /mutate answers without a patch
    unpatched   {allowed, code?, errors?, causes?, match?}: the verdict of
                /validate on the object as sent, when it must differ from
                the mutated one's (by default it must be the same)
    comment     free text: why the case exists (the SPEC rule it pins)

A case must assert what its name claims: expect.json with nothing but
"allowed" is refused, unless its comment starts with "verdict only:" and
says why the verdict alone is the point.

For each case the driver: runs `review mutate`, checks the answer as the
apiserver does (apiVersion and uid echoed, allowed true: /mutate leaves the
verdict to /validate), applies the patch strictly (tests/tools/jsonpatch.py),
runs `review mutate` again on the result and requires no patch (idempotent),
runs `review validate` on the result and checks expect.json, then runs
`review validate` on the object as sent and requires the same verdict and
the same error list (/validate stands alone). A review with dryRun true is
also answered with dryRun false and both answers must be the same.

Prints one line per failure and `cases: N passed, N failed`; exits 1 when
any case failed (or none was found). Standard library only.
"""
import argparse
import concurrent.futures
import copy
import json
import os
import subprocess
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tools"))
import jsonpatch  # noqa: E402  (tests/tools/jsonpatch.py)

GROUP = "paddlex.paddlepaddle.org"
PLURALS = {"Dataset": "datasets", "Training": "trainings", "ModelHub": "modelhubs",
           "Serving": "servings"}
EXPECT_KEYS = {"allowed", "code", "errors", "causes", "match", "patched", "absent", "warnings",
               "no_warnings", "nopatch", "unpatched", "comment"}
VERDICT_KEYS = {"allowed", "code", "errors", "causes", "match"}
# "<kind of error>" at the start of a cause message -> its reason
REASONS = {"Required value": "FieldValueRequired", "Invalid value": "FieldValueInvalid",
           "Unsupported value": "FieldValueNotSupported", "Forbidden": "FieldValueForbidden",
           "Too long": "FieldValueTooLong", "Duplicate value": "FieldValueDuplicate",
           "Too many": "FieldValueTooMany"}


class CaseFailure(Exception):
    pass


def check(cond, fmt, *args):
    if not cond:
        raise CaseFailure(fmt % args if args else fmt)


def load_json(path):
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"))


def build_review(obj):
    """The AdmissionReview the apiserver POSTs for a CREATE of obj."""
    api_version = obj.get("apiVersion", "") if isinstance(obj, dict) else ""
    kind = obj.get("kind", "") if isinstance(obj, dict) else ""
    group, _, version = api_version.rpartition("/")
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    gvk = {"group": group, "version": version, "kind": kind}
    gvr = {"group": group, "version": version, "resource": PLURALS.get(kind, kind.lower() + "s")}
    req = {"uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": dict(gvk),
           "requestResource": dict(gvr),
           "namespace": meta.get("namespace") or "kubeflow", "operation": "CREATE",
           "userInfo": {"username": "case-driver", "groups": ["system:authenticated"]},
           "object": obj, "oldObject": None, "dryRun": False,
           "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}
    if isinstance(meta.get("name"), str) and meta["name"]:
        req["name"] = meta["name"]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req}


def with_object(review, obj, dry_run=None):
    """A copy of review with request.object replaced and a fresh uid."""
    out = copy.deepcopy(review)
    out["request"]["object"] = copy.deepcopy(obj)
    out["request"]["uid"] = str(uuid.uuid4())
    if dry_run is not None:
        out["request"]["dryRun"] = dry_run
    return out


class Runner:
    def __init__(self, binary, policy=None):
        self.binary = binary
        self.policy = policy

    def answer(self, mode, review):
        """Runs `review <mode>` and returns the response after the checks
        the apiserver makes on any admission answer."""
        argv = [self.binary, "review", mode] + (["--policy", self.policy] if self.policy else [])
        done = subprocess.run(argv, input=json.dumps(review).encode(),
                              capture_output=True, timeout=20)
        check(done.returncode == 0, "review %s exited %d: %s", mode, done.returncode,
              done.stderr.decode("utf-8", "replace").strip())
        try:
            answer = json.loads(done.stdout)
        except ValueError as e:
            raise CaseFailure("review %s printed no JSON (%s): %r" % (mode, e, done.stdout[:200]))
        check(isinstance(answer, dict), "review %s answer is not an object", mode)
        check(answer.get("apiVersion") == review.get("apiVersion"),
              "review %s answered apiVersion %r to %r", mode, answer.get("apiVersion"),
              review.get("apiVersion"))
        check(answer.get("kind") == "AdmissionReview", "review %s answered kind %r", mode,
              answer.get("kind"))
        resp = answer.get("response")
        check(isinstance(resp, dict), "review %s answer has no response", mode)
        check(resp.get("uid") == review["request"].get("uid"), "review %s answered uid %r to %r",
              mode, resp.get("uid"), review["request"].get("uid"))
        check(isinstance(resp.get("allowed"), bool), "review %s: allowed is not a boolean", mode)
        return answer

    def mutate(self, review):
        """(answer, patch ops) of /mutate, which never denies."""
        answer = self.answer("mutate", review)
        resp = answer["response"]
        check(resp["allowed"] is True, "/mutate denied: %s",
              (resp.get("status") or {}).get("message"))
        try:
            ops = jsonpatch.decode_review_patch(answer)
        except jsonpatch.JsonPatchError as e:
            raise CaseFailure("/mutate patch refused: %s" % e)
        check("patch" not in resp or ops, "/mutate sent an empty patch instead of none")
        return answer, ops

    def validate(self, review):
        answer = self.answer("validate", review)
        check("patch" not in answer["response"] and "patchType" not in answer["response"],
              "/validate answered with a patch")
        return answer["response"]


def split_error(line):
    path, sep, body = line.partition(": ")
    if not sep:
        raise CaseFailure("expect.json: error %r is not '<path>: <body>'" % line)
    return path, body


def errors_of(resp):
    """(path, message) of each cause, in order."""
    causes = ((resp.get("status") or {}).get("details") or {}).get("causes") or []
    return [(c.get("field"), c.get("message")) for c in causes]


def check_verdict(resp, want, where):
    """Checks a /validate response against the verdict keys of want."""
    allowed = want["allowed"]
    status = resp.get("status") or {}
    if resp["allowed"] != allowed:
        raise CaseFailure("%s: allowed is %s, expected %s%s" % (
            where, resp["allowed"], allowed,
            (": " + str(status.get("message"))) if status.get("message") else ""))
    if allowed:
        check(not status or status.get("status") != "Failure",
              "%s: allowed with a Failure status", where)
        return
    code = want.get("code", 422)
    check(status.get("code") == code, "%s: status.code %r, expected %r (%s)", where,
          status.get("code"), code, status.get("message"))
    reason = "Forbidden" if code == 403 else "Invalid"
    check(status.get("reason") == reason, "%s: status.reason %r, expected %r", where,
          status.get("reason"), reason)
    check(status.get("status") == "Failure", "%s: status.status %r", where, status.get("status"))
    message = status.get("message") or ""
    details = status.get("details") or {}
    causes = details.get("causes")
    check(isinstance(causes, list), "%s: no status.details.causes", where)
    for c in causes:
        check(isinstance(c, dict) and all(isinstance(c.get(k), str) for k in
                                          ("field", "reason", "message")),
              "%s: cause %r lacks field, reason or message", where, c)
        kind = c["message"].split(":", 1)[0]
        check(REASONS.get(kind) == c["reason"], "%s: cause %r: reason %r does not fit %r", where,
              c["field"], c["reason"], kind)
        line = "%s: %s" % (c["field"], c["message"])
        check(line in message, "%s: status.message lacks cause %r", where, line)
    errors = want.get("errors", [])
    for line in errors:
        path, body = split_error(line)
        check(line in message, "%s: status.message lacks %r; it is %r", where, line, message)
        check(any(c["field"] == path and c["message"] == body for c in causes),
              "%s: no cause {field: %r, message: %r}; causes: %s", where, path, body,
              json.dumps([[c["field"], c["message"]] for c in causes]))
    for m in want.get("match", []):
        found = [c for c in causes if c["field"] == m["field"]
                 and (not m.get("reason") or c["reason"] == m["reason"])
                 and all(s in c["message"] for s in m.get("contains", []))]
        check(found, "%s: no cause of %r (%s) containing %r; causes: %s", where, m["field"],
              m.get("reason", "any reason"), m.get("contains"),
              json.dumps([[c["field"], c["message"]] for c in causes]))
    count = want.get("causes", len(errors) + len(want.get("match", [])))
    check(len(causes) == count, "%s: %d causes, expected %d: %s", where, len(causes), count,
          json.dumps([[c["field"], c["message"]] for c in causes]))


def contains(whole, part):
    """True when part is a partial copy of whole (objects member by member,
    lists of the same length element by element, the rest equal with its
    JSON type)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v)
                                               for k, v in part.items())
    if isinstance(part, list):
        return (isinstance(whole, list) and len(whole) == len(part)
                and all(contains(w, p) for w, p in zip(whole, part)))
    return jsonpatch.values_equal(whole, part)


def lookup(obj, dotted):
    """True when obj has the member at dotted ("spec.generated.0.kind":
    a number indexes a list)."""
    node = obj
    for key in dotted.split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False
    return True


VERDICT_ONLY = "verdict only:"


def check_asserts_claim(expect):
    """Refuses an expect.json that asserts nothing beyond the verdict: a
    case's name claims more than allowed/denied (the default it fills, the
    error and its path, the child it renders), unless its comment says why
    the verdict alone is the point."""
    if set(expect) - {"allowed", "comment"}:
        return
    comment = expect.get("comment")
    check(isinstance(comment, str) and comment.startswith(VERDICT_ONLY)
          and comment[len(VERDICT_ONLY):].strip(),
          "expect.json asserts only \"allowed\": assert what the case's name claims "
          "(errors, match, patched, absent, nopatch, warnings), or start a comment with "
          "%r and say why the verdict alone is the point", VERDICT_ONLY)


def run_case(runner, case_dir):
    expect = load_json(os.path.join(case_dir, "expect.json"))
    unknown = set(expect) - EXPECT_KEYS
    check(not unknown, "expect.json: unknown keys %s", sorted(unknown))
    check(isinstance(expect.get("allowed"), bool), "expect.json: allowed must be a boolean")
    check_asserts_claim(expect)
    if "unpatched" in expect:
        bad = set(expect["unpatched"]) - VERDICT_KEYS
        check(not bad and "allowed" in expect["unpatched"], "expect.json: bad unpatched %s",
              sorted(bad))
    policy_path = os.path.join(case_dir, "policy.yaml")
    if os.path.exists(policy_path):
        runner = Runner(runner.binary, policy_path)
    review_path = os.path.join(case_dir, "review.json")
    object_path = os.path.join(case_dir, "object.json")
    if os.path.exists(review_path):
        review = load_json(review_path)
        if os.path.exists(object_path):
            review["request"]["object"] = load_json(object_path)
    else:
        review = build_review(load_json(object_path))
    obj = review["request"].get("object")

    answer, ops = runner.mutate(review)
    if expect.get("nopatch"):
        check(not ops, "/mutate patched: %s", json.dumps(ops))
    try:
        patched = jsonpatch.apply(obj, ops) if ops else copy.deepcopy(obj)
    except jsonpatch.JsonPatchError as e:
        raise CaseFailure("/mutate patch does not apply strictly: %s" % e)
    if ops:
        _, again = runner.mutate(with_object(review, patched))
        check(not again, "/mutate is not idempotent: second patch %s", json.dumps(again))
    if "patched" in expect:
        check(contains(patched, expect["patched"]), "mutated object lacks %s; it is %s",
              json.dumps(expect["patched"]), json.dumps(patched))
    for dotted in expect.get("absent", []):
        check(not lookup(patched, dotted), "mutated object has %s", dotted)

    resp = runner.validate(with_object(review, patched))
    check_verdict(resp, expect, "/validate of the mutated object")
    warnings = (answer["response"].get("warnings") or []) + (resp.get("warnings") or [])
    for w in expect.get("warnings", []):
        check(any(w in x for x in warnings), "no warning contains %r; warnings: %s", w,
              json.dumps(warnings))
    for w in expect.get("no_warnings", []):
        check(not any(w in x for x in warnings), "a warning contains %r: %s", w, json.dumps(warnings))

    raw = runner.validate(with_object(review, obj))
    if "unpatched" in expect:
        check_verdict(raw, expect["unpatched"], "/validate of the object as sent")
    else:
        check(raw["allowed"] == resp["allowed"] and errors_of(raw) == errors_of(resp),
              "/validate of the object as sent differs from the mutated one's: %s vs %s",
              json.dumps(errors_of(raw)), json.dumps(errors_of(resp)))
        check((raw.get("status") or {}).get("code") == (resp.get("status") or {}).get("code"),
              "/validate of the object as sent answers another code")

    if review["request"].get("dryRun") is True:
        for mode, r in (("mutate", review), ("validate", with_object(review, patched))):
            a = runner.answer(mode, r)["response"]
            b = runner.answer(mode, dict(r, request=dict(r["request"], dryRun=False)))["response"]
            check(a == b, "dryRun changes the %s answer: %s vs %s", mode, json.dumps(a),
                  json.dumps(b))


def find_cases(root, filters):
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if "expect.json" in filenames:
            rel = os.path.relpath(dirpath, root)
            if not filters or any(f in rel for f in filters):
                found.append(dirpath)
    return sorted(found)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the paddlex-webhook binary")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("filters", nargs="*", help="only cases whose path contains one of these")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print("cases: %s is not an executable" % args.bin)
        return 1
    runner = Runner(binary)
    cases = find_cases(HERE, args.filters)
    failed = 0

    def one(case_dir):
        try:
            run_case(runner, case_dir)
            return None
        except CaseFailure as e:
            return str(e)
        except (OSError, ValueError, KeyError, TypeError, subprocess.TimeoutExpired) as e:
            return "%s: %s" % (type(e).__name__, e)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for case_dir, why in zip(cases, pool.map(one, cases)):
            if why is not None:
                failed += 1
                print("FAIL %s: %s" % (os.path.relpath(case_dir, os.getcwd()), why))
    print("cases: %d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
