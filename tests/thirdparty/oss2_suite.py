"""Run oss2's own functional tests (from its PyPI sdist) against the OSS emulator; print the counts.

    python -m tests.thirdparty.oss2_suite [--auth v1|v4|both] [-v] [pytest args...]

oss2's ``tests/`` talk to a real OSS service named by ``OSS_TEST_*`` variables; here they point at
an emulator on 127.0.0.1 (nothing leaves the machine). The sdist of the installed oss2 is fetched
once with pip into ``.cache/sdists`` (as :mod:`tests.thirdparty.ossfs_suite` does for ossfs). The
run is not part of ``make test`` (it takes minutes); it measures how much of the OSS protocol, as
oss2 exercises it, the emulator speaks.

The files run (:data:`FILES`) are those of the protocol the emulator implements: objects,
multipart, resumable upload and download, listings, signatures and bucket calls
(``test_object.py`` runs its tests three times: with the signature chosen by ``--auth``, then V2
and V4). The ``_oss2_plugin`` deselects and counts the tests that need a cloud service the
emulator cannot stand in for (KMS, STS, image processing, a real region endpoint...: see
``CLOUD_MARKERS`` there). Every other failure is the emulator's (mostly bucket features such as
lifecycle, CORS or logging, answered NotImplemented).

oss2's upload and download tests draw one of a plain, an RSA-encrypting and a KMS-encrypting
bucket at random; the plugin seeds ``random`` from each test's id, so runs are comparable (a test
whose draw is the KMS bucket needs the KMS service and fails).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

from jupyter_workbench.testing import OSSEmulator
from tests.thirdparty.ossfs_suite import sdist_tests

HERE = Path(__file__).resolve().parent
AK, SK = "OSS2SUITEKEY", "oss2-suite-secret"
FILES = [
    "test_object.py",
    "test_multipart.py",
    "test_upload.py",
    "test_download.py",
    "test_iterator.py",
    "test_list_objects_v2.py",
    "test_chinese.py",
    "test_sign.py",
    "test_put_object_chunked.py",
    "test_crc64_combine.py",
    "test_bucket.py",
]


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> "passed", "skipped", "cloud" (failed reaching a cloud service, such as the
    KMS bucket of a random draw) or "failed" (a test failing and erroring in teardown is one)."""
    result: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test = f"{case.get('classname')}::{case.get('name')}"
        bad = case.findall("failure") + case.findall("error")
        if bad:
            text = " ".join((b.get("message") or "") + (b.text or "") for b in bad)
            state = "cloud" if "aliyuncs.com" in text else "failed"
        elif case.find("skipped") is not None:
            state = "skipped"
        else:
            state = "passed"
        if result.get(test) in (None, "passed", "skipped"):
            result[test] = state
    return result


def run(auth: str, src: Path, extra: list[str]) -> dict:
    """Counts of one run with signature ``auth``, plus ``cloud`` (deselected test -> reason)."""
    with OSSEmulator(credentials={AK: SK}, buckets=()) as oss, tempfile.TemporaryDirectory() as tmp:
        junit, cloud = Path(tmp) / "junit.xml", Path(tmp) / "cloud.json"
        env = dict(
            os.environ,
            OSS_TEST_ENDPOINT=oss.endpoint,
            OSS_TEST_ACCESS_KEY_ID=AK,
            OSS_TEST_ACCESS_KEY_SECRET=SK,
            OSS_TEST_REGION=oss.region.removeprefix("oss-"),
            OSS_TEST_AUTH_VERSION=auth,
            OSS2_SUITE_CLOUD=str(cloud),
            PYTHONPATH=str(HERE),  # only the plugin: oss2's "tests" package must win
        )
        env.pop("OSS_TEST_BUCKET", None)
        ini = Path(tmp) / "pytest.ini"  # not the workbench's pytest settings
        ini.write_text("[pytest]\n")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ini)]
        cmd += ["--rootdir", str(src)]
        cmd += ["-p", "_oss2_plugin", "--junitxml", str(junit), "-o", "addopts="]
        cmd += ["--timeout", "120", "-W", "ignore", "-rfE", "--tb=line"]
        cmd += [f"tests/{f}" for f in FILES]
        proc = subprocess.run(cmd + extra, cwd=src, env=env, capture_output=True, text=True)
        if not junit.exists():
            sys.stderr.write(proc.stdout[-5000:] + proc.stderr[-5000:])
            raise SystemExit(f"oss2's suite did not run (auth {auth})")
        states = outcomes(junit)
        result = {k: sum(v == k for v in states.values()) for k in ("passed", "failed", "cloud")}
        result["skipped"] = sum(v == "skipped" for v in states.values())
        result["tests"] = len(states)
        result["failing"] = sorted(t for t, v in states.items() if v == "failed")
        result["output"] = proc.stdout
        result["deselected"] = json.loads(cloud.read_text()) if cloud.exists() else {}
        return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--auth", choices=("v1", "v4", "both"), default="v1")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pytest's output")
    args, extra = parser.parse_known_args(argv)
    src = sdist_tests("oss2", version("oss2"))
    for auth in ("v1", "v4") if args.auth == "both" else (args.auth,):
        r = run(auth, src, extra)
        if args.verbose:
            print(r["output"])
        needing = r["tests"] - r["cloud"] - r["skipped"]
        print(
            f"oss2 {version('oss2')} own suite, signature {auth}: {r['passed']}/{needing} passed "
            f"of the tests that need no cloud service ({r['failed']} failed); "
            f"{len(r['deselected']) + r['cloud']} need cloud services or files the sdist lacks "
            f"({len(r['deselected'])} deselected by their source, {r['cloud']} failed reaching "
            f"*.aliyuncs.com), {r['skipped']} skipped"
        )
        if args.verbose:
            for test, reason in sorted(r["deselected"].items()):
                print(f"  deselected, needs {reason}: {test}")
            for test in r["failing"]:
                print(f"  failed: {test}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
