"""Execute a notebook for a background job (``python -m jupyter_workbench.session.execute``).

Runs every cell with nbclient in the chosen kernel and writes the executed copy after each
cell (so a long job shows its progress), then once more at the end. A failing cell stops the
run: the copy keeps the error output, the job's ``reason`` names the cell, exit status 1.

The cells' own output reaches the job log through the kernel's iopub messages
(:func:`_log_output`). The kernel process's stderr carries only the kernel's own log, which
goes to the job log too (a crash's traceback belongs there) except for the notices in
:data:`KERNEL_NOISE`, which say nothing about the user's notebook.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

# Lines of the kernel process's own stderr that are dropped from the job log: ipykernel's
# notice that its local ZeroMQ sockets are plain TCP (every kernel a KernelManager starts
# prints it; the job's kernel listens on 127.0.0.1 only).
KERNEL_NOISE = (
    re.compile(r"^\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption"),
)


def is_kernel_noise(line: str) -> bool:
    return any(p.search(line) for p in KERNEL_NOISE)


class KernelStderr:
    """A pipe for the kernel process's stderr, copied to ours without :data:`KERNEL_NOISE`."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        self.file = os.fdopen(self._write_fd, "wb", buffering=0)  # handed to the kernel
        self._reader = os.fdopen(read_fd, "rb")
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        for raw in self._reader:
            line = raw.decode("utf-8", errors="replace")
            if not is_kernel_noise(line):
                sys.stderr.write(line)
                sys.stderr.flush()

    def close(self) -> None:
        """Stop writing (the kernel has ended) and let the copy finish."""
        try:
            self.file.close()
        except OSError:
            pass
        self._thread.join(timeout=5)


def _write(nb, output: Path) -> None:
    import nbformat

    from ..atomic import write_atomic

    write_atomic(output, nbformat.writes(nb))


def _reason(text: str) -> None:
    job_dir = os.environ.get("WORKBENCH_JOB_DIR")
    if job_dir:
        Path(job_dir, "reason").write_text(text)


def _log_output(msg: dict) -> None:
    """One iopub message of a running cell as job-log text: streams as they are, errors as
    ``Name: value`` plus the traceback, results and displays by their text/plain."""
    kind, content = msg.get("msg_type"), msg.get("content", {})
    if kind == "stream":
        out = sys.stderr if content.get("name") == "stderr" else sys.stdout
        out.write(content.get("text", ""))
        out.flush()
    elif kind == "error":
        tb = "\n".join(content.get("traceback") or [])
        print(re.sub(r"\x1b\[[0-9;]*m", "", tb), file=sys.stderr, flush=True)
    elif kind in ("execute_result", "display_data"):
        text = content.get("data", {}).get("text/plain")
        if text:
            print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_workbench.session.execute")
    parser.add_argument("notebook")
    parser.add_argument("--output", required=True)
    parser.add_argument("--kernel", required=True)
    parser.add_argument("--environments-dir", default=None)
    args = parser.parse_args(argv)

    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    from .targets import kernel_spec_manager

    source, output = Path(args.notebook), Path(args.output)
    nb = nbformat.read(str(source), as_version=4)
    km = KernelManager(
        kernel_name=args.kernel, kernel_spec_manager=kernel_spec_manager(args.environments_dir)
    )
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    last_write = [0.0]

    def on_cell_executed(cell, cell_index, **_kwargs):
        n = code_cells.index(cell_index) + 1 if cell_index in code_cells else cell_index + 1
        print(f"[workbench] cell {n}/{len(code_cells)} done", flush=True)
        if time.monotonic() - last_write[0] > 2:
            last_write[0] = time.monotonic()
            _write(nb, output)

    def on_stop(signum, _frame):
        # Kernels live in their own session: stop ours before leaving, or it would linger.
        pid = getattr(km.provisioner, "pid", None) if km.provisioner else None
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.remove(km.connection_file)
        except OSError:
            pass
        try:
            _write(nb, output)
        except Exception:
            pass
        os._exit(128 + signum)

    def on_cell_execute(cell, cell_index, **_kwargs):
        n = code_cells.index(cell_index) + 1 if cell_index in code_cells else cell_index + 1
        print(f"[workbench] cell {n}/{len(code_cells)}", flush=True)

    class StreamingClient(NotebookClient):
        """Copies each output into the job log as the kernel sends it (not at the end)."""

        def process_message(self, msg, cell, cell_index):
            _log_output(msg)
            return super().process_message(msg, cell, cell_index)

    signal.signal(signal.SIGTERM, on_stop)
    client = StreamingClient(
        nb,
        km=km,
        kernel_name=args.kernel,
        resources={"metadata": {"path": str(source.parent)}},
        on_cell_execute=on_cell_execute,
        on_cell_executed=on_cell_executed,
    )
    print(f"[workbench] executing {source.name} with kernel {args.kernel}", flush=True)
    kernel_stderr = KernelStderr()
    try:
        client.execute(stderr=kernel_stderr.file)
    except CellExecutionError as e:
        _write(nb, output)
        failed = next(
            (
                n
                for n, i in enumerate(code_cells, 1)
                if any(o.get("output_type") == "error" for o in nb.cells[i].get("outputs", []))
            ),
            None,
        )
        ename = getattr(e, "ename", "") or "Error"
        evalue = getattr(e, "evalue", "") or ""
        where = f"Cell {failed}" if failed else "A cell"
        _reason(f"{where} raised {ename}: {evalue}".strip().rstrip(":"))
        print(str(e), file=sys.stderr)
        return 1
    except DeadKernelError as e:
        _write(nb, output)
        _reason(f"The kernel died: {e}")
        print(f"The kernel died: {e}", file=sys.stderr)
        return 1
    finally:
        kernel_stderr.close()  # the kernel is shut down: its last lines are copied
    _write(nb, output)
    print(f"[workbench] wrote {output.name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
