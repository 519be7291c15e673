"""RFC 6902 JSON Patch, applied as strictly as the kube-apiserver applies a
mutating webhook's answer (evanphx/json-patch v4, default options).

Where evanphx/json-patch v4 is more lenient than RFC 6901/6902 this module
follows the RFCs, so a patch that passes here also passes in a cluster:

- array indexes must be ``0`` or ``[1-9][0-9]*`` (no ``01``, ``+1``, ``-1``);
- a pointer must be empty or start with ``/``; ``~`` must be followed by
  ``0`` or ``1``;
- ``add``/``replace``/``test`` need ``value``, ``move``/``copy`` need ``from``;
- ``move`` may not move a location into one of its own children.

Where evanphx/json-patch v4 is stricter than the RFC this module follows it:

- only ``test`` may address the whole document (path ``""``);
- ``test`` compares JSON values by type, as evanphx compares the raw bytes
  of scalars: ``1``, ``1.0`` and ``true`` are three different values.

Standard library only.
"""
import base64
import copy
import json
import re

__all__ = ["JsonPatchError", "apply", "decode_review_patch", "parse_pointer",
           "escape", "pointer", "values_equal"]

_INDEX = re.compile(r"(0|[1-9][0-9]*)\Z")
_OPS = ("add", "remove", "replace", "move", "copy", "test")


class JsonPatchError(ValueError):
    """A patch that the kube-apiserver would refuse to apply."""


def escape(token):
    """Escapes one reference token for a JSON Pointer (``~`` → ``~0``,
    ``/`` → ``~1``)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens):
    """Builds a JSON Pointer from unescaped tokens: ``pointer("metadata",
    "labels", "a/b")`` → ``/metadata/labels/a~1b``."""
    return "".join("/" + escape(t) for t in tokens)


def parse_pointer(ptr):
    """Splits a JSON Pointer into unescaped reference tokens.

    ``""`` is the whole document (no tokens). Raises JsonPatchError for a
    pointer that is not a string, does not start with ``/``, or holds a ``~``
    not followed by ``0`` or ``1``."""
    if not isinstance(ptr, str):
        raise JsonPatchError("pointer must be a string, got %r" % (ptr,))
    if ptr == "":
        return []
    if not ptr.startswith("/"):
        raise JsonPatchError("pointer %r must start with '/'" % ptr)
    tokens = []
    for raw in ptr[1:].split("/"):
        if re.search(r"~(?![01])", raw):
            raise JsonPatchError("pointer %r: '~' must be followed by 0 or 1" % ptr)
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def values_equal(a, b):
    """True when two decoded JSON values are equal with their JSON types:
    booleans, integers and reals never equal one another (``1 != 1.0 !=
    true``); objects compare member by member regardless of order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return a == b


def apply(doc, patch):
    """Returns a new document: ``doc`` with every operation of ``patch`` (a
    list of operation objects, as decoded from JSON) applied in order.

    ``doc`` and ``patch`` are not modified. Raises JsonPatchError, naming the
    operation's index and path, for any operation the kube-apiserver would
    refuse: unknown ``op``, missing ``path``/``value``/``from``, a path whose
    parent does not exist (``add`` never creates parents), an object member
    that ``remove``/``replace``/``test`` cannot find, an index out of range
    (``≤ len`` for ``add``, ``< len`` otherwise; ``-`` appends, ``add`` only),
    a failed ``test``."""
    if not isinstance(patch, list):
        raise JsonPatchError("patch must be a JSON array, got %s" % type(patch).__name__)
    doc = copy.deepcopy(doc)
    for i, op in enumerate(patch):
        try:
            doc = _apply_op(doc, op)
        except JsonPatchError as e:
            where = op.get("path") if isinstance(op, dict) else None
            raise JsonPatchError("operation %d (%s %r): %s"
                                 % (i, op.get("op") if isinstance(op, dict) else "?", where, e)) from None
    return doc


