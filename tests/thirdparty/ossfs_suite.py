"""Run ossfs's own test suite (from its PyPI sdist) against the OSS emulator and print the counts.

    python -m tests.thirdparty.ossfs_suite [--impl workbench|stock|both] [--min-passed N]

With ``both`` it fails when the workbench's class passes fewer tests than stock ossfs.

The sdist of the pinned ossfs is downloaded once with pip (``pip download --no-deps
--no-binary :all:``) into ``.cache/sdists``; its ``tests/func`` run in a child pytest with the
emulator's endpoint and keys in the environment (``OSS_ENDPOINT`` is the loopback emulator, so
nothing leaves the machine). ``--impl workbench`` swaps ``ossfs.OSSFileSystem`` for the
workbench's fixed class before ossfs's conftest imports it; ``stock`` runs ossfs as shipped.

Deselected, because they need cloud services: ``test_sts_login``, ``test_set_endpoint`` and
``test_env_endpoint`` (each first calls Alibaba Cloud's STS AssumeRole for a token).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

from jupyter_workbench.testing import OSSEmulator

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("JUPYTER_WORKBENCH_SDIST_CACHE", ROOT / ".cache" / "sdists"))
CLOUD_ONLY = ["test_sts_login", "test_set_endpoint", "test_env_endpoint"]
AK, SK = "OSSFSSUITEKEY", "ossfs-suite-secret"


def sdist_tests(package: str, pinned: str) -> Path:
    """The extracted sdist of ``package==pinned`` (downloaded with pip on first use)."""
    target = CACHE / f"{package}-{pinned}"
    if not (target / "tests").is_dir():
        CACHE.mkdir(parents=True, exist_ok=True)
        archive = CACHE / f"{package}-{pinned}.tar.gz"
        if not archive.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
                + ["--no-binary", ":all:", f"{package}=={pinned}", "-d", str(CACHE)],
                check=True,
            )
        with tarfile.open(archive) as tar:
            tar.extractall(CACHE, filter="data")
    return target


def counts(junit: Path) -> dict:
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
    for s in suites:
        for k in total:
            total[k] += int(s.get(k, 0))
    total["passed"] = total["tests"] - total["failures"] - total["errors"] - total["skipped"]
    return total


def run(impl: str, src: Path, extra: list[str]) -> dict:
    with OSSEmulator(credentials={AK: SK}, buckets=("ossfs-suite",)) as oss:
        oss.create_bucket("ossfs-suite-anon", public=True)
        env = dict(
            os.environ,
            OSS_ENDPOINT=oss.endpoint,
            OSS_ACCESS_KEY_ID=AK,
            OSS_SECRET_ACCESS_KEY=SK,  # the name ossfs's conftest reads
            OSS_ACCESS_KEY_SECRET=SK,  # the standard name (oss2, the workbench)
            OSS_TEST_BUCKET_NAME="ossfs-suite",
            OSS_TEST_ANONYMOUS_BUCKET_NAME="ossfs-suite-anon",
            PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests" / "thirdparty")]),
        )
        with tempfile.TemporaryDirectory() as tmp:
            junit = Path(tmp) / "junit.xml"
            cmd = [sys.executable, "-m", "pytest", "tests/func", "-q", "-p", "no:cacheprovider"]
            cmd += ["--junitxml", str(junit), "-o", "addopts=", "--timeout", "120"]
            cmd += ["-k", " and ".join(f"not {t}" for t in CLOUD_ONLY)]
            if impl == "workbench":
                cmd += ["-p", "_use_workbench_ossfs"]
            proc = subprocess.run(cmd + extra, cwd=src, env=env, capture_output=True, text=True)
            if not junit.exists():
                sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-5000:])
                raise SystemExit(f"ossfs's suite did not run ({impl})")
            result = counts(junit)
            result["output"] = proc.stdout
            return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--impl", choices=("workbench", "stock", "both"), default="workbench")
    parser.add_argument("--min-passed", type=int, default=0, help="fail below this many passes")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pytest's output")
    args, extra = parser.parse_known_args(argv)
    src = sdist_tests("ossfs", version("ossfs"))
    impls = ["stock", "workbench"] if args.impl == "both" else [args.impl]
    ok = True
    passed = {}
    # The runs wait on their emulators' round trips far more than they compute: run them at once.
    with ThreadPoolExecutor(len(impls)) as pool:
        results = list(pool.map(lambda impl: run(impl, src, extra), impls))
    for impl, r in zip(impls, results, strict=True):
        passed[impl] = r["passed"]
        if args.verbose:
            print(r["output"])
        print(
            f"ossfs {version('ossfs')} own suite, {impl} OSSFileSystem: {r['passed']}/"
            f"{r['tests']} passed ({r['failures']} failed, {r['errors']} errors, "
            f"{r['skipped']} skipped; deselected as cloud-only: {', '.join(CLOUD_ONLY)})"
        )
        if impl == "workbench" and r["passed"] < args.min_passed:
            print(f"  below the required {args.min_passed} passes", file=sys.stderr)
            ok = False
    if len(passed) == 2 and passed["workbench"] < passed["stock"]:
        print("  the workbench's class passes fewer of ossfs's tests than stock", file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
