"""``python -m jupyter_workbench.serving BASE [options]``: the model server process.

Runs with an interpreter that has TensorFlow and ``tensorflow-serving-api`` (the tf2
environment). Order of work: check BASE and find a version (before importing TensorFlow, so
mistakes are reported at once), bind both ports (a port in use is a clear error), load and warm
up, then announce on stdout one JSON line ::

    {"event": "ready", "pid": ..., "model_name": "mnist", "host": "127.0.0.1",
     "rest_port": 8501, "grpc_port": 8500, "versions": [2]}

or ``{"event": "error", "message": "..."}`` (exit status 1). Logs go to stderr. ``--managed``
(used by the launcher) makes the process exit when its parent goes away: when stdin reaches EOF
and, on Linux, through ``PR_SET_PDEATHSIG``, so a killed Jupyter server or kernel leaves no
orphan. SIGTERM/SIGINT stop it cleanly (the cache of remote versions is removed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .errors import ServingError
from .options import add_serve_arguments, default_model_name, parse_labels, parse_version_policy


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ServingError(f"{message} ({self.format_usage().strip()})")


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _announce(out, event: dict) -> None:
    out.write(json.dumps(event) + "\n")
    out.flush()


def run(argv=None, out=None) -> int:
    out = out or sys.stdout
    parser = _Parser(prog="python -m jupyter_workbench.serving")
    add_serve_arguments(parser)
    parser.add_argument("--managed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.managed:
        _die_with_parent()
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s [serving] %(message)s"
    )
    policy = parse_version_policy(args.version_policy)
    labels = parse_labels(args.labels)
    name = args.model_name or default_model_name(args.base)

    from .discovery import ModelBase, select_versions

    base = ModelBase(args.base)
    base.check()
    found = base.scan()
    complete = [v for v, fp in found.items() if fp is not None]
    if not select_versions(complete, policy):
        what = (
            "no version"
            if not complete
            else f"no version matching --version-policy {args.version_policy}"
        )
        incomplete = [str(v) for v, fp in sorted(found.items()) if fp is None]
        seen = ", ".join(map(str, sorted(found))) or "none"
        if incomplete:
            seen += f"; without saved_model.pb or still being written: {', '.join(incomplete)}"
        raise ServingError(
            f"model base {base.shown} holds {what}: TF Serving loads integer directories "
            f"with a saved_model.pb (found: {seen}). Export one first: jupyter workbench "
            "export MODEL BASE."
        )

    from . import grpc_server, rest

    grpc_server.check_requirements()
    try:
        http = rest.bind(args.host, args.port)
    except OSError as err:
        raise ServingError(
            f"REST port {args.port} on {args.host} is not available ({err.strerror or err}): "
            "choose another --port, or 0 for any free port."
        ) from None
    try:
        grpc_srv, grpc_port = grpc_server.bind(args.host, args.grpc_port)
    except OSError as err:
        http.server_close()
        raise ServingError(
            f"gRPC port {args.grpc_port} on {args.host} is not available ({err}): choose "
            "another --grpc-port, or 0 for any free port."
        ) from None

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.intra_op_threads or args.inter_op_threads:
        import tensorflow as tf

        # before anything runs: TensorFlow fixes its pools at the first operation
        if args.intra_op_threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.intra_op_threads)
        if args.inter_op_threads:
            tf.config.threading.set_inter_op_parallelism_threads(args.inter_op_threads)
    from .model import ModelManager
    from .service import ServingCore

    manager = ModelManager(base, name, policy, labels, poll=args.poll)
    core = ServingCore(manager)
    manager.warmup_runner = core.replay_warmup
    stop = threading.Event()

    def _stop(*_):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    serving = False
    try:
        manager.start()
        if not manager.available_versions():
            errors = [s.error_message for s in manager.states.values() if s.error_message]
            raise ServingError(
                f"no version of {base.shown} could be loaded: "
                + ("; ".join(errors) or "nothing complete was found")
            )
        rest.attach(http, core)
        grpc_server.attach(grpc_srv, core, http)  # served on the REST front end's loop
        serving = True
        threading.Thread(
            target=http.serve_forever, kwargs={"poll_interval": 0.2}, name="rest", daemon=True
        ).start()
        rest_port = http.server_address[1]
        _announce(
            out,
            {
                "event": "ready",
                "pid": os.getpid(),
                "model_name": name,
                "host": args.host,
                "rest_port": rest_port,
                "grpc_port": grpc_port,
                "versions": manager.available_versions(),
            },
        )
        logging.getLogger("jupyter_workbench.serving").info(
            "serving %s versions %s: REST http://%s:%d/v1/models/%s, gRPC %s:%d",
            name,
            manager.available_versions(),
            args.host,
            rest_port,
            name,
            args.host,
            grpc_port,
        )
        if args.managed:

            def _watch_stdin():
                # the raw fd, not sys.stdin: a thread blocked in a buffered read would hold
                # its lock while the interpreter shuts down
                try:
                    while os.read(0, 1 << 16):
                        pass
                except OSError:
                    pass
                stop.set()

            threading.Thread(target=_watch_stdin, name="parent-watch", daemon=True).start()
        while not stop.wait(1.0):
            pass
    finally:
        grpc_srv.stop()  # GOAWAY to its connections, on the loop before it stops
        if serving:
            http.shutdown()
        http.server_close()
        grpc_srv.server_close()
        manager.stop()
    return 0


def main(argv=None) -> int:
    out = sys.stdout
    try:
        return run(argv, out)
    except ServingError as err:
        _announce(out, {"event": "error", "message": str(err)})
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
