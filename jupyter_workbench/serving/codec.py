"""TF Serving's JSON mapping (tensorflow.org/tfx/serving/api_rest) between request bodies and
numpy arrays, written from the REST API documentation: row (``instances``) and columnar
(``inputs``) requests, ``predictions``/``outputs`` responses, ``{"b64": ...}`` for binary strings
(outputs whose name ends in ``_bytes``), ``NaN``/``Infinity`` tokens, and tf.Example bodies of
``:classify``/``:regress``. numpy only; the caller supplies each input's dtype and shape.
"""

from __future__ import annotations

import base64
import binascii
import json

import numpy as np

from .status import InvalidArgument

try:  # ~10x faster than the json module on arrays of numbers (the tf2 environment has it)
    import orjson
except ImportError:  # pragma: no cover - environments without it use the json module
    orjson = None


def loads(body: bytes):
    """Parse a request body (JSON with TF Serving's NaN/Infinity tokens)."""
    if not body or not body.strip():
        raise InvalidArgument("JSON Parse error: The document is empty")
    doc = None
    if orjson is not None:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None  # NaN/Infinity tokens, huge integers, non-UTF-8: the json module decides
    if doc is None:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise InvalidArgument(f"JSON Parse error: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("JSON Value: the request body is not a JSON object")
    return doc


def dumps(doc) -> bytes:
    """Compact JSON; NaN / Infinity / -Infinity written as tokens, as TF Serving does."""
    if orjson is not None:
        try:
            out = orjson.dumps(doc)
        except TypeError:  # a value orjson does not take (e.g. an integer over 64 bits)
            out = b"null"
        if b"null" not in out:  # orjson writes NaN and Infinity as null: only then redo it
            return out
    return json.dumps(doc, allow_nan=True, separators=(",", ":")).encode()


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _decode_b64(value) -> bytes:
    if not isinstance(value["b64"], str):
        raise InvalidArgument(f'JSON Value: {json.dumps(value)} "b64" must be a string')
    try:
        return base64.b64decode(value["b64"], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("Unable to base64 decode") from None


def _strings(value, name: str):
    """Nested lists of str / {"b64"} -> nested lists of bytes."""
    if isinstance(value, list):
        return [_strings(v, name) for v in value]
    if _is_b64(value):
        return _decode_b64(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise InvalidArgument(
        f"JSON Value: {json.dumps(value)} Is not of expected type: string (input '{name}')"
    )


_KIND_OK = {"f": "biuf", "i": "iu", "u": "iu", "b": "b", "c": "biufc"}


def to_array(value, dtype: np.dtype | None, name: str) -> np.ndarray:
    """One input's JSON value as an array of ``dtype`` (``None``/object = DT_STRING)."""
    if dtype is None or dtype.kind == "O":
        data = _strings(value, name)
        try:
            arr = np.array(data, dtype=object)
        except ValueError as err:
            raise InvalidArgument(f"input '{name}': {err}") from None
        _check_rectangular(arr, data, name)
        return arr
    try:
        raw = np.asarray(value)  # one C pass; the slow checks below only explain a failure
    except ValueError as err:
        raw, ragged = None, err
    if raw is None or raw.dtype.kind in "OUS":
        bad = _first(value, lambda v: isinstance(v, (str, dict)))
        if bad is not None:
            raise InvalidArgument(
                f"JSON Value: {json.dumps(bad)} Is not of expected type: {dtype.name} "
                f"(input '{name}')"
            )
        detail = f" ({ragged})" if raw is None else ""
        raise InvalidArgument(f"input '{name}': the nested lists are not rectangular{detail}")
    if raw.size and raw.dtype.kind not in _KIND_OK.get(dtype.kind, dtype.kind):
        raise InvalidArgument(
            f"JSON Value: {json.dumps(_first(value, lambda v: True))} Is not of expected type: "
            f"{dtype.name} (input '{name}')"
        )
    return raw.astype(dtype, copy=False)


def _first(value, pred):
    if isinstance(value, list):
        for v in value:
            found = _first(v, pred)
            if found is not None:
                return found
        return None
    return value if pred(value) else None


def _check_rectangular(arr: np.ndarray, data, name: str) -> None:
    flat = arr.reshape(-1) if arr.size else arr
    if any(isinstance(v, list) for v in flat):
        raise InvalidArgument(f"input '{name}': the nested lists are not rectangular")


def parse_predict(doc: dict, inputs: dict[str, tuple]) -> tuple[dict[str, np.ndarray], str]:
    """``(arrays, "row"|"columnar")`` from a predict body; ``inputs`` is
    ``{name: (numpy dtype or None for strings, shape list)}`` of the signature."""
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances and has_inputs:
        raise InvalidArgument(
            "Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist"
        )
    if not has_instances and not has_inputs:
        raise InvalidArgument("Missing 'inputs' or 'instances' key")
    if not inputs:
        raise InvalidArgument("Failed to get input map for signature")
    if has_instances:
        return _parse_instances(doc["instances"], inputs), "row"
    return _parse_inputs(doc["inputs"], inputs), "columnar"


def _parse_instances(instances, inputs) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise InvalidArgument("Expecting 'instances' to be an list/array")
    if not instances:
        raise InvalidArgument("No values in 'instances' array")
    names = sorted(inputs)
    objects = isinstance(instances[0], dict) and not _is_b64(instances[0])
    if not objects and len(names) > 1:
        raise InvalidArgument(
            "instances is a plain list, but expecting list of objects as multiple input tensors "
            f"required as per tensorinfo_map (inputs: {', '.join(names)})"
        )
    columns: dict[str, list] = {n: [] for n in names}
    for i, item in enumerate(instances):
        is_object = isinstance(item, dict) and not _is_b64(item)
        if objects != is_object:
            raise InvalidArgument(
                f"Expecting {'object' if objects else 'value/list'} but got "
                f"{'object' if is_object else 'list'} at item {i} of input list"
            )
        if objects:
            if set(item) != set(names):
                raise InvalidArgument(
                    f"Failed to process element: {i} of 'instances' list. JSON object: "
                    f"{json.dumps(item)[:200]} keys must be equal to: {','.join(names)}"
                )
            for n in names:
                columns[n].append(item[n])
        else:
            columns[names[0]].append(item)
    return {n: to_array(columns[n], inputs[n][0], n) for n in names}


def _parse_inputs(value, inputs) -> dict[str, np.ndarray]:
    names = sorted(inputs)
    if not isinstance(value, dict) or _is_b64(value):
        if len(names) > 1:
            raise InvalidArgument(
                "inputs is a plain value/list, but expecting an object as multiple input tensors "
                f"required as per tensorinfo_map (inputs: {', '.join(names)})"
            )
        return {names[0]: to_array(value, inputs[names[0]][0], names[0])}
    out = {}
    for n in names:
        if n not in value:
            raise InvalidArgument(f"Missing named input: {n} in 'inputs' object.")
        out[n] = to_array(value[n], inputs[n][0], n)
    return out


def _json_value(arr: np.ndarray, name: str):
    if arr.dtype == object or arr.dtype.kind == "S":
        as_bytes = name.endswith("_bytes")

        def enc(v):
            if isinstance(v, list):
                return [enc(x) for x in v]
            if not isinstance(v, bytes):
                v = bytes(v)
            if as_bytes:
                return {"b64": base64.b64encode(v).decode()}
            return v.decode("utf-8", "replace")

        return enc(arr.tolist())
    return arr.tolist()


def predict_response(outputs: dict[str, np.ndarray], fmt: str) -> dict:
    """``{"predictions": ...}`` (row) or ``{"outputs": ...}`` (columnar), as TF Serving writes."""
    if not outputs:
        raise InvalidArgument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    if fmt == "columnar":
        if len(names) == 1:
            return {"outputs": _json_value(outputs[names[0]], names[0])}
        return {"outputs": {n: _json_value(outputs[n], n) for n in names}}
    batch = None
    for n in names:
        arr = outputs[n]
        if arr.ndim == 0:
            raise InvalidArgument(f"Tensor name: {n} has no shape information ")
        if batch is not None and arr.shape[0] != batch:
            raise InvalidArgument(
                f"Tensor name: {n} has inconsistent batch size: {arr.shape[0]} expecting: {batch}"
            )
        batch = arr.shape[0]
    if len(names) == 1:
        return {"predictions": _json_value(outputs[names[0]], names[0])}
    values = {n: _json_value(outputs[n], n) for n in names}
    return {"predictions": [{n: values[n][i] for n in names} for i in range(batch)]}


# --------------------------------------------------------------------------- classify / regress


def feature_values(value, name: str):
    """A JSON feature value (value or list) as ``("int64"|"float"|"bytes", [values])``."""
    items = value if isinstance(value, list) else [value]
    if not items:
        return "float", []
    if all(isinstance(v, bool) for v in items):
        return "int64", [int(v) for v in items]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        return "int64", items
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items):
        return "float", [float(v) for v in items]
    if all(isinstance(v, str) or _is_b64(v) for v in items):
        return "bytes", [_decode_b64(v) if _is_b64(v) else v.encode() for v in items]
    raise InvalidArgument(
        f"Unexpected element type in feature: {name} (values must be all numbers or all strings)"
    )


def parse_examples(doc: dict) -> tuple[list[dict], dict]:
    """``(examples, context)`` of a classify/regress body, each ``{feature: JSON value}``."""
    examples = doc.get("examples")
    if examples is None:
        raise InvalidArgument("When method is classify or regress, key 'examples' is expected")
    if not isinstance(examples, list):
        raise InvalidArgument("Expecting 'examples' to be an list/array")
    if not examples:
        raise InvalidArgument("'examples' must not be empty")
    for i, ex in enumerate(examples):
        if not isinstance(ex, dict):
            raise InvalidArgument(
                f"Example must be JSON object but got JSON {type(ex).__name__} (item {i})"
            )
    context = doc.get("context") or {}
    if not isinstance(context, dict):
        raise InvalidArgument("'context' must be a JSON object")
    for key in context:
        if any(key in ex for ex in examples):
            raise InvalidArgument(f"Feature {key} appears in both 'context' and 'examples'")
    return examples, context
