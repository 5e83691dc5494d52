"""Signature input/output names: the user's ``inputs=`` / ``outputs=`` against what a source has.

Forms accepted for TF2 sources (Keras models, tf.Module functions, SavedModels):

``inputs``
    ``None`` (the source's own names), ``"image"`` (one input), ``["a", "b"]`` (positional
    renames) or a dict ``{new_name: selector}`` where ``selector`` is the source's input name,
    its position (int), or a shape/spec (``(None, 784)``, ``"float32[None,784]"``,
    ``tf.TensorSpec``) that also fixes the input signature (needed for unbuilt models). Every
    input of the source must be named exactly once.
``outputs``
    ``None``, ``"scores"``, ``["scores", "value"]`` or ``{new_name: source_name_or_position}``
    (a dict may select a subset of the outputs).
"""

from __future__ import annotations

import re

from ..errors import ExportError

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_SPEC_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9]*)?\s*[\[(]([^\])]*)[\])]\s*$")


def check_name(name, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ExportError(
            f"{what} {name!r} is not a valid signature name: use letters, digits, '_', '.' and "
            "'-', starting with a letter or '_'."
        )
    return name


def sanitize(name: str, fallback: str) -> str:
    """A source's own name (e.g. a Keras tensor name) made valid as a signature name."""
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name).split(":")[0])
    if not name or not (name[0].isalpha() or name[0] == "_"):
        name = fallback if not name else f"_{name}"
    return name


def parse_spec(value):
    """``(dtype_or_None, shape_tuple)`` if ``value`` describes a tensor, else ``None``.

    Accepts ``tf.TensorSpec``/``keras.InputSpec`` (anything with ``shape`` and ``dtype``),
    a tuple/list of ints/None, and strings ``"(None, 784)"``, ``"float32[None,784]"``,
    ``"[-1,784]"``.
    """
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, str):
        shape = value.shape
        shape = None if shape is None else tuple(getattr(shape, "as_list", lambda: shape)())
        dtype = value.dtype
        dtype = getattr(dtype, "name", dtype)
        return (str(dtype) if dtype is not None else None), shape
    if isinstance(value, (tuple, list)) and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value
    ):
        return None, tuple(None if v is None or v < 0 else v for v in value)
    if isinstance(value, str):
        match = _SPEC_RE.match(value)
        if match is None:
            return None
        dims = []
        for part in filter(None, (p.strip() for p in match.group(2).split(","))):
            if part.lower() in ("none", "?", "-1"):
                dims.append(None)
            elif part.isdigit():
                dims.append(int(part))
            else:
                return None
        return match.group(1), tuple(dims)
    return None


def _describe(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"


def select_inputs(available: list[tuple[str, object]], user, source: str):
    """Map the user's ``inputs`` onto the source's positional inputs.

    ``available`` is ``[(default_name, spec_or_None), ...]`` in call order (empty when the
    source does not know its inputs). Returns ``[(name, spec_override_or_None), ...]`` in
    call order, where a spec override is ``(dtype_or_None, shape)``.
    """
    names = [name for name, _ in available]
    if user is None:
        return [(name, None) for name in names]
    if isinstance(user, str):
        user = [user]
    if isinstance(user, (list, tuple)):
        if len(user) != len(available):
            raise ExportError(
                f"inputs={list(user)!r} names {len(user)} input(s) but {source} has "
                f"{len(available)}: {_describe(names)}. Name each input once, in order."
            )
        return [(check_name(n, "input name"), None) for n in user]
    if not isinstance(user, dict):
        raise ExportError(
            f"inputs={user!r} is not understood: pass a name, a list of names or a dict "
            "{signature_input_name: model_input_name_or_shape}."
        )
    result: list = [None] * max(len(available), 0)
    extra = []
    for position, (new, selector) in enumerate(user.items()):
        check_name(new, "input name")
        spec = None if isinstance(selector, str) and selector in names else parse_spec(selector)
        if spec is not None:
            index = position  # shapes are given in call order
            if index >= len(available):
                extra.append((new, spec))
                continue
        elif isinstance(selector, int) and not isinstance(selector, bool):
            index = selector
        elif isinstance(selector, str) and selector in names:
            index = names.index(selector)
        else:
            raise ExportError(
                f"inputs[{new!r}]={selector!r}: {source} has no input of that name. Its inputs "
                f"are {_describe(names)}; pass one of them, a position, or a shape such as "
                "(None, 784)."
            )
        if not 0 <= index < len(available):
            raise ExportError(
                f"inputs[{new!r}]={selector!r}: {source} has {len(available)} input(s) "
                f"({_describe(names)})."
            )
        if result[index] is not None:
            raise ExportError(f"inputs names {source}'s input {names[index]!r} twice.")
        result[index] = (new, spec)
    if available and (extra or any(r is None for r in result)):
        missing = [names[i] for i, r in enumerate(result) if r is None]
        raise ExportError(
            f"inputs={user!r} does not match {source}'s inputs {_describe(names)}"
            + (f": {_describe(missing)} not named" if missing else "")
            + ". Name every input exactly once."
        )
    return result if available else extra


def select_outputs(available: list[str], user, source: str) -> list[tuple[str, int]]:
    """``[(signature_output_name, index_into_available), ...]`` for the user's ``outputs``."""
    if user is None:
        seen, result = set(), []
        for i, name in enumerate(available):
            name = sanitize(name, f"output_{i}")
            if name in seen:
                name = f"output_{i}"
            seen.add(name)
            result.append((name, i))
        return result
    if isinstance(user, str):
        if len(available) != 1:
            raise ExportError(
                f"outputs={user!r} names one output but {source} has {len(available)}: "
                f"{_describe(available)}. Pass a list of names or a dict "
                "{signature_output_name: model_output_name}."
            )
        return [(check_name(user, "output name"), 0)]
    if isinstance(user, (list, tuple)):
        if len(user) != len(available):
            raise ExportError(
                f"outputs={list(user)!r} names {len(user)} output(s) but {source} has "
                f"{len(available)}: {_describe(available)}. Name each output once, in order, "
                "or pass a dict to select some."
            )
        return [(check_name(n, "output name"), i) for i, n in enumerate(user)]
    if not isinstance(user, dict) or not user:
        raise ExportError(
            f"outputs={user!r} is not understood: pass a name, a list of names or a dict "
            "{signature_output_name: model_output_name}."
        )
    result = []
    for new, selector in user.items():
        check_name(new, "output name")
        if isinstance(selector, int) and not isinstance(selector, bool):
            index = selector
        elif isinstance(selector, str) and selector in available:
            index = available.index(selector)
        elif selector is None and len(user) == 1 and len(available) == 1:
            index = 0
        else:
            raise ExportError(
                f"outputs[{new!r}]={selector!r}: {source} has no output of that name. Its "
                f"outputs are {_describe(available)}."
            )
        if not 0 <= index < len(available):
            raise ExportError(
                f"outputs[{new!r}]={selector!r}: {source} has {len(available)} output(s) "
                f"({_describe(available)})."
            )
        result.append((new, index))
    return result
