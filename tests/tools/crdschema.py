"""Validates objects the way the kube-apiserver validates custom resources
against a structural OpenAPI v3 schema, and checks the children that
paddlex-webhook generates (§4) as a cluster would receive them.

Every error is one string that starts with the field path in Kubernetes
notation (``spec.worker.template.spec.containers[0].name``; map keys as
``metadata.labels[app]``; ``<root>`` for the object itself), then the kind of
error: ``spec.partitions: Invalid value: 0: must be greater than or equal to
1``. A field the apiserver would silently drop is reported as
``pruned: <path>``: for generated children a dropped field is a bug.

Structural-schema rules applied (as apiextensions-apiserver does):

- an object is closed unless it has ``additionalProperties`` or
  ``x-kubernetes-preserve-unknown-fields: true``; unknown members are pruned;
  a ``null`` member of a non-nullable property without default is pruned too;
- ``integer`` accepts integers only: never booleans, and never reals, not
  even ``1.0`` (stricter than the apiserver; the webhook must emit integers);
  ``number`` accepts integers and reals; formats ``int32``/``int64`` are
  range-checked (the operators decode into those Go types); ``date-time`` is
  checked on strings; other formats are ignored;
- ``x-kubernetes-int-or-string``: an integer or a string; string-only rules
  (``pattern``, lengths) apply to strings only;
- ``pattern`` uses search semantics (``re.search``), as Go's regexp does;
- ``required`` is satisfied by a property that has a ``default``;
- ``x-kubernetes-list-type`` ``set``/``map`` refuse duplicates;
- ``allOf``/``anyOf``/``oneOf``/``not`` validate values with open objects
  (JSON-Schema semantics), never prune;
- at a resource root (a CRD's root, an ``x-kubernetes-embedded-resource``)
  ``apiVersion``/``kind`` are strings and ``metadata`` is an ObjectMeta:
  closed, name/namespace/label/annotation syntax checked.

Standard library only. Loaded schemas are cached.
"""
import fractions
import functools
import json
import os
import re

__all__ = ["load", "validate", "validate_child", "reference", "shared_dir",
           "paths", "CHILD_KINDS"]

# ---------------------------------------------------------------- locations

_CRD_FILES = {
    ("batch.paddlepaddle.org/v1", "PaddleJob"): "paddlejobs.batch.paddlepaddle.org.v1.json",
    ("kubeflow.org/v1", "PaddleJob"): "paddlejobs.kubeflow.org.v1.json",
    ("batch.paddlepaddle.org/v1alpha1", "SampleSet"): "samplesets.batch.paddlepaddle.org.v1alpha1.json",
    ("batch.paddlepaddle.org/v1alpha1", "SampleJob"): "samplejobs.batch.paddlepaddle.org.v1alpha1.json",
    ("serving.kserve.io/v1beta1", "InferenceService"): "inferenceservices.serving.kserve.io.v1beta1.json",
}
_CORE_KINDS = (("batch/v1", "Job"), ("apps/v1", "Deployment"), ("v1", "Service"),
               ("v1", "PersistentVolumeClaim"))

#: every (apiVersion, kind) that validate_child knows
CHILD_KINDS = tuple(_CRD_FILES) + _CORE_KINDS


def shared_dir():
    """The project's shared directory: ``$PADDLEX_SHARED`` when set, else
    ``<repo>/../shared`` (this file lives in ``<repo>/tests/tools``)."""
    env = os.environ.get("PADDLEX_SHARED")
    if env:
        return os.path.abspath(env)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(os.path.dirname(repo), "shared")


def reference(api_version, kind):
    """The loaded reference schema (see load) for a child CRD kind, e.g.
    ``reference("batch.paddlepaddle.org/v1", "PaddleJob")``. Cached."""
    name = _CRD_FILES[(api_version, kind)]
    return load(os.path.join(shared_dir(), "reference", "crds", name))


def load(path, kind=None, version=None):
    """Loads one custom resource schema and returns a dict with ``group``,
    ``version``, ``kind``, ``plural``, ``scope`` and ``openAPIV3Schema``.

    ``path`` is a reference file (that dict as JSON) or a
    CustomResourceDefinition manifest: JSON (a CRD or a ``List`` of them), or
    YAML when PyYAML is importable. In a manifest, ``kind`` (kind or plural)
    picks the CRD when there are several and ``version`` the version (default:
    the storage version). The result is cached and shared: do not modify it."""
    path = os.path.abspath(path)
    return _load_cached(path, os.stat(path).st_mtime_ns, kind, version)


