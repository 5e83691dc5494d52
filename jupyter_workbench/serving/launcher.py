"""Starting and stopping a model server process from anywhere without importing TensorFlow.

:func:`start_server` runs ``python -m jupyter_workbench.serving`` with an interpreter that has
TensorFlow (explicit, else the tf2 environment's, else this one if it has TensorFlow), waits for
its ``ready`` line and returns a :class:`ModelServer` handle (``.url``, ``.predict(...)``,
``.status()``, ``.stop()``). The child is *managed*: it exits when this process goes away, so a
restarted kernel or Jupyter server leaves no orphan.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import weakref

from .errors import ServingError
from .options import DEFAULT_POLL_S, child_argv, default_model_name

START_TIMEOUT_S = 180.0
_RUNNING: weakref.WeakSet = weakref.WeakSet()


def serving_python(python: str | None = None, environments_dir=None) -> str:
    """The interpreter that runs model servers."""
    if python:
        if not os.access(python, os.X_OK):
            raise ServingError(f"--python {python} is not an executable interpreter.")
        return python
    override = os.environ.get("JUPYTER_WORKBENCH_SERVING_PYTHON")
    if override:
        return override
    from ..environments.discovery import tensorflow_python

    found = tensorflow_python(environments_dir)
    if found:
        return found
    raise ServingError(
        "no Python with TensorFlow to serve models: run 'jupyter workbench env create tf2' (or "
        "pass --python)."
    )


class ModelServer:
    """A running model server (a child process)."""

    def __init__(self, proc: subprocess.Popen, ready: dict, base: str, log_tail):
        self.proc = proc
        self.base = base
        self.pid = proc.pid
        self.model_name = ready["model_name"]
        self.host = ready["host"]
        self.rest_port = ready["rest_port"]
        self.grpc_port = ready["grpc_port"]
        self._log = log_tail
        _RUNNING.add(self)

    @property
    def url(self) -> str:
        """The model's REST URL, ``http://HOST:PORT/v1/models/NAME``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.rest_port}/v1/models/{self.model_name}"

    @property
    def grpc_address(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        """The server's recent log lines."""
        return "".join(self._log)

    def _request(self, path: str, body=None, timeout: float = 60.0):
        data = None if body is None else json.dumps(body, allow_nan=True).encode()
        req = urllib.request.Request(
            self.url + path, data=data, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as err:
            try:
                message = json.loads(err.read()).get("error", "")
            except ValueError:
                message = str(err)
            raise ServingError(f"{err.code}: {message}") from None
        except urllib.error.URLError as err:
            state = "running" if self.running else f"exited ({self.proc.returncode})"
            raise ServingError(
                f"the model server is not reachable ({err.reason}; {state})."
            ) from None

    def status(self, version: int | None = None) -> dict:
        return self._request(f"/versions/{version}" if version is not None else "")

    def metadata(self, version: int | None = None) -> dict:
        return self._request((f"/versions/{version}" if version is not None else "") + "/metadata")

    def predict(self, instances=None, *, inputs=None, signature_name=None, version=None):
        """REST ``:predict``: ``instances`` (rows) -> predictions, or ``inputs=`` (columns) ->
        outputs. numpy arrays are accepted anywhere a JSON list is."""
        if (instances is None) == (inputs is None):
            raise ServingError("pass instances (row format) or inputs= (columnar), not both.")
        body = (
            {"instances": _jsonable(instances)} if inputs is None else {"inputs": _jsonable(inputs)}
        )
        if signature_name:
            body["signature_name"] = signature_name
        path = (f"/versions/{version}" if version is not None else "") + ":predict"
        doc = self._request(path, body)
        return doc["predictions"] if inputs is None else doc["outputs"]

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``); returns its exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        _RUNNING.discard(self)
        remove_cache_of(self.pid)  # what a killed server could not remove itself
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<ModelServer {self.model_name} {state}: REST {self.url} gRPC {self.grpc_address} "
            f"pid {self.pid}>"
        )


def remove_cache_of(pid: int) -> None:
    """Remove the local cache of remote versions of the (exited) server ``pid``."""
    import glob
    import shutil
    import tempfile

    from .discovery import CACHE_PREFIX

    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{CACHE_PREFIX}{pid}-*")):
        shutil.rmtree(path, ignore_errors=True)


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        import base64

        return {"b64": base64.b64encode(value).decode()}
    return value


