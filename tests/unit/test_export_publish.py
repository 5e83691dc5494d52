"""Publishing: version numbering, atomic rename, crashes, fsspec URLs, size limits, progress."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import fsspec
import pytest

from jupyter_workbench.export import ExportError, export_savedmodel, inspect_savedmodel

try:
    from ._export_models import (
        REPO,
        assert_clean,
        batch,
        hidden,
        keras_mlp,
        serve,
        subprocess_env,
        versions,
    )
except ImportError:
    from _export_models import (
        REPO,
        assert_clean,
        batch,
        hidden,
        keras_mlp,
        serve,
        subprocess_env,
        versions,
    )

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def model():
    return keras_mlp()


def test_versions_count_up_and_ignore_other_names(tmp_path, model):
    # Given a base with version 1, a stray file and a hidden directory
    base = tmp_path / "mnist"
    export_savedmodel(model, base, verify=False, progress=False)
    (base / "README").write_text("x")
    (base / ".tmp-99-otherhost-1-abcd").mkdir()
    # When exported again without a version, then with version 10
    second = export_savedmodel(model, base, verify=False, progress=False)
    tenth = export_savedmodel(model, base, version=10, verify=False, progress=False)
    after = export_savedmodel(model, base, verify=False, progress=False)
    # Then versions are 2, 10, 11 and nothing of ours is left hidden
    assert (second.version, tenth.version, after.version) == (2, 10, 11)
    assert versions(base) == ["1", "10", "11", "2", "README"]
    assert hidden(base) == [".tmp-99-otherhost-1-abcd"]  # someone else's, recent: kept


def test_existing_version_is_refused_unless_overwrite(tmp_path, model):
    # Given version 3
    base = tmp_path / "m"
    export_savedmodel(model, base, version=3, verify=False, progress=False)
    marker = base / "3" / "marker"
    marker.write_text("old")
    # When exported as version 3 again
    with pytest.raises(ExportError, match="version 3 already exists") as info:
        export_savedmodel(model, base, version=3, progress=False)
    # Then it is refused (overwrite named), the old one untouched
    assert "overwrite=True" in str(info.value) and marker.exists()
    assert_clean(info.value)
    # and with overwrite=True it is replaced atomically, nothing left behind
    result = export_savedmodel(model, base, version=3, overwrite=True, progress=False)
    assert result.version == 3 and not marker.exists()
    assert versions(base) == ["3"] and hidden(base) == []


def test_without_rename_files_are_copied_with_saved_model_pb_last(tmp_path, model, monkeypatch):
    # Given a file system that cannot rename directories (some FUSE mounts)
    import errno

    from jupyter_workbench.export import publish

    real_rename, real_copyfile, copied = os.rename, publish.shutil.copyfile, []

    def rename(src, dst):
        if os.path.basename(src) == "model":
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_rename(src, dst)

    def copyfile(src, dst, **kwargs):
        copied.append(os.path.relpath(dst, tmp_path / "m" / "1"))
        return real_copyfile(src, dst, **kwargs)

    monkeypatch.setattr(publish.os, "rename", rename)
    monkeypatch.setattr(publish.shutil, "copyfile", copyfile)
    # When exported
    result = export_savedmodel(model, tmp_path / "m", progress=False)
    # Then the files were copied into place with saved_model.pb last, and it serves
    assert copied[-1] == "saved_model.pb" and "variables/variables.index" in copied
    assert hidden(tmp_path / "m") == []
    assert serve(result.path, feat=batch())["out"].shape == (2, 3)


def test_destination_not_writable(tmp_path, model):
    # Given a destination below a regular file
    (tmp_path / "file").write_text("x")
    # When exported there
    with pytest.raises(ExportError, match="not writable") as info:
        export_savedmodel(model, tmp_path / "file" / "models", progress=False)
    # Then the error names the destination
    assert str(tmp_path / "file" / "models") in str(info.value)
    assert_clean(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through directory permissions")
def test_read_only_destination(tmp_path, model):
    # Given a read-only directory
    # When exported into / Then the error says it is not writable
    base = tmp_path / "ro"
    base.mkdir()
    base.chmod(0o555)
    try:
        with pytest.raises(ExportError, match="not writable"):
            export_savedmodel(model, base, progress=False)
    finally:
        base.chmod(0o755)


def test_destination_that_is_a_file(tmp_path, model):
    # Given a destination that is a regular file
    # When exported / Then the error asks for a directory
    (tmp_path / "f").write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export_savedmodel(model, tmp_path / "f", progress=False)


def test_max_size_refuses_before_publishing(tmp_path, model):
    # Given a model of ~20 KB
    base = tmp_path / "m"
    # When max_size is 1 KB
    with pytest.raises(ExportError, match="over max_size=1.0 KB") as info:
        export_savedmodel(model, base, max_size="1KB", progress=False)
    # Then nothing was published or left behind
    assert_clean(info.value)
    assert versions(base) == [] and hidden(base) == []
    # and a generous limit passes
    result = export_savedmodel(model, base, max_size="10MB", progress=False)
    assert result.size_bytes < 10**6 and result.warnings == []


CRASH_SCRIPT = """
import sys, time
import keras
from jupyter_workbench.export import export_savedmodel
base, stage = sys.argv[1], sys.argv[2]
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((1024,)), keras.layers.Dense(8192), keras.layers.Dense(4)])