@functools.lru_cache(maxsize=64)
def _load_cached(path, _mtime, kind, version):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        docs = [json.loads(text)]
    except ValueError:
        try:
            import yaml  # optional: YAML manifests only
        except ImportError:
            raise ValueError("%s is not JSON (YAML needs PyYAML)" % path) from None
        docs = [d for d in yaml.safe_load_all(text) if d]
    if len(docs) == 1 and "openAPIV3Schema" in docs[0]:
        return docs[0]
    crds = []
    for d in docs:
        crds.extend(d.get("items", []) if d.get("kind") == "List" else [d])
    crds = [d for d in crds if d.get("kind") == "CustomResourceDefinition"
            and (kind is None or kind in (d["spec"]["names"]["kind"], d["spec"]["names"]["plural"]))]
    if len(crds) != 1:
        raise ValueError("%s: %d CustomResourceDefinitions match kind=%r" % (path, len(crds), kind))
    spec = crds[0]["spec"]
    versions = [v for v in spec["versions"]
                if (v["name"] == version if version else v.get("storage"))]
    if len(versions) != 1:
        raise ValueError("%s: no single version %r" % (path, version or "storage"))
    return {"group": spec["group"], "version": versions[0]["name"],
            "kind": spec["names"]["kind"], "plural": spec["names"]["plural"],
            "scope": spec["scope"],
            "openAPIV3Schema": versions[0]["schema"]["openAPIV3Schema"]}


def paths(errors):
    """The field path of each error string, in order (``pruned: x`` → ``x``)."""
    return [e[len("pruned: "):] if e.startswith("pruned: ") else e.split(": ", 1)[0]
            for e in errors]


# --------------------------------------------------------------- public API

def validate(schema, obj):
    """Returns the list of errors (empty when valid) of ``obj`` against
    ``schema``: a dict from load (then apiVersion and kind must match it and
    metadata.name or generateName is required) or a bare openAPIV3Schema. The
    root is a resource root (metadata checked as ObjectMeta) when the schema
    comes from load or declares a ``metadata`` property."""
    run = _Run()
    if "openAPIV3Schema" in schema:
        root = schema["openAPIV3Schema"]
        run.check_type_meta(obj, "%s/%s" % (schema["group"], schema["version"]), schema["kind"])
        run.require_name = True
    else:
        root = schema
    run.check(root, obj, "", resource=run.require_name or "metadata" in root.get("properties", {}))
    return run.errors


def validate_child(obj):
    """Returns the errors of one generated child as a cluster would judge it.

    CRD kinds (PaddleJob, SampleSet, SampleJob, InferenceService) are checked
    against the reference schemas in ``shared_dir()/reference/crds``; core
    kinds (batch/v1 Job, apps/v1 Deployment, v1 Service) against an embedded
    closed schema whose pod template is the PaddleJob reference's
    PodTemplateSpec (Kubernetes 1.21 fields: newer pod fields are reported as
    pruned). Then the apiserver's and operators' semantic rules for what we
    emit: names, labels, pod specs (container/volume names, mounts that name
    a volume, env names, ports, probes, resources), Job restartPolicy and
    selector, Deployment selector matching the template, Service ports.
    An unknown apiVersion/kind is itself an error."""
    if not isinstance(obj, dict):
        return ["<root>: Invalid value: %s: must be an object" % _type_name(obj)]
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in CHILD_KINDS:
        return ["<root>: Unsupported value: %s: supported kinds: %s"
                % (_show("%s/%s" % key), ", ".join("%s %s" % k for k in CHILD_KINDS))]
    schema = reference(*key)["openAPIV3Schema"] if key in _CRD_FILES else _core_schema(key[1])
    run = _Run()
    run.require_name = True
    run.name_rule = _NAME_RULES.get(key, _NAME_RULES.get(key[1], _subdomain))
    run.check_type_meta(obj, *key)
    run.check(schema, obj, "", resource=True)
    _SEMANTICS.get(key, _SEMANTICS.get(key[1]))(obj, run)
    return run.errors


# ----------------------------------------------------- the schema validator