def decode_review_patch(review):
    """Returns the JSON Patch (a list, possibly empty) of an admission answer.

    ``review`` is a whole AdmissionReview (its ``apiVersion`` decides the
    rules) or just its ``response`` (judged as admission.k8s.io/v1). As the
    kube-apiserver checks it: a v1 answer with ``patch`` must say
    ``patchType: JSONPatch``; v1beta1 may omit it; any other patchType is
    refused. ``patch`` must be standard padded base64 of a JSON array of
    objects. No ``patch`` means no change: ``[]``."""
    api_version = "admission.k8s.io/v1"
    response = review
    if isinstance(review, dict) and "response" in review:
        api_version = review.get("apiVersion")
        response = review["response"]
    if not isinstance(response, dict):
        raise JsonPatchError("response must be an object")
    encoded = response.get("patch")
    patch_type = response.get("patchType")
    if not encoded and patch_type is None:
        return []
    if patch_type is None:
        if api_version == "admission.k8s.io/v1":
            raise JsonPatchError("webhook returned response.patch but not response.patchType")
        patch_type = "JSONPatch"
    if patch_type != "JSONPatch":
        raise JsonPatchError("webhook returned invalid response.patchType of %r" % (patch_type,))
    if not encoded:
        return []
    if not isinstance(encoded, str):
        raise JsonPatchError("response.patch must be a base64 string")
    try:
        raw = base64.b64decode(encoded, validate=True)
        patch = json.loads(raw, parse_constant=_reject_constant)
    except ValueError as e:
        raise JsonPatchError("response.patch is not base64 of JSON: %s" % e) from None
    if not isinstance(patch, list) or not all(isinstance(op, dict) for op in patch):
        raise JsonPatchError("response.patch must be a JSON array of objects")
    return patch


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def _apply_op(doc, op):
    if not isinstance(op, dict):
        raise JsonPatchError("operation must be an object")
    kind = op.get("op")
    if kind not in _OPS:
        raise JsonPatchError("unknown op %r" % (kind,))
    if "path" not in op:
        raise JsonPatchError("missing path")
    path = parse_pointer(op["path"])
    if kind in ("add", "replace", "test") and "value" not in op:
        raise JsonPatchError("missing value")
    if kind in ("move", "copy"):
        if "from" not in op:
            raise JsonPatchError("missing from")
        source = parse_pointer(op["from"])
    if kind == "test":
        if not values_equal(_get(doc, path), op["value"]):
            raise JsonPatchError("test failed")
        return doc
    if not path:
        raise JsonPatchError("the whole document cannot be the target of %s" % kind)
    if kind == "add":
        _add(doc, path, copy.deepcopy(op["value"]))
    elif kind == "remove":
        _remove(doc, path)
    elif kind == "replace":
        _replace(doc, path, copy.deepcopy(op["value"]))
    elif kind == "move":
        if not source:
            raise JsonPatchError("the whole document cannot be moved")
        if len(source) < len(path) and path[:len(source)] == source:
            raise JsonPatchError("cannot move %r into its own child" % op["from"])
        _add(doc, path, _remove(doc, source))
    else:  # copy
        _add(doc, path, copy.deepcopy(_get(doc, source)))
    return doc


def _get(doc, tokens):
    """The value at ``tokens``; raises when any step is missing."""
    node = doc
    for token in tokens:
        node = _child(node, token)
    return node


def _parent(doc, tokens):
    """The container holding the last token; raises when it does not exist
    or is a scalar."""
    parent = _get(doc, tokens[:-1])
    if not isinstance(parent, (dict, list)):
        raise JsonPatchError("parent of %r is not an object or array" % pointer(*tokens))
    return parent, tokens[-1]


def _child(node, token):
    if isinstance(node, dict):
        if token not in node:
            raise JsonPatchError("missing member %r" % token)
        return node[token]
    if isinstance(node, list):
        return node[_index(token, len(node) - 1)]
    raise JsonPatchError("cannot descend into a %s with %r" % (type(node).__name__, token))


def _index(token, highest):
    """An array index in ``0..highest``; ``-`` and malformed indexes raise."""
    if not _INDEX.match(token):
        raise JsonPatchError("invalid array index %r" % token)
    i = int(token)
    if i > highest:
        raise JsonPatchError("array index %d out of range (at most %d)" % (i, highest))
    return i


def _add(doc, tokens, value):
    parent, key = _parent(doc, tokens)
    if isinstance(parent, dict):
        parent[key] = value
    elif key == "-":
        parent.append(value)
    else:
        parent.insert(_index(key, len(parent)), value)


def _remove(doc, tokens):
    parent, key = _parent(doc, tokens)
    if isinstance(parent, dict):
        if key not in parent:
            raise JsonPatchError("missing member %r" % key)
        return parent.pop(key)
    return parent.pop(_index(key, len(parent) - 1))


def _replace(doc, tokens, value):
    parent, key = _parent(doc, tokens)
    if isinstance(parent, dict):
        if key not in parent:
            raise JsonPatchError("missing member %r" % key)
        parent[key] = value
    else:
        parent[_index(key, len(parent) - 1)] = value
