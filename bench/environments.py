"""Kernel start time per workbench environment, and `import tensorflow` time in tf2.

    .venv/bin/python bench/environments.py [--envs-dir DIR] [--repeat 5] [--create]

Start time = from ``KernelManager.start_kernel()`` (through the kernelspec, as the server does)
to the first successful ``execute_reply``. The baseline is the stock ``python3`` kernel of the
running interpreter (plain ipykernel, no workbench preload); ratios are environment / baseline.
``import tensorflow`` is timed inside a fresh kernel each repeat; its baseline is the same import
in the stock kernel when the running interpreter has TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from jupyter_workbench.environments import (
    create_environment,
    format_progress,
    list_environments,
)
from jupyter_workbench.environments.kernelspecs import WorkbenchKernelSpecManager


def _run(kc, code: str, timeout: float = 300) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}")

    reply = kc.execute_interactive(code, timeout=timeout, output_hook=hook)
    if reply["content"]["status"] != "ok":
        raise RuntimeError("".join(out))
    return "".join(out)


def start_once(ksm, kernel_name: str, extra_code: str | None = None) -> tuple[float, str]:
    km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=ksm)
    t0 = time.perf_counter()
    km.start_kernel(stderr=subprocess.DEVNULL)  # TF's oneDNN notices etc.
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        _run(kc, "pass")
        elapsed = time.perf_counter() - t0
        extra = _run(kc, extra_code) if extra_code else ""
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return elapsed, extra


IMPORT_TF = (
    "import time as _t\n_t0 = _t.perf_counter()\nimport tensorflow\n"
    "print(_t.perf_counter() - _t0)\n"
)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--envs-dir",
        default=os.environ.get("JUPYTER_WORKBENCH_TEST_ENVS") or None,
        help="environments directory (default: $JUPYTER_WORKBENCH_TEST_ENVS, else the "
        "workbench default)",
    )
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--create", action="store_true", help="create missing environments first")
    args = ap.parse_args(argv)
    envs_dir = Path(args.envs_dir) if args.envs_dir else None

    if args.create:
        for e in list_environments(envs_dir):
            if not e["ready"]:
                create_environment(
                    e["name"],
                    envs_dir,
                    progress=lambda ev: (
                        print(format_progress(ev)) if ev["kind"] == "step" else None
                    ),
                )

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stock = KernelSpecManager()
    ours = WorkbenchKernelSpecManager(environments_dir=str(envs_dir) if envs_dir else None)
    n = args.repeat

    base = [start_once(stock, "python3")[0] for _ in range(n)]
    base_med = statistics.median(base)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, repeat {n}, median seconds")
    print(f"{'kernel':<28}{'start s':>10}{'min':>8}{'max':>8}{'ratio':>8}")
    print(
        f"{'python3 (stock ipykernel)':<28}{base_med:>10.3f}{min(base):>8.3f}{max(base):>8.3f}"
        f"{1.0:>8.2f}"
    )

    tf_times: dict[str, list[float]] = {}
    for e in list_environments(envs_dir):
        if not e["ready"]:
            print(f"{e['display_name']:<28}{'not ready: ' + e['state']:>34}")
            continue
        extra = IMPORT_TF if e["name"] == "tf2" else None
        runs = [start_once(ours, e["kernel_name"], extra) for _ in range(n)]
        times = [r[0] for r in runs]
        med = statistics.median(times)
        print(
            f"{e['display_name']:<28}{med:>10.3f}{min(times):>8.3f}{max(times):>8.3f}"
            f"{med / base_med:>8.2f}"
        )
        if extra:
            tf_times[e["name"]] = [float(r[1].strip().splitlines()[-1]) for r in runs]

    for name, times in tf_times.items():
        med = statistics.median(times)
        line = (
            f"import tensorflow in {name}: median {med:.3f} s (min {min(times):.3f}, "
            f"max {max(times):.3f})"
        )
        if importlib.util.find_spec("tensorflow") is not None:
            base_tf = [
                float(start_once(stock, "python3", IMPORT_TF)[1].strip().splitlines()[-1])
                for _ in range(n)
            ]
            bmed = statistics.median(base_tf)
            line += f"; stock python3 kernel {bmed:.3f} s; ratio {med / bmed:.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