class _Run:
    """One validation: the accumulated errors and the metadata.name rule."""

    def __init__(self):
        self.errors = []
        self.require_name = False
        self.name_rule = None

    def add(self, path, what):
        """Records ``<path>: <what>``."""
        self.errors.append("%s: %s" % (path or "<root>", what))

    def invalid(self, path, value, detail):
        self.add(path, "Invalid value: %s: %s" % (_show(value), detail))

    def pruned(self, path):
        self.errors.append("pruned: %s" % path)

    def check_type_meta(self, obj, api_version, kind):
        if not isinstance(obj, dict):
            return
        if obj.get("apiVersion") != api_version:
            self.invalid("apiVersion", obj.get("apiVersion"), "must be %s" % _show(api_version))
        if obj.get("kind") != kind:
            self.invalid("kind", obj.get("kind"), "must be %s" % _show(kind))

    def check(self, s, x, path, structural=True, resource=False):
        """Validates value ``x`` at ``path`` against schema ``s``.
        ``structural`` false means inside allOf/anyOf/oneOf/not: open objects,
        no pruning. ``resource`` marks a resource root."""
        if x is None:
            if not s.get("nullable"):
                self.invalid(path, None, "must not be null")
            return
        if not self._check_type(s, x, path):
            return
        if isinstance(x, str):
            self._check_string(s, x, path)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            self._check_number(s, x, path)
        elif isinstance(x, list):
            self._check_array(s, x, path, structural)
        elif isinstance(x, dict):
            self._check_object(s, x, path, structural,
                               resource or s.get("x-kubernetes-embedded-resource") is True)
        if "enum" in s and not any(_json_equal(x, e) for e in s["enum"]):
            self.add(path, "Unsupported value: %s: supported values: %s"
                     % (_show(x), ", ".join(_show(e) for e in s["enum"])))
        self._check_junctors(s, x, path)

    def _check_type(self, s, x, path):
        if s.get("x-kubernetes-int-or-string"):
            if _is_int(x) or isinstance(x, str):
                return True
            self.invalid(path, _type_name(x), "must be an integer or a string")
            return False
        want = s.get("type")
        if want and not _TYPE_TESTS[want](x):
            self.invalid(path, _type_name(x), "must be of type %s" % want)
            return False
        return True

    def _check_string(self, s, x, path):
        if "minLength" in s and len(x) < s["minLength"]:
            self.invalid(path, x, "must have at least %d characters" % s["minLength"])
        if "maxLength" in s and len(x) > s["maxLength"]:
            self.invalid(path, x, "must have at most %d characters" % s["maxLength"])
        if "pattern" in s and not _regex(s["pattern"]).search(x):
            self.invalid(path, x, "must match the pattern %s" % _show(s["pattern"]))
        if s.get("format") == "date-time" and not _DATE_TIME.match(x):
            self.invalid(path, x, "must be an RFC 3339 date-time")

    def _check_number(self, s, x, path):
        bounds = _INT_FORMATS.get(s.get("format"))
        if bounds and _is_int(x) and not bounds[0] <= x <= bounds[1]:
            self.invalid(path, x, "must fit in %s" % s["format"])
        if "minimum" in s:
            if s.get("exclusiveMinimum") and x <= s["minimum"]:
                self.invalid(path, x, "must be greater than %s" % s["minimum"])
            elif x < s["minimum"]:
                self.invalid(path, x, "must be greater than or equal to %s" % s["minimum"])
        if "maximum" in s:
            if s.get("exclusiveMaximum") and x >= s["maximum"]:
                self.invalid(path, x, "must be less than %s" % s["maximum"])
            elif x > s["maximum"]:
                self.invalid(path, x, "must be less than or equal to %s" % s["maximum"])
        if "multipleOf" in s and fractions.Fraction(x) % fractions.Fraction(s["multipleOf"]):
            self.invalid(path, x, "must be a multiple of %s" % s["multipleOf"])

    def _check_array(self, s, x, path, structural):
        if "minItems" in s and len(x) < s["minItems"]:
            self.invalid(path, len(x), "must have at least %d items" % s["minItems"])
        if "maxItems" in s and len(x) > s["maxItems"]:
            self.invalid(path, len(x), "must have at most %d items" % s["maxItems"])
        items = s.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(x):
                self.check(items, v, "%s[%d]" % (path, i), structural)
        list_type = s.get("x-kubernetes-list-type")
        if s.get("uniqueItems") or list_type == "set":
            self._check_unique(x, path, lambda v: v)
        elif list_type == "map" and isinstance(items, dict):
            keys = s.get("x-kubernetes-list-map-keys", [])
            props = items.get("properties", {})

            def key_of(v):
                return [v.get(k, props.get(k, {}).get("default")) for k in keys]
            self._check_unique([v for v in x if isinstance(v, dict)], path, key_of)

    def _check_unique(self, x, path, key_of):
        seen = []
        for i, v in enumerate(x):
            k = key_of(v)
            if any(_json_equal(k, other) for other in seen):
                self.add("%s[%d]" % (path, i), "Duplicate value: %s" % _show(k))
            seen.append(k)

    def _check_object(self, s, x, path, structural, resource):
        props = s.get("properties", {})
        extra = s.get("additionalProperties")
        open_ = s.get("x-kubernetes-preserve-unknown-fields") is True or extra is True \
            or (not structural and extra is None)
        present = set()
        for k, v in x.items():
            sub = _join(path, k)
            if resource and k == "metadata":
                present.add(k)
                self.check_object_meta(v, sub, root=not path)
                if k in props:  # a root may restrict name/generateName further
                    self.check(props[k], v, sub, structural=False)
                continue
            if resource and k in ("apiVersion", "kind") and k not in props:
                present.add(k)
                if not isinstance(v, str):
                    self.invalid(sub, _type_name(v), "must be of type string")
                continue
            if k in props:
                child = props[k]
            elif isinstance(extra, dict):
                child, sub = extra, "%s[%s]" % (path, k)
            elif open_:
                present.add(k)
                continue
            else:
                if structural:
                    self.pruned(sub)
                else:
                    self.add(sub, "Forbidden: additional property not allowed")
                continue
            if v is None and structural and not child.get("nullable") and "default" not in child:
                self.pruned(sub)
                continue
            present.add(k)
            self.check(child, v, sub, structural)
        for k in s.get("required", ()):
            if k not in present and "default" not in props.get(k, {}):
                self.add(_join(path, k), "Required value")
        if "minProperties" in s and len(x) < s["minProperties"]:
            self.invalid(path, len(x), "must have at least %d properties" % s["minProperties"])
        if "maxProperties" in s and len(x) > s["maxProperties"]:
            self.invalid(path, len(x), "must have at most %d properties" % s["maxProperties"])
        if resource and s.get("x-kubernetes-embedded-resource"):
            for k in ("apiVersion", "kind"):
                if not x.get(k):
                    self.add(_join(path, k), "Required value: must not be empty")

    def _check_junctors(self, s, x, path):
        def errors_of(branch):
            sub = _Run()
            sub.check(branch, x, path, structural=False)
            return sub.errors
        for branch in s.get("allOf", ()):
            self.errors.extend(errors_of(branch))
        if "anyOf" in s:
            results = [errors_of(b) for b in s["anyOf"]]
            if all(results):
                self.invalid(path, x, "must validate at least one schema (anyOf): %s"
                             % "; ".join(results[0]))
        if "oneOf" in s:
            passing = sum(1 for b in s["oneOf"] if not errors_of(b))
            if passing != 1:
                self.invalid(path, x, "must validate one and only one schema (oneOf), %d did" % passing)
        if "not" in s and not errors_of(s["not"]):
            self.invalid(path, x, "must not validate the schema (not)")

    # --------------------------------------------------------- ObjectMeta

    def check_object_meta(self, meta, path, root=True):
        """metadata of a resource: closed ObjectMeta plus the apiserver's
        syntax rules for name, namespace, labels and annotations. ``root``
        false means an embedded resource: its name is optional."""
        self.check(_OBJECT_META, meta, path)
        if not isinstance(meta, dict):
            return
        name = meta.get("name")
        if root and self.require_name and not name and not meta.get("generateName"):
            self.add(_join(path, "name"), "Required value: name or generateName is required")
        if isinstance(name, str) and name:
            detail = ((root and self.name_rule) or _subdomain)(name)
            if detail:
                self.invalid(_join(path, "name"), name, detail)
        ns = meta.get("namespace")
        if isinstance(ns, str) and ns and _dns_label(ns):
            self.invalid(_join(path, "namespace"), ns, _dns_label(ns))
        self.check_labels(meta.get("labels"), _join(path, "labels"))
        self.check_annotations(meta.get("annotations"), _join(path, "annotations"))

    def check_labels(self, labels, path):
        """Label keys are qualified names, values at most 63 characters of
        ``[A-Za-z0-9._-]`` starting and ending alphanumeric (or empty)."""
        if not isinstance(labels, dict):
            return
        for k, v in labels.items():
            detail = _qualified_name(k)
            if detail:
                self.invalid(path, k, detail)
            if isinstance(v, str) and v and (len(v) > 63 or not _LABEL_VALUE.match(v)):
                self.invalid("%s[%s]" % (path, k), v, "must be a valid label value (at most 63 "
                             "characters of [A-Za-z0-9._-], alphanumeric at both ends)")

    def check_annotations(self, annotations, path):
        """Annotation keys are qualified names; all together at most 256 KiB."""
        if not isinstance(annotations, dict):
            return
        size = 0
        for k, v in annotations.items():
            detail = _qualified_name(k)
            if detail:
                self.invalid(path, k, detail)
            size += len(k) + (len(v) if isinstance(v, str) else 0)
        if size > 256 * 1024:
            self.add(path, "Too long: must have at most 262144 bytes")


