"""Exports straight to a mount: by its path under the mount directory, or a ``mount://`` URL,
or ``oss://``; every form goes through the mount's (fixed) fsspec filesystem, never a local
folder hidden behind the file browser's view of the mount."""

from __future__ import annotations

import pytest

from jupyter_workbench.export import ExportError, export_savedmodel, inspect_savedmodel
from jupyter_workbench.storage import MountRegistry

try:
    from _storage_fixtures import AK, SK, oss  # noqa: F401
except ImportError:  # pragma: no cover - run from another rootdir
    from ._storage_fixtures import AK, SK, oss  # noqa: F401


def tiny_model():
    import keras

    inp = keras.Input((3,), name="x")
    return keras.Model(inp, keras.layers.Dense(2, name="y")(inp))


@pytest.fixture
def registry(tmp_path, monkeypatch, oss):  # noqa: F811
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    options = {"endpoint": oss.endpoint, "key": AK, "secret": SK}
    reg.add("data", "oss://demo/team", options)
    return reg


def test_export_to_a_mount_path_lands_in_the_bucket(registry, oss, tmp_path):  # noqa: F811
    # Given a mount "data" on oss://demo/team and no FUSE directory at <root>/mnt/data
    mount_path = tmp_path / "root" / "mnt" / "data" / "models" / "net"

    # When the user exports to the mount's path, then to its mount:// URL
    first = export_savedmodel(tiny_model(), str(mount_path), progress=False)
    second = export_savedmodel(tiny_model(), "mount://data/models/net", progress=False)

    # Then both versions are objects in the bucket (saved_model.pb included), nothing local
    keys = oss.list_keys("demo")
    assert first.version == 1 and second.version == 2
    assert "team/models/net/1/saved_model.pb" in keys
    assert "team/models/net/2/saved_model.pb" in keys
    assert not any(".tmp" in k for k in keys)
    assert not (tmp_path / "root" / "mnt").exists()
    # and inspect reads it back through the mount
    assert "y" in str(inspect_savedmodel("mount://data/models/net"))


def test_unknown_mount_url_is_a_clear_error(registry):
    with pytest.raises(ExportError, match="nosuch"):
        export_savedmodel(tiny_model(), "mount://nosuch/models", progress=False)


def test_export_to_an_oss_url_lands_in_the_bucket_and_is_checked(oss):  # noqa: F811
    # Given a plain oss:// URL (no mount) and the store's credentials as storage options
    options = {"endpoint": oss.endpoint, "key": AK, "secret": SK}
    # When exported twice
    first = export_savedmodel(tiny_model(), "oss://demo/urls/net", storage_options=options)
    second = export_savedmodel(tiny_model(), "oss://demo/urls/net", storage_options=options)
    # Then both versions were read back and checked, and are objects in the bucket
    assert (first.path, second.version) == ("oss://demo/urls/net/1", 2)
    keys = oss.list_keys("demo")
    assert {"urls/net/1/saved_model.pb", "urls/net/2/saved_model.pb"} <= set(keys)
    assert "urls/net/.workbench-versions/2.0.json" in keys
