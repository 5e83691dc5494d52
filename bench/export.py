"""Benchmark of jupyter_workbench.export against the raw libraries (not part of the test suite).

One run prints:

* ~100 MB Keras model: library time / raw ``keras.export.ExportArchive`` time (goal <= 1.15),
  library time / ``model.export`` time (goal <= 0.7), bytes on disk / weight bytes
  (goal <= 1.05);
* ~1 GB Keras model: durable export throughput / ``dd if=/dev/zero bs=1M conv=fdatasync``
  throughput, both measured in this run (goal >= 0.8).

The library call is the full ``export_savedmodel`` (version numbering, hidden staging directory,
fsync of every file before the rename into place), with ``verify=False`` so that the ratios
compare writing with writing. Times are medians of interleaved repetitions.

    .venv/bin/python bench/export.py [--reps 15] [--large-reps 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def dense_model(hidden: int):
    """1024 -> hidden -> 4096 -> 10 Dense layers: about 20.5 KB of float32 weights per unit."""
    import keras

    return keras.Sequential(
        [
            keras.Input((1024,), name="x"),
            keras.layers.Dense(hidden),
            keras.layers.Dense(4096),
            keras.layers.Dense(10),
        ]
    )


def weight_bytes(model) -> int:
    return sum(int(w.numpy().nbytes) for w in model.weights)


def dir_bytes(path: str) -> int:
    return sum(
        os.path.getsize(os.path.join(d, f)) for d, _dirs, files in os.walk(path) for f in files
    )


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_archive(model, path: str) -> None:
    """The hand-written baseline: ExportArchive without track(model), weights stored once."""
    import keras
    import tensorflow as tf

    archive = keras.export.ExportArchive()
    archive.add_endpoint(
        "serving_default",
        lambda x: {"y": model(x, training=False)},
        input_signature=[tf.TensorSpec((None, 1024), tf.float32, name="x")],
    )
    archive.write_out(path, verbose=False)


def volatile_export(model, path: str) -> None:
    """The library with its disk flushes switched off: shows what durability costs."""
    from unittest import mock

    from jupyter_workbench.export import durability, export_savedmodel

    class NoFlusher(durability.Flusher):
        def run(self):
            self._stop_event.wait()

    with (
        mock.patch.object(durability, "Flusher", NoFlusher),
        mock.patch.object(durability, "fsync_tree", lambda root: None),
        mock.patch.object(durability, "fsync_path", lambda *a, **k: None),
    ):
        export_savedmodel(model, path, verify=False, progress=False)


def check(label: str, value: float, goal: str) -> str:
    op, target = goal.split()
    ok = value <= float(target) if op == "<=" else value >= float(target)
    return f"  {label:<44} {value:7.3f}   (goal {goal})  {'OK' if ok else 'MISSED'}"


def bench_small(work: str, reps: int) -> list[str]:
    from jupyter_workbench.export import export_savedmodel

    model = dense_model(5000)
    wbytes = weight_bytes(model)
    raw, native, lib, lib_volatile = [], [], [], []
    sizes = {}
    runs = {"raw": raw, "export": native, "lib": lib, "volatile": lib_volatile}
    for i in range(reps + 1):  # the first round warms up tracing caches and the page cache
        for name, fn in (
            ("raw", lambda p: raw_archive(model, p)),
            ("export", lambda p: model.export(p, verbose=False)),
            ("lib", lambda p: export_savedmodel(model, p, verify=False, progress=False)),
            ("volatile", lambda p: volatile_export(model, p)),
        ):
            path = os.path.join(work, f"small-{name}")
            shutil.rmtree(path, ignore_errors=True)
            t = timed(lambda fn=fn, path=path: fn(path))
            sizes[name] = dir_bytes(path)
            shutil.rmtree(path, ignore_errors=True)
            if i:
                runs[name].append(t)
    path = os.path.join(work, "small-verify")
    t_verify = timed(lambda: export_savedmodel(model, path, progress=False))
    shutil.rmtree(path, ignore_errors=True)
    m_raw, m_native, m_lib, m_volatile = (
        statistics.median(x) for x in (raw, native, lib, lib_volatile)
    )
    return [
        f"~100 MB Keras model ({wbytes / 1e6:.1f} MB of float32 weights), "
        f"median of {reps}, verify=False:",
        f"  raw ExportArchive (no track, not fsynced)   {m_raw:7.3f} s",
        f"  model.export                                {m_native:7.3f} s"
        f"   ({sizes['export'] / wbytes:.2f}x the weight bytes on disk)",
        f"  export_savedmodel (durable)                 {m_lib:7.3f} s"
        f"   (with verify=True: {t_verify:.3f} s, one run)",
        f"  (for reference, without the fsyncs:         {m_volatile:7.3f} s"
        f" = {m_volatile / m_raw:.3f}x raw; the rest is the cost of durability)",
        check("library time / raw ExportArchive time", m_lib / m_raw, "<= 1.15"),
        check("library time / model.export time", m_lib / m_native, "<= 0.7"),
        check("bytes on disk / weight bytes", sizes["lib"] / wbytes, "<= 1.05"),
    ]


def dd_seconds(path: str, mib: int) -> float:
    cmd = ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "conv=fdatasync"]
    t = timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
    os.remove(path)
    return t


def bench_large(work: str, reps: int) -> list[str]:
    from jupyter_workbench.export import export_savedmodel

    model = dense_model(50000)
    wbytes = weight_bytes(model)
    mib = round(wbytes / 2**20)
    lib, dd = [], []
    written = wbytes
    for _ in range(reps):
        path = os.path.join(work, "large-lib")
        shutil.rmtree(path, ignore_errors=True)
        t = timed(lambda path=path: export_savedmodel(model, path, verify=False, progress=False))
        written = dir_bytes(path)
        lib.append(written / t)
        shutil.rmtree(path, ignore_errors=True)
        dd.append(mib * 2**20 / dd_seconds(os.path.join(work, "dd.bin"), mib))
    m_lib, m_dd = statistics.median(lib), statistics.median(dd)
    return [
        f"~1 GB Keras model ({wbytes / 1e9:.2f} GB of weights), median of {reps} interleaved "
        "runs, verify=False:",
        f"  dd bs=1M count={mib} conv=fdatasync            {m_dd / 1e6:7.0f} MB/s"
        f"   (runs: {', '.join(f'{x / 1e6:.0f}' for x in dd)})",
        f"  export_savedmodel, fsync before rename      {m_lib / 1e6:7.0f} MB/s"
        f"   (runs: {', '.join(f'{x / 1e6:.0f}' for x in lib)})",
        check("durable export throughput / dd throughput", m_lib / m_dd, ">= 0.8"),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=15, help="repetitions for the 100 MB model")
    parser.add_argument("--large-reps", type=int, default=5, help="repetitions for 1 GB")
    parser.add_argument("--dir", default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--skip-large", action="store_true", help="only the 100 MB model")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import tensorflow as tf

    work = tempfile.mkdtemp(prefix="bench-export-", dir=args.dir)
    started = time.perf_counter()
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, load average {load} "
            f"(ratios are only meaningful on a quiet machine), writing under {work}",
            flush=True,
        )
        for line in bench_small(work, args.reps):
            print(line, flush=True)
        if not args.skip_large:
            for line in bench_large(work, args.large_reps):
                print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"total bench time {time.perf_counter() - started:.0f} s, load average now {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
