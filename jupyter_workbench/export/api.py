"""export_savedmodel: the one entry point that the magic, the CLI and the REST worker call."""

from __future__ import annotations

import contextlib
import logging
import os
import time

from .errors import ExportError
from .options import check_version as _check_version
from .options import check_weights_dtype as _check_weights_dtype
from .progress import Progress
from .result import ExportResult
from .sizes import format_size, parse_size, size_warnings


@contextlib.contextmanager
def _quiet_tensorflow():
    """TF1 deprecation notices and builder INFO lines are noise in a notebook."""
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "h5py")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _public_signatures(info: dict) -> dict:
    return {
        name: {
            kind: {k: {"dtype": v["dtype"], "shape": v["shape"]} for k, v in sig[kind].items()}
            for kind in ("inputs", "outputs")
        }
        for name, sig in info["signatures"].items()
    }


def export_savedmodel(
    source,
    destination,
    *,
    version=None,
    signature_name="serving_default",
    inputs=None,
    outputs=None,
    checkpoint=None,
    overwrite=False,
    verify=True,
    weights_dtype=None,
    max_size=None,
    progress=True,
    signatures=None,
    storage_options=None,
    warmup=None,
) -> ExportResult:
    """Export ``source`` as a TF-Serving-ready SavedModel in ``destination/<version>/``.

    Args:
        source: a Keras 3 or tf_keras model, a ``tf.Module`` with ``tf.function`` s, a
            ``tf.function``, a ``tf.compat.v1.Session``, or a path: ``.keras`` file, legacy
            ``.h5`` file, SavedModel directory (re-version/copy; a model base means its latest
            version) or TF1 Saver checkpoint prefix with its ``.meta`` graph.
        destination: the model base (local path, mounted path, ``file://`` or fsspec URL such
            as ``oss://bucket/models/mnist``); the export lands in ``<destination>/<version>``.
        version: integer version; ``None`` takes the highest existing version + 1 (1 if none).
        signature_name: name of the signature (tag ``serve``). When it is not
            ``serving_default``, a ``serving_default`` alias of it is written too (TF Serving's
            default, as ``keras.export`` does).
        inputs / outputs: signature input/output names. TF1 sources: dicts of name -> tensor
            name (``{"image": "x:0"}``). Other sources: a name, a list of names, or a dict of
            name -> the model's own input/output name (inputs may also give a shape, e.g.
            ``{"x": (None, 28, 28)}``, for an unbuilt model).
        checkpoint: restore this checkpoint first: a TF2 checkpoint prefix (or Keras
            ``.weights.h5``) into the model/module, or a Saver prefix into the TF1 graph.
        overwrite: replace an existing ``version`` instead of refusing.
        verify: reload the export, run each signature on generated inputs and compare with
            the source (``max_abs_diff``); nothing is published if they disagree.
        weights_dtype: ``"float16"`` stores weights in half precision, computing in float32.
        max_size: refuse to publish above this size (bytes or ``"500MB"``, ``"10GB"``).
        progress: ``True`` (tqdm bar), ``False`` (silent) or ``progress(fraction, message)``.
        signatures: several signatures instead of one, e.g.
            ``{"predict": module.predict, "classify": module.classify}`` (TF2; entries may be
            tf.functions, Keras models, callables or ``{"fn", "inputs", "outputs"}`` dicts) or
            ``{"predict": {"inputs": {...}, "outputs": {...}}, ...}`` (TF1 tensor names).
        storage_options: options for the destination URL's fsspec filesystem (endpoint,
            credentials); never logged or stored.
        warmup: TF Serving warmup records in ``assets.extra/tf_serving_warmup_requests``:
            ``N`` single-row requests per signature from generated inputs (classify/regress
            signatures: ``tf.Example``s with the features the graph parses), or
            ``{"image": samples}`` (one predict record per row). ``None``: no warmup file.

    Returns:
        :class:`ExportResult` (path, version, signatures, size_bytes, max_abs_diff, warnings).

    Raises:
        ExportError: for every user mistake, with a message that says what to do.
    """
    from .publish import open_destination
    from .sources import resolve
    from .warmup import check_warmup

    started = time.monotonic()
    warmup = check_warmup(warmup)
    version = _check_version(version)
    weights_dtype = _check_weights_dtype(weights_dtype)
    limit = parse_size(max_size)
    if signatures and signature_name != "serving_default":
        raise ExportError(
            "pass either signature_name or signatures=, not both: signatures= names each "
            "signature itself."
        )
    reporter = Progress(progress)
    try:
        # The destination is checked first: a typo should not cost a model load.
        reporter.update(0.0, "checking destination")
        dest = open_destination(destination, storage_options)
        dest.prepare()
        auto = version is None
        if auto:
            version = dest.next_version()
        else:
            dest.check_version(version, overwrite=overwrite)

        reporter.update(0.02, "loading source")
        with _quiet_tensorflow():
            exporter = resolve(
                source,
                signature_name=signature_name,
                inputs=inputs,
                outputs=outputs,
                signatures=signatures,
                checkpoint=checkpoint,
                weights_dtype=weights_dtype,
            )
            try:
                result = _export(
                    exporter, dest, version, auto=auto, overwrite=overwrite, verify=verify,
                    weights_dtype=weights_dtype, limit=limit, reporter=reporter, warmup=warmup,
                )  # fmt: skip
            finally:
                exporter.close()
        result.duration_s = time.monotonic() - started
        reporter.update(1.0, f"exported version {result.version}")
        return result
    finally:
        reporter.close()