def progress(fraction, message):
    if message.startswith(stage):
        print("AT", message, flush=True)
        if stage == "verifying":
            time.sleep(120)  # hold the fully written, unpublished export until killed

export_savedmodel(model, base, progress=progress)
print("FINISHED", flush=True)
"""


@pytest.mark.parametrize("stage", ["writing", "verifying"])
def test_killed_export_leaves_no_visible_version(tmp_path, stage, model):
    # Given an export of a 32 MB model in another process
    base = tmp_path / "m"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASH_SCRIPT), str(base), stage],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=subprocess_env(),
        cwd=REPO,
    )  # fmt: skip
    try:
        # When it is SIGKILLed while writing (or after writing, before publishing)
        line = proc.stdout.readline()
        assert line.startswith("AT"), line
        if stage == "writing":
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # Then readers see no version at all, only a hidden temporary directory
    assert versions(base) == []
    assert all(name.startswith(".tmp-") for name in hidden(base))
    # and the next export takes version 1 and cleans the dead process's leftovers
    result = export_savedmodel(model, base, progress=False)
    assert result.version == 1
    assert versions(base) == ["1"] and hidden(base) == []


class CopyRecorder:
    """Wraps a memory filesystem's copies to check the reader's view after each one."""

    def __init__(self, fs, final):
        self.fs, self.final, self.copied = fs, final, []

    def check(self):
        names = self.fs.find(self.final) if self.fs.exists(self.final) else []
        if any(n.endswith("/saved_model.pb") for n in names):
            assert any("variables.index" in n for n in names)
            assert any("variables.data" in n for n in names)


def test_memory_url_uploads_hidden_then_commits_saved_model_pb_last(model, monkeypatch):
    # Given a memory:// destination and a recorder of the commit copies
    base = f"memory://models-{uuid.uuid4().hex}/mnist"
    fs = fsspec.filesystem("memory")
    root = base.split("://", 1)[1]
    recorder = CopyRecorder(fs, f"/{root}/1")
    original = type(fs).cp_file
    uploads = []
    original_put = type(fs).put_file

    def cp_file(self, path1, path2, **kwargs):
        recorder.copied.append((path1, path2))
        original(self, path1, path2, **kwargs)
        recorder.check()

    def put_file(self, lpath, rpath, *args, **kwargs):
        uploads.append(rpath)
        return original_put(self, lpath, rpath, *args, **kwargs)

    monkeypatch.setattr(type(fs), "cp_file", cp_file)
    monkeypatch.setattr(type(fs), "put_file", put_file)
    seen = []
    try:
        # When exported twice with a progress callable
        first = export_savedmodel(model, base, progress=lambda f, m: seen.append((f, m)))
        second = export_savedmodel(model, base, verify=False, progress=False)
        # Then uploads went to a hidden prefix, saved_model.pb was committed last
        assert uploads and all(f"/{root}/.tmp-" in path for path in uploads)
        firsts = [dst for _src, dst in recorder.copied if "/1/" in dst]
        assert len(firsts) == 4 and firsts[-1].endswith("/1/saved_model.pb")
        assert all(f"/{root}/.tmp-" in src for src, _dst in recorder.copied)
        # and versions count up, no temporary prefix is left, the result reloads
        assert (first.path, second.version) == (f"{base}/1", 2)
        names = [p.rsplit("/", 1)[-1] for p in fs.ls(f"/{root}", detail=False)]
        assert names == [".workbench-versions", "1", "2"]
        assert inspect_savedmodel(base)["version"] == 2
        assert any(m.startswith("uploading") for _f, m in seen) and seen[-1][0] == 1.0
        assert fs.exists(f"/{root}/2/variables/variables.index")
    finally:
        fs.rm(f"/{root.split('/')[0]}", recursive=True)


def test_file_url_destination(tmp_path, model):
    # Given a file:// URL
    url = f"file://{tmp_path}/models/m"
    # When exported
    result = export_savedmodel(model, url, progress=False)
    # Then the result is at version 1 under it and serves
    assert result.path == f"{url}/1"
    x = batch()
    assert serve(tmp_path / "models" / "m" / "1", feat=x)["out"].shape == (2, 3)
    assert inspect_savedmodel(url)["version"] == 1


def test_unknown_url_protocol(model):
    # Given a URL whose protocol fsspec does not know
    # When exported / Then the error names the protocol and what to install
    with pytest.raises(ExportError, match="cannot open protocol 'nosuchfs'") as info:
        export_savedmodel(model, "nosuchfs://bucket/m", progress=False)
    assert_clean(info.value)


def test_result_reports_progress_and_path(tmp_path, model):
    # Given a progress callable
    seen = []
    # When exported
    result = export_savedmodel(model, tmp_path / "m", progress=lambda f, m: seen.append((f, m)))
    # Then fractions rise to 1.0 through the stages
    fractions = [f for f, _m in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    messages = " ".join(m for _f, m in seen)
    for stage in ("loading source", "writing SavedModel", "verifying", "published version 1"):
        assert stage in messages
    assert result.path == str(tmp_path / "m" / "1") and result.duration_s > 0
