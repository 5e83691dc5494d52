import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture(autouse=True)
def _state_dir(tmp_path, monkeypatch):
    # Each test's server keeps its jobs (exports and environment creations included), mount
    # registry and credentials in its own state dir: a listing shows that test's work only.
    state = tmp_path / "wb-state"
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(state))
    return state


@pytest.fixture
def jp_server_config(jp_server_config):
    # FUSE directories are tested in tests/unit/test_storage_fuse.py and test_fuse_server.py.
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_workbench": True}},
        "Workbench": {"fuse_mounts": False},
    }