def _export(
    exporter, dest, version, *, auto, overwrite, verify, weights_dtype, limit, reporter, warmup=None
):
    """Trace, write into a staging directory, check size, verify, then publish."""
    from .inspect import inspect_savedmodel
    from .publish import tree_size

    reporter.update(0.1, "tracing")
    exporter.prepare()
    staging = dest.stage(version)
    try:
        reporter.update(0.2, "writing SavedModel")
        with staging:  # flushes to disk while TensorFlow writes (local destinations)
            _write(exporter, staging.model_dir, weights_dtype)
        info = inspect_savedmodel(staging.model_dir)
        warnings = []
        records = 0
        if warmup is not None:
            from .warmup import write_warmup

            reporter.update(0.5, "writing warmup requests")
            records = write_warmup(staging.model_dir, info, warmup, warnings)
            if not records:
                warnings.append("no warmup records: the SavedModel has no signature to warm up.")
        size = tree_size(staging.model_dir)
        if limit is not None and size > limit:
            raise ExportError(
                f"the SavedModel is {format_size(size)}, over max_size={format_size(limit)}: "
                "nothing was published. Raise max_size, or halve the weights with "
                "weights_dtype='float16'."
            )
        warnings.extend(size_warnings(size))
        max_diff = None
        if verify:
            from .verify import verify as run_verify

            reporter.update(0.6, "verifying")
            max_diff, verify_warnings = run_verify(staging.model_dir, info, exporter, weights_dtype)
            warnings.extend(verify_warnings)
        version = dest.commit(
            staging, version, overwrite=overwrite, auto=auto, span=reporter.span(0.8, 0.99)
        )
    except BaseException:
        staging.discard()
        raise
    return ExportResult(
        path=dest.version_path(version),
        version=version,
        signatures=_public_signatures(info),
        size_bytes=size,
        max_abs_diff=max_diff,
        warnings=warnings,
        source_kind=exporter.kind,
        weights_dtype=weights_dtype or "float32",
        warmup_records=records,
    )


def _write(exporter, path: str, weights_dtype) -> None:
    try:
        exporter.write(path, weights_dtype)
    except ExportError:
        raise
    except Exception as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ExportError(
            f"writing the SavedModel failed: {type(err).__name__}: {message}"
        ) from err
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ExportError("writing the SavedModel failed: no saved_model.pb was written.")
