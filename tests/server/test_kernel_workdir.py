"""A notebook or console opened inside a mount without FUSE works in that mount folder.

A real jupyter server (FUSE off), the OSS emulator on 127.0.0.1 and a REAL py3 kernel taken from
(or, the first time, created in) $JUPYTER_WORKBENCH_TEST_ENVS; without that variable the test is
skipped rather than building an environment in a temporary directory. The session is started
through the REST API as JupyterLab does, so the path reaches the kernel manager the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest
from _mount_fixtures import (  # noqa: F401 - fixtures
    mount_oss,
    nas_root,
    oss,
    server_config,
    state_dir,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from _env_fixtures import cached_environment  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

IRIS = "sepal_length,species\n5.1,setosa\n7.0,versicolor\n"


@pytest.fixture(scope="module")
def py3_envs_dir() -> Path:
    return cached_environment("py3")


@pytest.fixture
def jp_server_config(state_dir, nas_root, py3_envs_dir):  # noqa: F811 - the fixtures above
    return server_config(nas_root, environments_dir=str(py3_envs_dir))


async def start_session(jp_fetch, path: str, kind: str = "notebook") -> str:
    body = {"path": path, "name": path.rsplit("/", 1)[-1], "type": kind, "kernel": {"name": "py3"}}
    r = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    return json.loads(r.body)["kernel"]["id"]


async def client_for(jp_serverapp, kernel_id: str):
    """An asynchronous client of the server's kernel (the test's event loop runs the server)."""
    kc = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    kc.start_channels()
    await kc.wait_for_ready(timeout=120)
    return kc


async def run(kc, code: str) -> str:
    """Run ``code`` in the kernel; its stdout and stderr (the cell must succeed)."""
    out: list[str] = []

    def hook(msg):
        kind = msg["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append(f"{msg['content']['ename']}: {msg['content']['evalue']}\n")

    reply = await kc.execute_interactive(code, timeout=180, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(out)
    return "".join(out)


async def test_a_notebook_in_a_mount_opens_reads_and_writes_relative_paths(
    jp_fetch,
    jp_serverapp,
    jp_root_dir,
    oss,  # noqa: F811
):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data, no FUSE
    oss.put_object("demo", "work/iris.csv", IRIS.encode())
    assert not (jp_root_dir / "mnt").exists()
    # When the user opens a notebook beside iris.csv in the file browser
    kernel_id = await start_session(jp_fetch, "mnt/data/work/analysis.ipynb")
    kc = await client_for(jp_serverapp, kernel_id)
    try:
        # Then its working directory is a real folder standing for mnt/data/work
        cwd = (await run(kc, "import os; print(os.getcwd())")).strip()
        assert cwd.endswith(os.path.join("mnt", "data", "work")) and os.path.isdir(cwd)
        # in the py3 environment's own interpreter
        out = await run(kc, "import sys; print(sys.prefix)")
        assert out.strip().endswith("py3"), out
        # and relative paths reach the mount's files: open() and the csv module (py3 is light:
        # no pandas; pandas, numpy, pathlib all open files through the same open())
        out = await run(kc, "print(open('iris.csv').read(), end='')")
        assert out == IRIS
        out = await run(
            kc, "import csv; rows = list(csv.reader(open('iris.csv'))); print(len(rows))"
        )
        assert out.strip() == "3"
        # When the notebook writes files there (Python and a subprocess, like C code would)
        await run(
            kc,
            "csv.writer(open('out.csv', 'w', newline='')).writerows(rows)\n"
            "with open('notes.txt', 'w') as f: f.write('hello from the kernel')\n"
            "import subprocess; subprocess.run(['sh', '-c', 'echo from-sh > shell.txt'])",
        )
        # Then they are on the mount once the cell has run
        assert oss.get_object("demo", "work/notes.txt") == b"hello from the kernel"
        assert oss.get_object("demo", "work/out.csv").decode() == IRIS.replace("\n", "\r\n")
        assert oss.get_object("demo", "work/shell.txt") == b"from-sh\n"
        # When the file changes on the store, the next open() sees the new content
        oss.put_object("demo", "work/iris.csv", b"changed\n")
        assert await run(kc, "print(open('iris.csv').read(), end='')") == "changed\n"
        # Existence checks answer for the mount's files before any open (one HEAD, no copy)
        oss.put_object("demo", "work/other.csv", b"12345")
        out = await run(
            kc,
            "import pathlib\n"
            "print(os.path.exists('other.csv'), os.path.isfile('other.csv'),"
            " os.path.getsize('other.csv'), pathlib.Path('other.csv').exists(),"
            " os.path.exists('nope.csv'), os.path.isdir('.'))\n"
            "print(sorted(os.listdir('.')))",
        )
        checks, listed = out.strip().split("\n")
        assert checks == "True True 5 True False True"
        assert "other.csv" not in listed  # listings stay local (documented)
        # A missing file is a FileNotFoundError, as with local files
        out = await run(
            kc,
            "try:\n    open('nope.csv')\nexcept FileNotFoundError as e:\n    print('missing', e)",
        )
        assert out.startswith("missing") and "nope.csv" in out
        # And %mounts prints only paths that exist
        out = await run(kc, "%mounts")
        assert out.startswith("data: oss://demo -> "), out
        paths = re.findall(r"-> (/\S+)", out)
        assert paths and all(os.path.exists(p) for p in paths), out
        assert str(jp_root_dir / "mnt" / "data") not in out
    finally:
        kc.stop_channels()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_a_console_in_a_mount_folder_works_there_and_plain_folders_are_unchanged(
    jp_fetch,
    jp_serverapp,
    jp_root_dir,
    oss,  # noqa: F811
):
    await mount_oss(jp_fetch, oss, name="other")
    oss.put_object("demo", "sub/a.txt", b"A")
    kernel_id = await start_session(jp_fetch, "mnt/other/sub/console-1-abc", kind="console")
    local = jp_root_dir / "plain"
    local.mkdir()
    (local / "b.txt").write_text("B")
    plain_id = await start_session(jp_fetch, "plain/nb.ipynb")
    kc = await client_for(jp_serverapp, kernel_id)
    plain = await client_for(jp_serverapp, plain_id)
    try:
        assert await run(kc, "print(open('a.txt').read(), end='')") == "A"
        out = await run(kc, "%mounts")
        assert "other: oss://demo -> /" in out and "synced view" in out
        # A notebook in a local folder starts there, with open() untouched
        assert (await run(plain, "import os; print(os.getcwd())")).strip() == str(local)
        assert await run(plain, "print(open('b.txt').read(), end='')") == "B"
        out = await run(
            plain, "import _io, builtins, io; print(builtins.open is io.open is _io.open)"
        )
        assert out.strip() == "True"
        # and %mounts says where each mount is: no local folder without FUSE, never a path
        out = await run(plain, "%mounts")
        assert out.startswith("other: oss://demo -> no local folder here"), out
        assert not re.findall(r"-> (/\S+)", out)
    finally:
        for client in (kc, plain):
            client.stop_channels()
        for kid in (kernel_id, plain_id):
            await jp_fetch("api", "kernels", kid, method="DELETE")


class TestWithFuse:
    """Where FUSE serves the mount, the kernel simply starts in the real folder."""

    @pytest.fixture
    def jp_server_config(self, state_dir, nas_root, py3_envs_dir):  # noqa: F811
        from jupyter_workbench.storage.fuse import fuse_available

        ok, why = fuse_available()
        if not ok:
            pytest.skip(f"FUSE unavailable: {why}")
        return server_config(nas_root, environments_dir=str(py3_envs_dir), fuse_mounts=True)

    async def test_the_kernel_starts_in_the_fuse_folder(
        self,
        jp_fetch,
        jp_serverapp,
        jp_root_dir,
        oss,  # noqa: F811
    ):
        await mount_oss(jp_fetch, oss)
        oss.put_object("demo", "work/iris.csv", IRIS.encode())
        folder = jp_root_dir / "mnt" / "data" / "work"
        for _ in range(200):  # the FUSE helper mounts in the background
            if (folder / "iris.csv").is_file():
                break
            await asyncio.sleep(0.1)
        kernel_id = await start_session(jp_fetch, "mnt/data/work/analysis.ipynb")
        kc = await client_for(jp_serverapp, kernel_id)
        try:
            out = await run(
                kc,
                "import os\nfrom jupyter_workbench.storage import workdir\n"
                "print(os.getcwd()); print(workdir.active())\n"
                "print(open('iris.csv').read(), end='')",
            )
            cwd, view, text = out.split("\n", 2)
            assert cwd == str(folder) and view == "None" and text == IRIS
            out = await run(kc, "%mounts")
            assert out.strip() == f"data: oss://demo -> {jp_root_dir / 'mnt' / 'data'}", out
        finally:
            kc.stop_channels()
            await jp_fetch("api", "kernels", kernel_id, method="DELETE")
