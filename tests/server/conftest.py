import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def jp_server_config(jp_server_config):
    # FUSE directories are tested in tests/unit/test_storage_fuse.py and test_fuse_server.py.
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_workbench": True}},
        "Workbench": {"fuse_mounts": False},
    }