def start_server(base, *, timeout: float = START_TIMEOUT_S, **kwargs) -> ModelServer:
    """Start a model server for ``base`` and wait until it serves; raise :class:`ServingError`
    with the server's own message when it cannot start (missing base, no version, port in use).

    Keywords: ``model_name``, ``port``/``grpc_port`` (0 = any free port), ``host``, ``poll``,
    ``version_policy``, ``labels``, ``intra_op_threads``/``inter_op_threads`` (TensorFlow's
    thread pools; 0 = its default), ``python``, ``environments_dir``, ``env`` and
    ``log_stream`` (a text stream that receives the server's log lines as they come; they are
    always kept in ``ModelServer.log()`` too).
    """
    return spawn_server(base, **kwargs).wait(timeout)


class PendingServer:
    """A model server process that has not said ``ready`` yet (see :func:`spawn_server`)."""

    def __init__(self, proc: subprocess.Popen, base: str, interpreter: str, log_stream=None):
        self.proc, self.base, self.interpreter = proc, base, interpreter
        self.tail: collections.deque = collections.deque(maxlen=200)
        self.events: list[dict] = []
        self._log_stream = log_stream
        threading.Thread(target=self._drain_stderr, name="serving-log", daemon=True).start()
        self._reader = threading.Thread(
            target=self._read_stdout, name="serving-events", daemon=True
        )
        self._reader.start()

    def _drain_stderr(self) -> None:
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace")
            self.tail.append(line)
            if self._log_stream is not None:
                try:
                    self._log_stream.write(line)
                    self._log_stream.flush()
                except (OSError, ValueError):
                    pass

    def _read_stdout(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if line.startswith('{"event"'):
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    pass

    def wait(self, timeout: float = START_TIMEOUT_S) -> ModelServer:
        """Block until the server serves (a :class:`ModelServer`) or fails (ServingError)."""
        proc = self.proc
        deadline = time.monotonic() + timeout
        while not self.events:
            if proc.poll() is not None:
                self._reader.join(2)
                if self.events:
                    break
                last = "".join(list(self.tail)[-5:]).strip()
                raise ServingError(
                    f"the model server exited with status {proc.returncode} before serving"
                    + (f": {last}" if last else "")
                    + _missing_api_hint(last, self.interpreter)
                )
            if time.monotonic() > deadline:
                self.kill()
                raise ServingError(f"the model server did not start within {timeout:.0f} s.")
            time.sleep(0.05)
        event = self.events[0]
        if event.get("event") != "ready":
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
            raise ServingError(event.get("message") or "the model server failed to start.")
        return ModelServer(proc, event, self.base, self.tail)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        remove_cache_of(self.proc.pid)


def spawn_server(
    base,
    *,
    model_name: str | None = None,
    port: int = 0,
    grpc_port: int = 0,
    host: str = "127.0.0.1",
    poll: float = DEFAULT_POLL_S,
    version_policy: str = "latest",
    labels=(),
    intra_op_threads: int = 0,
    inter_op_threads: int = 0,
    python: str | None = None,
    environments_dir=None,
    env: dict | None = None,
    log_stream=None,
) -> PendingServer:
    """Start the server process and return at once (call ``.wait()`` for the handle).

    The process is started from the calling thread: on Linux the server also exits when that
    thread's process dies (``PR_SET_PDEATHSIG``), so call this from a long-lived thread.
    """
    base = os.fspath(base)
    interpreter = serving_python(python, environments_dir)
    kwargs = dict(
        model_name=model_name or default_model_name(base),
        port=port,
        grpc_port=grpc_port,
        host=host,
        poll=poll,
        version_policy=version_policy,
        labels=list(labels or []),
        intra_op_threads=intra_op_threads,
        inter_op_threads=inter_op_threads,
    )
    argv = [interpreter, "-m", "jupyter_workbench.serving", *child_argv(base, kwargs), "--managed"]
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    # the child imports this very package (a source checkout may not be installed there)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, child_env.get("PYTHONPATH", "")) if p
    )
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
            start_new_session=True,  # a Ctrl-C in the notebook/terminal is not the server's
        )
    except OSError as err:
        raise ServingError(f"cannot run {interpreter}: {err}") from None
    return PendingServer(proc, base, interpreter, log_stream)


def _missing_api_hint(log: str, interpreter: str) -> str:
    if "tensorflow_serving" in log or "No module named 'grpc'" in log:
        return (
            f". {interpreter} lacks the TF Serving API: run '{interpreter} -m pip install "
            "grpcio' and '... -m pip install --no-deps tensorflow-serving-api==2.21.0' (or "
            "'jupyter workbench env create tf2' to repair the environment)."
        )
    return ""


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        try:
            server.stop(timeout=3)
        except Exception:
            pass
