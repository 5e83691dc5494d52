"""Mounts against the OSS emulator on loopback, compared with raw ossfs in the same run.

    .venv/bin/python bench/storage.py [--keys 2000] [--sizes 2000,10000,100000] [--size-mb 100]
                                      [--repeat 3] [--only-listing] [--only-concurrency]

Prints, each as a median of ``--repeat`` runs (ours and raw alternated):

- listing ``--keys`` keys through the contents API (``GET api/contents/mnt/bench/k2000``, what
  the file browser does) / raw ``ossfs.OSSFileSystem.ls`` of the same prefix   (goal <= 1.5)
- file-browser listings of folders of ``--sizes`` keys (default 2k, 10k, 100k) with the default
  bound (``c.Workbench.listing_limit`` 10,000): the first response (what the file browser shows
  on opening the folder: everything up to the bound), and the full listing (one GET after "Load
  the next" raised the folder's bound past its size), beside raw oss2 ListObjects paging of the
  same number of keys and raw ossfs ``ls`` of the whole prefix. ``--only-listing`` runs just this.
- ``--size-mb`` MB write (``pipe_file``) and read (``cat_file``) through the mount's fsspec
  filesystem (``MountRegistry.filesystem``), as raw ossfs time / mount time    (goal >= 0.9)
- for information: the same bytes downloaded through ``/files/mnt/...`` (streamed by the
  server) and uploaded through the contents API in JupyterLab's 1 MiB chunks
- FUSE write/read through a FUSE mount of the same filesystem / direct (goal >= 0.7), where
  ``jupyter_workbench.storage.fuse`` exists and FUSE works here; else why it is skipped.
- concurrency: the slowest ``GET api/status`` (and ``workbench/api/status``) while 50 listings
  of the ``--keys``-key prefix run at once (goal < 0.5 s), against the same call when idle;
  listing a healthy ``file://`` mount while 20 listings of a hung OSS prefix are stuck (the
  emulator delays them ``--hang`` seconds), against the same listing when idle (goal < 1 s).
  ``--only-concurrency`` runs just this part.

The emulator and the jupyter server run in their own processes, so neither shares this
process's GIL with the client being timed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # for _servers

from jupyter_workbench.testing import DEMO_ACCESS_KEY_ID as AK
from jupyter_workbench.testing import DEMO_ACCESS_KEY_SECRET as SK

BUCKET = "bench"
CONTENTS_MANAGER = "jupyter_workbench.contents.WorkbenchContentsManager"

EMULATOR = """
import sys
from jupyter_workbench.testing import OSSEmulator
keys, hang = int(sys.argv[1]), float(sys.argv[3])
sizes = [int(n) for n in sys.argv[2].split(",") if n]
emulator = OSSEmulator(buckets=("bench",))
# listings of bench/hung/stuck/ never come back in time: a stalled store
emulator.faults.delay(hang, path=r"prefix=hung(/|%2F)stuck")
for i in range(keys):
    emulator.put_object("bench", f"k{keys}/obj-{i:06d}.txt", b"x" * 100)
for n in sizes:
    for i in range(n):
        emulator.put_object("bench", f"n{n}/obj-{i:07d}.csv", b"x")
with emulator:
    print(emulator.endpoint, flush=True)
    sys.stdin.read()
