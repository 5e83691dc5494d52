"""verify=True: reload the written SavedModel, run every signature on generated inputs and
compare with the source's own outputs."""

from __future__ import annotations

import numpy as np

from .errors import ExportError

BATCH = 2  # replaces an unknown first dimension
OTHER = 8  # replaces other unknown dimensions


EXAMPLE_METHODS = ("tensorflow/serving/classify", "tensorflow/serving/regress")


def generate_feed(inputs: dict, seed: int = 0, method: str = "") -> dict:
    """Deterministic sample inputs from ``{name: {"dtype", "shape"}}`` (inspect's format):
    floats ~ N(0, 1), ints in {0, 1} (valid ids for any embedding or lookup), uint8 pixels,
    bools, short strings; for TF Serving's classify/regress signatures (serialized
    ``tf.Example`` input) empty Examples, which parse to the features' default values."""
    if method in EXAMPLE_METHODS and len(inputs) == 1:
        ((name, spec),) = inputs.items()
        if spec["dtype"] == "string":
            return {name: np.array([b"", b""], dtype=object)}
    rng = np.random.default_rng(seed)
    feed = {}
    for name, spec in sorted(inputs.items()):
        shape = spec["shape"]
        if shape is None:
            shape = [BATCH]
        shape = [(BATCH if i == 0 else OTHER) if d is None else d for i, d in enumerate(shape)]
        dtype = spec["dtype"]
        if dtype in ("float16", "float32", "float64", "bfloat16"):
            value = rng.standard_normal(shape).astype("float32" if dtype == "bfloat16" else dtype)
        elif dtype == "uint8":
            value = rng.integers(0, 256, shape).astype(np.uint8)
        elif dtype.startswith(("int", "uint")):
            value = rng.integers(0, 2, shape).astype(dtype)
        elif dtype == "bool":
            value = rng.integers(0, 2, shape).astype(bool)
        elif dtype == "string":
            words = np.array([b"a", b"b", b"c", b"[UNK]"], dtype=object)
            value = words[rng.integers(0, len(words), shape)] if shape else np.array(b"a")
        else:
            value = np.zeros(shape, dtype="float32")
        feed[name] = value
    return feed


def run_saved_model(path: str, info: dict, feeds: dict) -> dict:
    """``{signature: {output: ndarray}}`` from the SavedModel at ``path`` (eagerly with
    ``tf.saved_model.load``, or with the TF1 loader in a graph-mode process)."""
    import tensorflow as tf

    results = {}
    if tf.executing_eagerly():
        loaded = tf.saved_model.load(path, tags=["serve"])
        for name, feed in feeds.items():
            fn = loaded.signatures[name]
            specs = fn.structured_input_signature[1]
            out = fn(**{k: tf.constant(v, dtype=specs[k].dtype) for k, v in feed.items()})
            results[name] = {k: v.numpy() for k, v in out.items()}
        return results
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        meta = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
        for name, feed in feeds.items():
            sig = meta.signature_def[name]
            feed_dict = {graph.get_tensor_by_name(sig.inputs[k].name): v for k, v in feed.items()}
            fetches = {k: graph.get_tensor_by_name(t.name) for k, t in sig.outputs.items()}
            results[name] = sess.run(fetches, feed_dict=feed_dict)
    return results


def _compare(name, key, got, want, tolerance_scale, warnings) -> float:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise ExportError(
            f"verification failed: signature {name!r} output {key!r} has shape {got.shape}, "
            f"the source gives {want.shape}. The export was not published."
        )
    if got.dtype.kind in "fc" or want.dtype.kind in "fc":
        if got.size == 0:
            return 0.0
        g, w = got.astype(np.float64), want.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(w)
        diff = float(np.max(np.where(both_nan, 0.0, np.abs(g - w))))
        finite = np.abs(w[np.isfinite(w)])
        scale = max(1.0, float(finite.max()) if finite.size else 1.0)
        if not diff <= tolerance_scale * scale:
            raise ExportError(
                f"verification failed: signature {name!r} output {key!r} differs from the "
                f"source by {diff:.3g} (tolerance {tolerance_scale * scale:.3g}). The export was "
                "not published; pass verify=False to publish anyway."
            )
        return diff
    mismatches = int(np.sum(got != want))
    if mismatches:
        if tolerance_scale > 1e-3:  # float16 weights may flip near-tied classes
            warnings.append(
                f"signature {name!r} output {key!r}: {mismatches} of {got.size} values differ "
                "from the float32 source (float16 weights)."
            )
            return 0.0
        raise ExportError(
            f"verification failed: signature {name!r} output {key!r}: {mismatches} of "
            f"{got.size} values differ from the source. The export was not published."
        )
    return 0.0


def verify(path: str, info: dict, exporter, weights_dtype) -> tuple[float | None, list[str]]:
    """(max_abs_diff over all signatures and outputs, warnings)."""
    warnings: list[str] = []
    signatures = info["signatures"]
    feeds = {
        name: generate_feed(sig["inputs"], method=sig.get("method", ""))
        for name, sig in signatures.items()
    }
    try:
        got = run_saved_model(path, info, feeds)
    except ExportError:
        raise
    except Exception as err:
        raise ExportError(
            f"verification failed: the written SavedModel does not run on generated inputs "
            f"({type(err).__name__}: {str(err).strip().splitlines()[0] if str(err) else ''}). "
            "Pass verify=False (--no-verify) to skip verification."
        ) from err
    tolerance = 2e-2 if weights_dtype == "float16" else 1e-3
    max_diff = None
    for name, feed in feeds.items():
        try:
            want = exporter.reference(name, feed)
        except Exception as err:
            raise ExportError(
                f"verification failed: the source does not run signature {name!r} on generated "
                f"inputs ({type(err).__name__}: {str(err).strip().splitlines()[0]}). Pass "
                "verify=False (--no-verify) to skip verification."
            ) from err
        if want is None:
            continue
        for key, value in got[name].items():
            if key not in want:
                raise ExportError(
                    f"verification failed: signature {name!r} output {key!r} is not an output "
                    "of the source."
                )
            diff = _compare(name, key, value, want[key], tolerance, warnings)
            max_diff = diff if max_diff is None else max(max_diff, diff)
    return max_diff, warnings
