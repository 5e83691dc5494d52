"""confine(): what a request's path or URL may point at (no server needed)."""

import pytest

from jupyter_workbench.confine import OutsideRootError, confine
from jupyter_workbench.storage.errors import PathNotAllowedError


def test_paths_inside_the_root_resolve_and_escapes_are_404(tmp_path):
    root = tmp_path / "root"
    (root / "models").mkdir(parents=True)
    (root / "out").symlink_to(tmp_path)
    assert confine("models/m", root=str(root), what="destination") == str(root / "models" / "m")
    assert confine(f"file://{root}/models", root=str(root), what="x") == str(root / "models")
    for bad in ("../x", "out/x", str(tmp_path / "x"), f"file://{tmp_path}/x"):
        with pytest.raises(OutsideRootError) as info:
            confine(bad, root=str(root), what="destination")
        assert info.value.http_status == 404 and "outside the server root" in str(info.value)


def test_urls_by_protocol_and_messages_scrubbed_and_short(tmp_path):
    assert confine("oss://bucket/m", root=str(tmp_path), what="d") == "oss://bucket/m"
    with pytest.raises(PathNotAllowedError) as info:
        confine("memory://AK:SECRET@x/" + "y" * 500, root=str(tmp_path), what="destination")
    message = str(info.value)
    assert "SECRET" not in message and "memory://" in message and len(message) < 500
    with pytest.raises(PathNotAllowedError, match="chains"):
        confine("simplecache::oss://b/m", root=str(tmp_path), what="d")