"""


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def paired_times(ours, raw, repeat: int) -> tuple[float, float]:
    """Median times of ``ours`` and ``raw``, run alternately so that load on a shared
    machine affects both alike."""
    a, b = [], []
    for _ in range(repeat):
        a.append(median_time(ours, 1))
        b.append(median_time(raw, 1))
    return statistics.median(a), statistics.median(b)


class Server:
    """``jupyter server`` with the workbench on 127.0.0.1 and a free port."""

    def __init__(self, tmp: Path):
        from _servers import jupyter_env, start_jupyter  # tests/_servers.py

        self.token = secrets.token_hex(16)
        (tmp / "root").mkdir(parents=True, exist_ok=True)
        self.state_dir = tmp / "state"
        self.log = tmp / "server.log"
        self.proc, self.url = start_jupyter(
            [str(Path(sys.executable).parent / "jupyter"), "server"],
            [f"--ServerApp.contents_manager_class={CONTENTS_MANAGER}"],
            root=tmp / "root",
            token=self.token,
            env=jupyter_env(tmp),
            log=self.log,
            what="jupyter server",
        )

    def request(self, path: str, method: str = "GET", body=None, headers=None) -> bytes:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", **(headers or {})},
        )
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.read()

    def json(self, path: str, method: str = "GET", body=None):
        return json.loads(self.request(path, method, body))

    def stop(self) -> None:
        from _servers import stop_jupyter

        stop_jupyter(self.proc)


def raw_ossfs(endpoint: str):
    import ossfs

    return ossfs.OSSFileSystem(endpoint=endpoint, key=AK, secret=SK, skip_instance_cache=True)


def line(label: str, value: str, goal: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {goal}")


LOAD = """
import json, sys, threading, urllib.request
url, token, paths = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
errors = []
def get(path):
    req = urllib.request.Request(url + path, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            r.read()
    except Exception as e:  # a stuck listing may time out: only counted
        errors.append(type(e).__name__)
threads = [threading.Thread(target=get, args=(p,)) for p in paths]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), flush=True)
"""


class _Load:
    """GETs of ``paths``, all at once, from a process of their own (so that the timed client
    shares no GIL with them)."""

    def __init__(self, server: Server, paths: list[str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOAD, server.url, server.token, json.dumps(paths)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.errors = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def join(self, timeout: float | None = None) -> None:
        try:
            out, _ = self.proc.communicate(timeout=timeout)
            self.errors = int(out.strip() or 0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _latencies(fn, seconds: float) -> list[float]:
    out = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
        time.sleep(0.02)
    return out


def concurrency(server: Server, tmp: Path, endpoint: str, args) -> None:
    """A busy mount and a stalled mount must not delay the server or the other mounts."""
    prefix = f"k{args.keys}"
    print("\nConcurrency")

    def status():
        server.request("api/status")

    def wb_status():
        server.request("workbench/api/status")

    idle_times = _latencies(status, 1.0)
    idle = statistics.median(idle_times)
    load = _Load(server, [f"api/contents/mnt/bench/{prefix}"] * 50)
    busy, wb_busy = [], []
    while load.alive():
        busy += _latencies(status, 0.1)
        wb_busy += _latencies(wb_status, 0.1)
    load.join()
    line("api/status idle (median, max)", f"{idle:.3f} s, {max(idle_times):.3f} s")
    line(f"api/status during 50 listings of {args.keys} keys (max)", f"{max(busy):.3f} s",
         "(goal < 0.5 s)")  # fmt: skip
    line("  (median, 95th percentile)", f"{statistics.median(busy):.3f} s, "
         f"{statistics.quantiles(busy, n=20)[-1]:.3f} s")  # fmt: skip
    line("workbench/api/status during them (max)", f"{max(wb_busy):.3f} s")
    line("  max / idle", f"{max(busy) / idle:.1f}x", f"({load.errors} listings failed)")

    # a healthy file:// mount beside a hung OSS prefix
    nas = tmp / "root" / "nasdata"
    nas.mkdir(parents=True, exist_ok=True)
    for i in range(100):
        (nas / f"f{i:03d}.txt").write_text("x")
    server.json("workbench/api/mounts", "POST", {"name": "nas", "url": f"file://{nas}"})
    hung_options = {"endpoint": endpoint, "key": AK, "secret": SK, "read_timeout": args.hang * 2}
    hung_options["retries"] = 0
    server.json(
        "workbench/api/mounts",
        "POST",
        {"name": "hung", "url": f"oss://{BUCKET}/hung", "options": hung_options},
    )

    def healthy():
        assert len(server.json("api/contents/mnt/nas")["content"]) == 100

    healthy()
    idle_nas = median_time(healthy, args.repeat)
    load = _Load(server, ["api/contents/mnt/hung/stuck"] * 20)
    time.sleep(1.0)  # let them reach the store
    t0 = time.perf_counter()
    healthy()
    during = time.perf_counter() - t0
    t0 = time.perf_counter()
    status()
    status_during = time.perf_counter() - t0
    line("healthy file:// mount listing, idle (median)", f"{idle_nas:.3f} s")
    line("same, while 20 listings of a hung mount are stuck", f"{during:.3f} s", "(goal < 1 s)")
    line("api/status while they are stuck", f"{status_during:.3f} s")
    print("  (waiting for the stuck listings to give up...)", flush=True)
    load.join(args.hang * 3)


def oss2_keys(endpoint: str, prefix: str, limit: int | None = None) -> int:
    """Entries of folder ``prefix`` listed with raw oss2 (ListObjects, 1,000 per call, delimiter
    ``/``), stopping once ``limit`` are listed."""
    import oss2

    bucket = oss2.Bucket(oss2.Auth(AK, SK), endpoint, BUCKET)
    count, marker = 0, ""
    while True:
        res = bucket.list_objects(f"{prefix}/", "/", marker, 1000)
        count += len(res.object_list) + len(res.prefix_list)
        if not res.is_truncated or (limit and count >= limit):
            return count
        marker = res.next_marker


def listings(server: Server, endpoint: str, args) -> None:
    """First response and full listing of 2k/10k/100k-key folders, beside raw oss2 and ossfs."""
    bound = server.json("workbench/api/mounts/bench")["listing_limit"]
    print(f"File browser listings (listing_limit {bound:,}, 1,000 keys per store call)")
    for n in args.sizes:
        repeat = args.repeat if n <= 10_000 else max(1, min(args.repeat, 2))
        _listing_rows(server, endpoint, n, bound, repeat)


def _listing_rows(server: Server, endpoint: str, n: int, bound: int, repeat: int) -> None:
    path = f"api/contents/mnt/bench/n{n}"
    shown = min(n, bound)

    def first():
        model = server.json(path)
        assert len(model["content"]) == shown and model["truncated"] == (n > bound)

    def raw_first():
        assert oss2_keys(endpoint, f"n{n}", shown) == shown

    def full():
        model = server.json(path)
        assert len(model["content"]) == n and model["truncated"] is False

    def raw_full():
        assert oss2_keys(endpoint, f"n{n}") == n

    def ossfs_full():
        assert len(raw_ossfs(endpoint).ls(f"{BUCKET}/n{n}", detail=True)) == n

    t0 = time.perf_counter()
    first()  # cold: a folder opened for the first time
    cold = time.perf_counter() - t0
    ours_first, raw_first_t = paired_times(first, raw_first, repeat)
    state = server.json(f"workbench/api/mounts/bench/listing/more?path=n{n}")
    clicks = 0
    while state["limit"] < n:  # "Load the next 10,000" until everything is listed
        state = server.json("workbench/api/mounts/bench/listing/more", "POST", {"path": f"n{n}"})
        clicks += 1
    ours_full, raw_full_t = paired_times(full, raw_full, repeat)
    ossfs_t = median_time(ossfs_full, repeat)
    label = f"{n:,} keys"
    line(
        f"{label}: first response ({shown:,} entries), cold / warm",
        f"{cold:.3f} / {ours_first:.3f} s",
    )
    line(f"{label}: raw oss2 listing of {shown:,} keys", f"{raw_first_t:.3f} s",
         f"(ratio {ours_first / raw_first_t:.2f})")  # fmt: skip
    line(f"{label}: full listing ({clicks} x Load the next)", f"{ours_full:.3f} s")
    line(f"{label}: raw oss2 / raw ossfs ls of all keys", f"{raw_full_t:.3f} / {ossfs_t:.3f} s",
         f"(ratio {ours_full / raw_full_t:.2f} / {ours_full / ossfs_t:.2f})")  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--sizes", default="2000,10000,100000", help="folder sizes to list")
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--hang", type=float, default=30.0)
    parser.add_argument("--only-concurrency", action="store_true")
    parser.add_argument("--only-listing", action="store_true")
    args = parser.parse_args(argv)
    args.sizes = [int(n) for n in args.sizes.split(",") if n.strip()]
    size = args.size_mb * 2**20

    print(f"Seeding the emulator ({args.keys} + {' + '.join(map(str, args.sizes))} keys)...")
    emu = subprocess.Popen(
        [
            sys.executable,
            "-c",
            EMULATOR,
            str(args.keys),
            ",".join(map(str, args.sizes)),
            str(args.hang),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # connection resets of benchmark clients are not news
        text=True,
    )
    endpoint = emu.stdout.readline().strip()
    tmp = Path(tempfile.mkdtemp(prefix="jw-bench-storage-"))
    server = Server(tmp)
    try:
        options = {"endpoint": endpoint, "key": AK, "secret": SK}
        server.json(
            "workbench/api/mounts",
            "POST",
            {"name": "bench", "url": f"oss://{BUCKET}", "options": options},
        )
        print(f"emulator {endpoint}, server {server.url}, repeat {args.repeat}\n")
        if args.only_concurrency:
            concurrency(server, tmp, endpoint, args)
            return 0
        if args.only_listing:
            listings(server, endpoint, args)
            return 0

        # ---------------------------------------------------------------- listing
        prefix = f"k{args.keys}"

        def contents_listing():
            model = server.json(f"api/contents/mnt/bench/{prefix}")
            assert len(model["content"]) == args.keys, len(model["content"])

        def ossfs_listing():
            entries = raw_ossfs(endpoint).ls(f"{BUCKET}/{prefix}", detail=True)
            assert len(entries) == args.keys, len(entries)

        contents_listing()  # warm up (filesystem built, connections open)
        ours, raw = paired_times(contents_listing, ossfs_listing, args.repeat)
        print("Listing")
        line(f"contents API, {args.keys} keys", f"{ours:.3f} s")
        line(f"raw ossfs ls, {args.keys} keys", f"{raw:.3f} s")
        line("ratio contents API / ossfs", f"{ours / raw:.2f}", "(goal <= 1.5)")

        print()
        listings(server, endpoint, args)

        # ---------------------------------------------------------------- bytes
        from jupyter_workbench.storage import MountRegistry

        fs = MountRegistry(server.state_dir).filesystem("bench")
        raw_fs = raw_ossfs(endpoint)
        data = os.urandom(size)

        ours_w, raw_w = paired_times(
            lambda: fs.pipe_file("bytes/ours.bin", data),
            lambda: raw_fs.pipe_file(f"{BUCKET}/bytes/raw.bin", data),
            args.repeat,
        )

        def read_ours():
            assert len(fs.cat_file("bytes/ours.bin")) == size

        def read_raw():
            assert len(raw_fs.cat_file(f"{BUCKET}/bytes/raw.bin")) == size

        ours_r, raw_r = paired_times(read_ours, read_raw, args.repeat)
        mb = size / 1e6
        print(f"\n{args.size_mb} MiB through the mount's fsspec filesystem")
        line("write: mount / raw ossfs", f"{ours_w:.3f} / {raw_w:.3f} s")
        line("write ratio (raw time / mount time)", f"{raw_w / ours_w:.2f}", "(goal >= 0.9)")
        line("read: mount / raw ossfs", f"{ours_r:.3f} / {raw_r:.3f} s")
        line("read ratio (raw time / mount time)", f"{raw_r / ours_r:.2f}", "(goal >= 0.9)")

        def download():
            body = server.request("files/mnt/bench/bytes/ours.bin?download=1")
            assert len(body) == size

        def upload():
            chunk = 2**20
            for start in range(0, size, chunk):
                number = -1 if start + chunk >= size else start // chunk + 1
                server.json(
                    "api/contents/mnt/bench/bytes/upload.bin",
                    "PUT",
                    {
                        "type": "file",
                        "format": "base64",
                        "chunk": number,
                        "content": base64.b64encode(data[start : start + chunk]).decode(),
                    },
                )

        dl = median_time(download, args.repeat)
        ul = median_time(upload, 1)
        print("\nThrough the server (for information)")
        line("download /files/mnt/... (streamed)", f"{dl:.3f} s", f"({mb / dl:.0f} MB/s)")
        line("  / raw ossfs read", f"{dl / raw_r:.2f}x")
        line("upload via contents API, 1 MiB base64 chunks", f"{ul:.3f} s", f"({mb / ul:.0f} MB/s)")
        line("  / raw ossfs write", f"{ul / raw_w:.2f}x")

        # ---------------------------------------------------------------- FUSE
        print("\nFUSE")
        try:
            from jupyter_workbench.storage import fuse
        except ImportError as e:
            print(f"  skipped: jupyter_workbench.storage.fuse is not available ({e})")
        else:
            ok, why = fuse.fuse_available()
            if not ok:
                print(f"  skipped: {why}")
            else:
                r = fuse.fuse_throughput(fs, size=size, path="fuse-bench.bin")
                line(
                    "write: FUSE / direct MB/s",
                    f"{r['fuse_write_mb_s']:.0f} / {r['direct_write_mb_s']:.0f}",
                )
                line("write ratio FUSE / direct", f"{r['write_ratio']:.2f}", "(goal >= 0.7)")
                line(
                    "read: FUSE / direct MB/s",
                    f"{r['fuse_read_mb_s']:.0f} / {r['direct_read_mb_s']:.0f}",
                )
                line("read ratio FUSE / direct", f"{r['read_ratio']:.2f}", "(goal >= 0.7)")
        concurrency(server, tmp, endpoint, args)
    finally:
        server.stop()
        emu.stdin.close()
        emu.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
