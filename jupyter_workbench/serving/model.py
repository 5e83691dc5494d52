"""Loaded versions and the manager that follows the model base (runs in the TensorFlow process).

:class:`Servable` is one loaded SavedModel version: its signature defs (as written in
``saved_model.pb``, for metadata) and the concrete functions that run them. :class:`ModelManager`
polls the base, loads what the version policy selects once it is complete and stable, replays its
warmup records, marks it AVAILABLE, and only then unloads what it replaces. A version that fails
to load is reported (state END with its error) and the previous one keeps serving.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import numpy as np

from .discovery import ModelBase, select_versions
from .status import FailedPrecondition, InvalidArgument, NotFound, Unavailable

log = logging.getLogger("jupyter_workbench.serving")

DEFAULT_SIGNATURE = "serving_default"
INIT_OP = "__saved_model_init_op"
PREDICT_METHOD = "tensorflow/serving/predict"
CLASSIFY_METHOD = "tensorflow/serving/classify"
REGRESS_METHOD = "tensorflow/serving/regress"
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MAX_WARMUP_RECORDS = 1000  # TF Serving's limit

# ModelVersionStatus.State
START, LOADING, AVAILABLE, UNLOADING, END = "START", "LOADING", "AVAILABLE", "UNLOADING", "END"


class Servable:
    """One loaded version."""

    def __init__(self, version: int, path: str):
        import tensorflow as tf
        from tensorflow.core.protobuf import saved_model_pb2

        self.version = version
        self.path = path
        sm = saved_model_pb2.SavedModel()
        with open(os.path.join(path, "saved_model.pb"), "rb") as fh:
            sm.ParseFromString(fh.read())
        graphs = [mg for mg in sm.meta_graphs if "serve" in mg.meta_info_def.tags]
        if not graphs:
            raise ValueError("the SavedModel has no meta graph tagged 'serve'")
        self.signature_defs = graphs[0].signature_def
        self._loaded = tf.saved_model.load(path, tags=["serve"])
        self.functions = {}
        self.inputs: dict[
            str, dict[str, tuple]
        ] = {}  # sig -> name -> (np dtype|None, shape, tf dtype)
        for name, fn in self._loaded.signatures.items():
            if name == INIT_OP:
                continue
            self.functions[name] = fn
            specs = fn.structured_input_signature[1]
            self.inputs[name] = {
                k: (
                    None if s.dtype == tf.string else np.dtype(s.dtype.as_numpy_dtype),
                    None if s.shape.rank is None else s.shape.as_list(),
                    s.dtype,
                )
                for k, s in specs.items()
            }
        self.warmup_replayed = 0
        self._batchers = {
            name: _Batcher(self, name)
            for name, specs in self.inputs.items()
            if specs and all(shape and shape[0] is None for _d, shape, _t in specs.values())
        }

    def batching(self) -> str:
        """``"serving_default: 1200 requests in 180 calls"`` for each signature that ran."""
        return ", ".join(
            f"{name}: {b.requests} requests in {b.calls} calls"
            for name, b in sorted(self._batchers.items())
            if b.calls
        )

    def method(self, signature: str) -> str:
        return (
            self.signature_defs[signature].method_name if signature in self.signature_defs else ""
        )

    def signature(self, name: str | None) -> str:
        name = name or DEFAULT_SIGNATURE
        if name not in self.functions:
            raise FailedPrecondition(
                f'Serving signature name: "{name}" not found in signature def '
                f"(signatures: {', '.join(sorted(self.functions)) or 'none'})"
            )
        return name

    def input_map(self, signature: str) -> dict[str, tuple]:
        return self.inputs[self.signature(signature)]

    def run(self, signature: str, arrays: dict[str, np.ndarray], output_filter=()) -> dict:
        """Run ``signature`` on ``{input: array}``; ``{output: ndarray}``.

        Concurrent requests to a batch-major signature (every input's first dimension unknown)
        are run together as one batch (TF Serving's request batching, without a timeout: a
        lone request runs at once, requests arriving meanwhile join the next call).
        """
        signature = self.signature(signature)
        result = self.run_prepared(signature, [self.prepare(signature, arrays)])[0]
        if isinstance(result, Exception):
            raise result
        return self.select_outputs(result, output_filter)

    @staticmethod
    def select_outputs(outputs: dict, output_filter=()) -> dict:
        """``outputs`` restricted to ``output_filter`` (all when empty), as TF Serving does."""
        if not output_filter:
            return outputs
        out = {}
        for name in output_filter:
            if name not in outputs:
                raise InvalidArgument(
                    f"output tensor alias not found in signature: {name} Outputs expected to be "
                    f"in the set {{{','.join(sorted(outputs))}}}."
                )
            out[name] = outputs[name]
        return out

    def prepare(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``arrays`` checked against ``signature``'s inputs and cast to their dtypes."""
        return self._prepare(self.signature(signature), arrays)

    def run_prepared(self, signature: str, feeds: list[dict]) -> list:
        """Run prepared feeds of one signature: ``{output: ndarray}`` or the exception, each.

        Feeds given together, and those of other threads meanwhile, run as one batch when the
        signature is batch-major.
        """
        batcher = self._batchers.get(signature)
        if batcher is not None:
            return batcher.run_many(feeds)
        results = []
        for feed in feeds:
            try:
                results.append(self._execute(signature, feed))
            except Exception as err:
                results.append(err)
        return results

    def _prepare(self, signature: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        specs = self.inputs[signature]
        missing = sorted(set(specs) - set(arrays))
        extra = sorted(set(arrays) - set(specs))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing input(s) {', '.join(missing)}")
            if extra:
                parts.append(f"unknown input(s) {', '.join(extra)}")
            raise InvalidArgument(
                f"signature '{signature}' expects inputs {', '.join(sorted(specs))}: "
                + "; ".join(parts)
            )
        feed = {}
        for key, value in arrays.items():
            np_dtype, shape, tf_dtype = specs[key]
            _check_shape(signature, key, value.shape, shape)
            if np_dtype is not None and value.dtype != np_dtype:
                if not np.can_cast(value.dtype, np_dtype, casting="same_kind"):
                    raise InvalidArgument(
                        f"input '{key}' of signature '{signature}' expects {tf_dtype.name}, "
                        f"got {value.dtype.name}"
                    )
                value = value.astype(np_dtype)
            elif np_dtype is None and value.dtype != object and value.dtype.kind not in "SU":
                raise InvalidArgument(
                    f"input '{key}' of signature '{signature}' expects string, got "
                    f"{value.dtype.name}"
                )
            feed[key] = value
        return feed

    def _execute(self, signature: str, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import tensorflow as tf

        specs = self.inputs[signature]
        tensors = {k: tf.constant(v, dtype=specs[k][2]) for k, v in feed.items()}
        try:
            out = self.functions[signature](**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            message = getattr(err, "message", None) or str(err)
            raise InvalidArgument(message.strip().splitlines()[0][:2000]) from None
        return {k: v.numpy() for k, v in out.items()}


class _Batcher:
    """Runs concurrent requests of one signature as one call (rows concatenated on axis 0)."""

    MAX_ROWS = 256

    def __init__(self, servable: Servable, signature: str):
        self.servable, self.signature = servable, signature
        self.cond = threading.Condition()
        self.pending: list[dict] = []
        self.busy = False
        self.calls = self.requests = 0  # TensorFlow calls and the requests they answered

    def run_many(self, feeds: list[dict[str, np.ndarray]]) -> list:
        """Results (``{output: ndarray}`` or the exception) of ``feeds``, in order."""
        items = [{"feed": f, "key": _batch_key(f), "done": False} for f in feeds]
        with self.cond:
            self.pending.extend(items)
        while True:
            with self.cond:
                while self.busy and not all(it["done"] for it in items):
                    self.cond.wait()
                mine = [it for it in items if not it["done"]]
                if not mine:
                    break
                # this thread runs the next batch: its first waiting feed and every pending
                # one of the same shape (other threads' too), up to MAX_ROWS rows
                self.busy = True
                key = mine[0]["key"]
                batch, rows = [], 0
                for other in list(self.pending):
                    n = _rows(other["feed"])
                    if other["key"] == key and (not batch or rows + n <= self.MAX_ROWS):
                        batch.append(other)
                        self.pending.remove(other)
                        rows += n
            try:
                self._run(batch)
            finally:
                with self.cond:
                    for other in batch:
                        other["done"] = True
                    self.busy = False
                    self.cond.notify_all()
        return [it["error"] if "error" in it else it["result"] for it in items]

    def _run(self, batch: list[dict]) -> None:
        execute = self.servable._execute
        self.calls += 1
        self.requests += len(batch)
        if len(batch) > 1:
            sizes = [_rows(b["feed"]) for b in batch]
            joined = {k: np.concatenate([b["feed"][k] for b in batch]) for k in batch[0]["feed"]}
            try:
                out = execute(self.signature, joined)
            except Exception:
                out = None  # one bad request must not fail the others: run them one by one
            total = sum(sizes)
            if out is not None and all(v.ndim and v.shape[0] == total for v in out.values()):
                offsets = np.cumsum([0, *sizes])
                for i, b in enumerate(batch):
                    b["result"] = {k: v[offsets[i] : offsets[i + 1]] for k, v in out.items()}
                return
        for b in batch:
            try:
                b["result"] = execute(self.signature, b["feed"])
            except Exception as err:
                b["error"] = err


def _rows(feed: dict[str, np.ndarray]) -> int:
    return next(iter(feed.values())).shape[0]


def _batch_key(feed: dict[str, np.ndarray]) -> tuple:
    return tuple(sorted((k, v.dtype.str, v.shape[1:]) for k, v in feed.items()))


def _check_shape(signature, name, got, want) -> None:
    if want is None:
        return
    if len(got) != len(want) or any(
        w is not None and w != g for g, w in zip(got, want, strict=True)
    ):
        shown = "(" + ", ".join("-1" if w is None else str(w) for w in want) + ")"
        raise InvalidArgument(
            f"input '{name}' of signature '{signature}' has shape {tuple(got)}, the signature "
            f"expects {shown} (-1: any size)"
        )


class VersionState:
    def __init__(self, version: int):
        self.version = version
        self.state = START
        self.error_code = "OK"
        self.error_message = ""
        self.fingerprint = None

    def to_dict(self) -> dict:
        return {
            "version": str(self.version),
            "state": self.state,
            "status": {"error_code": self.error_code, "error_message": self.error_message},
        }


class ModelManager:
    """Follows a model base: which versions are loaded, and which one answers a request."""

    def __init__(
        self, base: ModelBase, name: str, policy, labels=None, poll: float = 2.0, warmup_runner=None
    ):
        self.base = base
        self.name = name
        self.policy = policy
        self.labels = dict(labels or {})
        self.poll = poll
        self.states: dict[int, VersionState] = {}
        self.servables: dict[int, Servable] = {}
        self._lock = threading.Lock()
        self._previous_scan: dict[int, tuple | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.warmup_runner = warmup_runner  # callable(servable) -> records replayed

    # ------------------------------------------------------------------ following the base

    def poll_once(self) -> None:
        scan = self.base.scan()
        previous, self._previous_scan = self._previous_scan, scan
        stable = [v for v, fp in scan.items() if fp is not None and previous.get(v) == fp]
        candidates = []
        for v in stable:
            st = self.states.get(v)
            failed = st is not None and st.state == END and st.error_code != "OK"
            if failed and st.fingerprint == scan[v]:
                continue  # failed already with these very files: do not retry
            candidates.append(v)
        desired = select_versions(candidates, self.policy)
        for v in sorted(desired, reverse=True):
            if v not in self.servables:
                self._load(v, scan[v])
        # unload what is no longer wanted, but never the last available one for a version
        # whose replacement did not come up
        wanted_up = [v for v in desired if v in self.servables]
        for v in list(self.servables):
            if v in desired:
                continue
            if v not in scan or wanted_up:
                self._unload(v)

    def _load(self, version: int, fingerprint) -> None:
        st = VersionState(version)
        st.fingerprint = fingerprint
        with self._lock:
            self.states[version] = st
        st.state = LOADING
        started = time.monotonic()
        try:
            path = self.base.local_path(version)
            servable = Servable(version, path)
            if self.warmup_runner is not None:
                servable.warmup_replayed = self.warmup_runner(servable)
        except Exception as err:
            message = getattr(err, "message", None) or str(err) or type(err).__name__
            message = message.strip().splitlines()[0] if message.strip() else type(err).__name__
            st.state = END
            st.error_code = _error_code(err)
            st.error_message = f"loading version {version} failed: {type(err).__name__}: {message}"
            log.warning("%s: %s", self.name, st.error_message)
            self.base.release(version)
            return
        with self._lock:
            self.servables[version] = servable
            st.state = AVAILABLE
        took = time.monotonic() - started
        log.info(
            "%s: version %d AVAILABLE (%.2f s, %d warmup records)",
            *(self.name, version, took, servable.warmup_replayed),
        )

    def _unload(self, version: int) -> None:
        with self._lock:
            servable = self.servables.pop(version, None)
            st = self.states.get(version)
            if st is not None:
                st.state = END
        self.base.release(version)
        log.info("%s: version %d unloaded", self.name, version)
        self._log_batching(servable)

    def _log_batching(self, servable) -> None:
        if servable is not None and servable.batching():
            log.info(
                "%s: version %d batching: %s", self.name, servable.version, servable.batching()
            )

    def start(self, first_wait: float = 0.25) -> None:
        """Initial load (two scans ``first_wait`` apart), then poll in a thread."""
        self.poll_once()
        self._stop.wait(min(first_wait, self.poll))
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="version-poller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.poll_once()
            except Exception:  # a flaky store must not kill the poller
                log.exception("%s: polling %s failed", self.name, self.base.shown)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            servables = list(self.servables.values())
            self.servables.clear()
        for servable in servables:
            self._log_batching(servable)
        self.base.close()

    # ------------------------------------------------------------------ requests

    def check_name(self, name: str, request: str) -> None:
        if name != self.name:
            raise NotFound(f"Servable not found for request: {request}")

    def servable(self, name: str, version=None, label=None) -> Servable:
        """The servable a request addresses (the highest available one by default)."""
        if version is not None and label:
            raise InvalidArgument(
                f"Both model version ({version}) and model version label ({label}) cannot be "
                "supplied."
            )
        if label:
            self.check_name(name, f"Specific({name}, label {label})")
            if label not in self.labels:
                raise NotFound(f"Unrecognized servable version label: {label}")
            version = self.labels[label]
        if version is not None:
            self.check_name(name, f"Specific({name}, {version})")
            with self._lock:
                found = self.servables.get(int(version))
            if found is None:
                raise NotFound(f"Servable not found for request: Specific({name}, {version})")
            return found
        self.check_name(name, f"Latest({name})")
        with self._lock:
            if not self.servables:
                raise Unavailable(
                    f"Servable not found for request: Latest({name}): no version is available yet"
                )
            return self.servables[max(self.servables)]

    def status(self, name: str, version=None, label=None) -> list[dict]:
        if name != self.name:
            raise NotFound(f"Could not find any versions of model {name}")
        if label:
            if label not in self.labels:
                raise NotFound(f"Unrecognized servable version label: {label}")
            version = self.labels[label]
        with self._lock:
            states = sorted(self.states.values(), key=lambda s: -s.version)
        if version is not None:
            states = [s for s in states if s.version == int(version)]
            if not states:
                raise NotFound(f"Could not find version {version} of model {name}")
        if not states:
            raise NotFound(f"Could not find any versions of model {name}")
        return [s.to_dict() for s in states]

    def available_versions(self) -> list[int]:
        with self._lock:
            return sorted(self.servables)


def _error_code(err) -> str:
    if isinstance(err, FileNotFoundError):
        return "NOT_FOUND"
    name = type(err).__name__
    for kind, code in _ERROR_CODES.items():
        if kind in name:
            return code
    return "UNKNOWN"


_ERROR_CODES = {
    "NotFound": "NOT_FOUND",
    "InvalidArgument": "INVALID_ARGUMENT",
    "DataLoss": "DATA_LOSS",
    "FailedPrecondition": "FAILED_PRECONDITION",
}