# ------------------------------------------------------------ value helpers

def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


_TYPE_TESTS = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "integer": _is_int,
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
    "boolean": lambda x: isinstance(x, bool),
}
_INT_FORMATS = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
_DATE_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)\Z")


def _type_name(x):
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int):
        return "integer"
    if isinstance(x, float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(x), type(x).__name__)


def _json_equal(a, b):
    """JSON equality by type: booleans are not numbers; 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_json_equal(p, q) for p, q in zip(a, b))
    return a == b


def _show(v):
    """A value as the apiserver quotes it in an error, clipped."""
    text = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


@functools.lru_cache(maxsize=256)
def _regex(pattern):
    return re.compile(pattern)


# ------------------------------------------------- Kubernetes name syntax

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_IANA_SVC = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?\Z")


def _dns_label(s):
    """None when ``s`` is a DNS-1123 label, else why not."""
    if len(s) > 63 or not _DNS_LABEL.match(s):
        return "must be a DNS-1123 label (at most 63 characters of [a-z0-9-], alphanumeric at both ends)"
    return None


def _dns_1035(s):
    if len(s) > 63 or not _DNS_1035.match(s):
        return "must be a DNS-1035 label (at most 63 characters of [a-z0-9-], starting with a letter)"
    return None


def _subdomain(s):
    if len(s) > 253 or not _DNS_SUBDOMAIN.match(s):
        return "must be a DNS-1123 subdomain (at most 253 characters of [a-z0-9.-])"
    return None


def _job_name(s):
    """A Job's name also becomes its pods' job-name label value."""
    return _subdomain(s) or (len(s) > 63 and "must be at most 63 characters (it is a label value)") or None


def _qualified_name(s):
    """None when ``s`` is a label/annotation key: ``[prefix/]name``."""
    prefix, _, name = s.rpartition("/")
    if "/" in s and (not prefix or _subdomain(prefix)):
        return "key prefix must be a DNS-1123 subdomain"
    if not name or len(name) > 63 or not _LABEL_VALUE.match(name):
        return "key name must be at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends"
    return None


def _port_name(s):
    if len(s) > 15 or not _IANA_SVC.match(s) or "--" in s or not re.search("[a-z]", s):
        return "must be an IANA service name (at most 15 characters of [a-z0-9-], with a letter)"
    return None


_NAME_RULES = {("kubeflow.org/v1", "PaddleJob"): _dns_1035,  # validatePaddleJob: NameIsDNS1035Label
               "Service": _dns_1035, "Job": _job_name, "Deployment": _subdomain,
               "InferenceService": _dns_1035}


# ------------------------------------------------------------- quantities

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
                       r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?\Z")
_SUFFIX = {"n": fractions.Fraction(1, 10**9), "u": fractions.Fraction(1, 10**6),
           "m": fractions.Fraction(1, 1000), "": 1, "k": 10**3, "M": 10**6, "G": 10**9,
           "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
           "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def _quantity(v):
    """A resource quantity as a Fraction, or None when it is not one."""
    if _is_int(v):
        return fractions.Fraction(v)
    m = _QUANTITY.match(v) if isinstance(v, str) else None
    if not m:
        return None
    number, suffix = fractions.Fraction(m.group(1)), m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return number * fractions.Fraction(10) ** int(suffix[1:])
    return number * _SUFFIX[suffix]


# ---------------------------------------------------- embedded core schemas

_S = {"type": "string"}
_B = {"type": "boolean"}
_I32 = {"type": "integer", "format": "int32"}
_I64 = {"type": "integer", "format": "int64"}
_IOS = {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
_TIME = {"type": "string", "format": "date-time", "nullable": True}


def _obj(props, required=()):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    return s


def _arr(items):
    return {"type": "array", "items": items}


def _map(values):
    return {"type": "object", "additionalProperties": values}


def _enum(*values):
    return {"type": "string", "enum": list(values)}


_OBJECT_META = _obj({
    "name": _S, "generateName": _S, "namespace": _S, "selfLink": _S, "uid": _S,
    "resourceVersion": _S, "generation": _I64, "creationTimestamp": _TIME,
    "deletionTimestamp": _TIME, "deletionGracePeriodSeconds": _I64,
    "labels": _map(_S), "annotations": _map(_S),
    "ownerReferences": _arr(_obj({"apiVersion": _S, "kind": _S, "name": _S, "uid": _S,
                                  "controller": _B, "blockOwnerDeletion": _B},
                                 required=("apiVersion", "kind", "name", "uid"))),
    "finalizers": _arr(_S),
    "managedFields": _arr({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
})

_LABEL_SELECTOR = _obj({
    "matchLabels": _map(_S),
    "matchExpressions": _arr(_obj({"key": _S, "operator": _enum("In", "NotIn", "Exists", "DoesNotExist"),
                                   "values": _arr(_S)}, required=("key", "operator"))),
})


@functools.lru_cache(maxsize=None)
def _core_schema(kind):
    """Closed schema of a core kind we emit. Built on first use: it borrows
    the PodTemplateSpec of the PaddleJob reference CRD."""
    paddlejob = reference("batch.paddlepaddle.org/v1", "PaddleJob")["openAPIV3Schema"]
    template = paddlejob["properties"]["spec"]["properties"]["worker"]["properties"]["template"]
    specs = {
        "Job": _obj({
            "parallelism": _I32, "completions": _I32, "activeDeadlineSeconds": _I64,
            "backoffLimit": _I32, "backoffLimitPerIndex": _I32, "maxFailedIndexes": _I32,
            "selector": _LABEL_SELECTOR, "manualSelector": _B, "template": template,
            "ttlSecondsAfterFinished": _I32, "completionMode": _enum("NonIndexed", "Indexed"),
            "suspend": _B, "podReplacementPolicy": _enum("TerminatingOrFailed", "Failed"),
            "managedBy": _S,
            "podFailurePolicy": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "successPolicy": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        }, required=("template",)),
        "Deployment": _obj({
            "replicas": _I32, "selector": _LABEL_SELECTOR, "template": template,
            "strategy": _obj({"type": _enum("Recreate", "RollingUpdate"),
                              "rollingUpdate": _obj({"maxUnavailable": _IOS, "maxSurge": _IOS})}),
            "minReadySeconds": _I32, "revisionHistoryLimit": _I32, "paused": _B,
            "progressDeadlineSeconds": _I32,
        }, required=("selector", "template")),
        "Service": _obj({
            "ports": _arr(_obj({"name": _S, "protocol": _enum("TCP", "UDP", "SCTP"), "appProtocol": _S,
                                "port": _I32, "targetPort": _IOS, "nodePort": _I32},
                               required=("port",))),
            "selector": _map(_S), "clusterIP": _S, "clusterIPs": _arr(_S),
            "type": _enum("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"),
            "externalIPs": _arr(_S), "sessionAffinity": _enum("ClientIP", "None"),
            "loadBalancerIP": _S, "loadBalancerSourceRanges": _arr(_S), "externalName": _S,
            "externalTrafficPolicy": _enum("Cluster", "Local"), "healthCheckNodePort": _I32,
            "publishNotReadyAddresses": _B,
            "sessionAffinityConfig": _obj({"clientIP": _obj({"timeoutSeconds": _I32})}),
            "ipFamilies": _arr(_enum("IPv4", "IPv6")),
            "ipFamilyPolicy": _enum("SingleStack", "PreferDualStack", "RequireDualStack"),
            "allocateLoadBalancerNodePorts": _B, "loadBalancerClass": _S,
            "internalTrafficPolicy": _enum("Cluster", "Local"), "trafficDistribution": _S,
        }),
        "PersistentVolumeClaim": _obj({
            "accessModes": _arr(_enum("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")),
            "selector": _LABEL_SELECTOR,
            "resources": _obj({"requests": _map(_IOS), "limits": _map(_IOS)}),
            "volumeName": _S, "storageClassName": _S, "volumeMode": _enum("Filesystem", "Block"),
            "volumeAttributesClassName": _S,
            "dataSource": _obj({"apiGroup": _S, "kind": _S, "name": _S}, required=("kind", "name")),
            "dataSourceRef": _obj({"apiGroup": _S, "kind": _S, "name": _S, "namespace": _S},
                                  required=("kind", "name")),
        }),
    }
    return _obj({"apiVersion": _S, "kind": _S, "metadata": {"type": "object"}, "spec": specs[kind]},
                required=("spec",))


# ------------------------------------------------------- semantic checks

def _get(obj, *keys):
    """obj[k1][k2]... or None when any step is missing or not an object."""
    for k in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(k)
    return obj


def _list(v):
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def _check_pod_template(template, path, run, restart_policies=None):
    if not isinstance(template, dict):
        return
    meta = template.get("metadata")
    if isinstance(meta, dict):
        run.check_labels(meta.get("labels"), _join(path, "metadata.labels"))
        run.check_annotations(meta.get("annotations"), _join(path, "metadata.annotations"))
    _check_pod_spec(template.get("spec"), _join(path, "spec"), run, restart_policies=restart_policies)


def _check_pod_spec(spec, path, run, require_containers=True, restart_policies=None):
    """What ValidatePodSpec refuses in what we emit."""
    if not isinstance(spec, dict):
        if require_containers and spec is None:
            run.add(path, "Required value")
        return
    volumes = set()
    for i, v in enumerate(_list(spec.get("volumes"))):
        p = "%s.volumes[%d]" % (path, i)
        name = v.get("name")
        if isinstance(name, str):
            _check_unique_name(name, volumes, _join(p, "name"), _dns_label, run)
        sources = [k for k in v if k != "name"]
        if len(sources) != 1:
            run.add(p, "Invalid value: %s: must specify exactly one volume type" % _show(sources))
    containers = _list(spec.get("containers"))
    if require_containers and not containers:
        run.add(_join(path, "containers"), "Required value")
    names = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(_list(spec.get(field))):
            _check_container(c, "%s.%s[%d]" % (path, field, i), names, volumes, run)
    policy = spec.get("restartPolicy")
    allowed = restart_policies or ("Always", "OnFailure", "Never")
    if policy is None and "Always" not in allowed:
        run.add(_join(path, "restartPolicy"), "Required value: one of %s" % ", ".join(allowed))
    elif policy is not None and policy not in allowed:
        run.add(_join(path, "restartPolicy"), "Unsupported value: %s: supported values: %s"
                % (_show(policy), ", ".join(_show(a) for a in allowed)))


def _check_unique_name(name, seen, path, rule, run):
    detail = rule(name)
    if detail:
        run.invalid(path, name, detail)
    if name in seen:
        run.add(path, "Duplicate value: %s" % _show(name))
    seen.add(name)


def _check_container(c, path, names, volumes, run):
    name = c.get("name")
    if isinstance(name, str):
        _check_unique_name(name, names, _join(path, "name"), _dns_label, run)
    if not c.get("image"):
        run.add(_join(path, "image"), "Required value")
    mounts = set()
    for i, m in enumerate(_list(c.get("volumeMounts"))):
        p = "%s.volumeMounts[%d]" % (path, i)
        if m.get("name") not in volumes:
            run.add(_join(p, "name"), "Not found: %s" % _show(m.get("name")))
        mount_path = m.get("mountPath")
        if not mount_path:
            run.add(_join(p, "mountPath"), "Required value")
        elif mount_path in mounts:
            run.add(_join(p, "mountPath"), "Invalid value: %s: must be unique" % _show(mount_path))
        mounts.add(mount_path)
    for i, e in enumerate(_list(c.get("env"))):
        p = "%s.env[%d]" % (path, i)
        name = e.get("name")
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            run.invalid(_join(p, "name"), name, "must be a valid environment variable name")
        if e.get("value") and "valueFrom" in e:
            run.add(_join(p, "valueFrom"), "Invalid value: may not be specified when `value` is not empty")
    port_names = set()
    for i, port in enumerate(_list(c.get("ports"))):
        p = "%s.ports[%d]" % (path, i)
        _check_port_number(port.get("containerPort"), _join(p, "containerPort"), run)
        if isinstance(port.get("name"), str):
            _check_unique_name(port["name"], port_names, _join(p, "name"), _port_name, run)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            _check_probe(c[probe], _join(path, probe), run)
    _check_resources(c.get("resources"), _join(path, "resources"), run)


def _check_port_number(port, path, run, names_ok=False):
    if _is_int(port):
        if not 1 <= port <= 65535:
            run.invalid(path, port, "must be between 1 and 65535, inclusive")
    elif isinstance(port, str) and names_ok:
        if _port_name(port):
            run.invalid(path, port, _port_name(port))
    elif port is not None:
        run.invalid(path, port, "must be a port number")


def _check_probe(probe, path, run):
    handlers = [h for h in ("exec", "httpGet", "tcpSocket", "grpc") if h in probe]
    if len(handlers) != 1:
        run.add(path, "Invalid value: %s: must specify exactly one handler" % _show(handlers))
    for h in ("httpGet", "tcpSocket"):
        if isinstance(probe.get(h), dict):
            _check_port_number(probe[h].get("port"), "%s.%s.port" % (path, h), run, names_ok=True)


def _check_resources(resources, path, run):
    """Quantities parse; requests ≤ limits; extended resources (``x.y/z``
    outside kubernetes.io) are whole numbers with requests == limits."""
    if not isinstance(resources, dict):
        return
    limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
    requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
    for field, table in (("limits", limits), ("requests", requests)):
        for name, v in table.items():
            q = _quantity(v)
            p = "%s.%s[%s]" % (path, field, name)
            if q is None:
                run.invalid(p, v, "must be a quantity")
            elif q < 0:
                run.invalid(p, v, "must be greater than or equal to 0")
            elif "/" in name and "kubernetes.io/" not in name and q.denominator != 1:
                run.invalid(p, v, "must be a whole number (extended resource)")
    for name, v in requests.items():
        req, lim = _quantity(v), _quantity(limits.get(name))
        if name not in limits or req is None or lim is None:
            continue
        if req > lim:
            run.invalid("%s.requests[%s]" % (path, name), v,
                        "must be less than or equal to %s limit %s" % (name, _show(limits[name])))
        elif "/" in name and "kubernetes.io/" not in name and req != lim:
            run.invalid("%s.requests[%s]" % (path, name), v,
                        "must be equal to %s limit (extended resource)" % name)


def _selector_matches(selector, labels):
    labels = labels if isinstance(labels, dict) else {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in _list(selector.get("matchExpressions")):
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if (op == "In" and labels.get(key) not in values) or \
           (op == "NotIn" and key in labels and labels[key] in values) or \
           (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def _check_job(obj, run):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    for field in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        if _is_int(spec.get(field)) and spec[field] < 0:
            run.invalid("spec." + field, spec[field], "must be greater than or equal to 0")
    if _is_int(spec.get("activeDeadlineSeconds")) and spec["activeDeadlineSeconds"] <= 0:
        run.invalid("spec.activeDeadlineSeconds", spec["activeDeadlineSeconds"], "must be greater than 0")
    if "selector" in spec and spec.get("manualSelector") is not True:
        run.add("spec.selector", "Invalid value: `selector` not auto-generated (set manualSelector)")
    _check_pod_template(spec.get("template"), "spec.template", run, restart_policies=("OnFailure", "Never"))


def _check_deployment(obj, run):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if _is_int(spec.get("replicas")) and spec["replicas"] < 0:
        run.invalid("spec.replicas", spec["replicas"], "must be greater than or equal to 0")
    selector = spec.get("selector")
    labels = _get(spec, "template", "metadata", "labels")
    if isinstance(selector, dict):
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            run.add("spec.selector", "Invalid value: empty selector is invalid for deployment")
        elif not _selector_matches(selector, labels):
            run.add("spec.template.metadata.labels",
                    "Invalid value: %s: `selector` does not match template `labels`" % _show(labels))
    _check_pod_template(spec.get("template"), "spec.template", run, restart_policies=("Always",))


def _check_service(obj, run):
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    kind = spec.get("type", "ClusterIP")
    ports = _list(spec.get("ports"))
    if not ports and kind != "ExternalName" and spec.get("clusterIP") != "None":
        run.add("spec.ports", "Required value")
    names = set()
    for i, port in enumerate(ports):
        p = "spec.ports[%d]" % i
        _check_port_number(port.get("port"), p + ".port", run)
        _check_port_number(port.get("targetPort"), p + ".targetPort", run, names_ok=True)
        name = port.get("name")
        if len(ports) > 1 and not name:
            run.add(p + ".name", "Required value")
        elif isinstance(name, str) and name:
            _check_unique_name(name, names, p + ".name", _dns_label, run)
        if "nodePort" in port and kind not in ("NodePort", "LoadBalancer"):
            run.add(p + ".nodePort", "Forbidden: may not be used when `type` is %s" % _show(kind))
    run.check_labels(spec.get("selector"), "spec.selector")


def _check_paddlejob(obj, run):
    for role in ("worker", "ps", "heter"):
        if not isinstance(_get(obj, "spec", role), dict):
            continue
        template = _get(obj, "spec", role, "template")
        if template is None:
            run.add("spec.%s.template" % role, "Required value")
        _check_pod_template(template, "spec.%s.template" % role, run)
        replicas = _get(obj, "spec", role, "replicas")
        if _is_int(replicas) and replicas < 0:
            run.invalid("spec.%s.replicas" % role, replicas, "must be greater than or equal to 0")


def _check_kubeflow_paddlejob(obj, run):
    """What the Training Operator's webhook refuses (pkg/webhooks/paddlepaddle
    validateSpec, v1.9.0): replica types other than Master and Worker, a
    template without containers or without one named "paddle"."""
    specs = _get(obj, "spec", "paddleReplicaSpecs")
    if not isinstance(specs, dict) or not specs:
        run.add("spec.paddleReplicaSpecs", "Required value")
        return
    for role, rs in specs.items():
        p = "spec.paddleReplicaSpecs[%s]" % role
        if role not in ("Master", "Worker"):
            run.add(p, "Unsupported value: %s: supported values: \"Master\", \"Worker\"" % _show(role))
        if not isinstance(rs, dict):
            continue
        _check_pod_template(rs.get("template"), p + ".template", run)
        names = [c.get("name") for c in _list(_get(rs, "template", "spec", "containers"))]
        if "paddle" not in names:
            run.add(p + ".template.spec.containers", "Required value: must have a container named \"paddle\"")
        if _is_int(rs.get("replicas")) and rs["replicas"] < 0:
            run.invalid(p + ".replicas", rs["replicas"], "must be greater than or equal to 0")


def _check_claim(obj, run):
    """What ValidatePersistentVolumeClaimSpec refuses in what we emit."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        run.add("spec", "Required value")
        return
    if not spec.get("accessModes"):
        run.add("spec.accessModes", "Required value: at least 1 access mode is required")
    storage = _get(spec, "resources", "requests", "storage")
    q = _quantity(storage) if storage is not None else None
    if storage is None:
        run.add("spec.resources.requests[storage]", "Required value")
    elif q is None or q <= 0:
        run.invalid("spec.resources.requests[storage]", storage, "must be greater than zero")
    if isinstance(spec.get("storageClassName"), str) and _subdomain(spec["storageClassName"]):
        run.invalid("spec.storageClassName", spec["storageClassName"], _subdomain(spec["storageClassName"]))


def _check_inference_service(obj, run):
    for component in ("predictor", "transformer", "explainer"):
        spec = _get(obj, "spec", component)
        if isinstance(spec, dict):
            _check_pod_spec(spec, "spec." + component, run, require_containers=False)


def _check_nothing(obj, run):
    pass


_SEMANTICS = {"Job": _check_job, "Deployment": _check_deployment, "Service": _check_service,
              "PaddleJob": _check_paddlejob, "InferenceService": _check_inference_service,
              "SampleSet": _check_nothing, "SampleJob": _check_nothing,
              "PersistentVolumeClaim": _check_claim,
              ("kubeflow.org/v1", "PaddleJob"): _check_kubeflow_paddlejob}
