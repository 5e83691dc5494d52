"""The deployment recipes in deploy/ are real: they load, and KubeSpawner renders the pod the
Zero-to-JupyterHub values ask for (offline: no cluster is contacted)."""

from __future__ import annotations

from pathlib import Path

import yaml
from traitlets.config import Config, PyFileConfigLoader

from .conftest import run_async

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
WORKBENCH_ARGS = [
    "--Workbench.session_absolute_timeout=10800",
    "--Workbench.session_idle_timeout=1800",
    "--Workbench.environments_dir=/opt/workbench/envs",
]


def test_the_local_jupyterhub_config_loads_with_the_workbench_and_culler_settings():
    config = PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY)).load_config()
    assert config.JupyterHub.spawner_class == "jupyterhub.spawner.LocalProcessSpawner"
    assert config.Spawner.args == WORKBENCH_ARGS
    assert config.Spawner.default_url == "/lab"
    assert config.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] == "60"
    culler = config.JupyterHub.services[0]
    assert culler["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    role = config.JupyterHub.load_roles[0]
    assert role["services"] == ["idle-culler"] and "delete:servers" in role["scopes"]


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: offline}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


def _pod_for(values: dict, tmp_path: Path, monkeypatch, user_name: str = "alice"):
    """What Zero to JupyterHub's hub makes of ``values`` for one user, rendered offline (the
    client needs a kubeconfig to exist; one pointing nowhere: nothing is contacted)."""
    from kubernetes_asyncio.client import ApiClient
    from kubernetes_asyncio.config import kube_config
    from kubespawner import KubeSpawner

    (tmp_path / "kubeconfig").write_text(KUBECONFIG)
    # (its default path was read from $KUBECONFIG at import time)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))

    single = values["singleuser"]
    config = Config(values["hub"]["config"])
    # (the chart's jupyterhub_config.py maps singleuser.* onto KubeSpawner like this)
    config.KubeSpawner.image = f"{single['image']['name']}:{single['image']['tag']}"
    config.KubeSpawner.default_url = single["defaultUrl"]
    config.KubeSpawner.cmd = [single["cmd"]]
    config.KubeSpawner.environment = dict(single["extraEnv"])
    config.KubeSpawner.volumes = single["storage"]["extraVolumes"]
    config.KubeSpawner.volume_mounts = single["storage"]["extraVolumeMounts"]
    config.KubeSpawner.extra_container_config = single["extraContainerConfig"]

    async def render():
        spawner = KubeSpawner(config=config, _mock=True)  # (its client wants a running loop)
        spawner.user.name = user_name
        pod = await spawner.get_pod_manifest()
        async with ApiClient() as client:  # the JSON the API server would receive
            return client.sanitize_for_serialization(pod)

    return run_async(render())


def test_kubespawner_renders_a_pod_with_the_workbench_settings(tmp_path, monkeypatch):
    values = yaml.safe_load((DEPLOY / "z2jh" / "config.yaml").read_text())
    assert values["cull"]["enabled"] is True
    pod = _pod_for(values, tmp_path, monkeypatch)
    # Then the manifest (as sent to the API server) carries the image, the c.Workbench
    # settings on the single-user command line, the activity interval, and FUSE's needs
    container = pod["spec"]["containers"][0]
    assert container["image"] == "registry.example.com/jupyter-workbench:0.1.0"
    assert container["args"] == ["jupyterhub-singleuser", *WORKBENCH_ARGS]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["JUPYTERHUB_ACTIVITY_INTERVAL"] == "60"
    assert env["JUPYTERHUB_USER"] == "alice"
    assert "SYS_ADMIN" in container["securityContext"]["capabilities"]["add"]
    assert {"name": "fuse", "mountPath": "/dev/fuse"} in container["volumeMounts"]
    assert {"name": "fuse", "hostPath": {"path": "/dev/fuse"}} in pod["spec"]["volumes"]


def test_the_dockerfile_installs_the_workbench_and_fuse():
    text = (DEPLOY / "z2jh" / "Dockerfile").read_text()
    assert text.startswith("#") and "\nFROM " in text
    assert "fuse3" in text and "jupyter_workbench-*.whl" in text and "jupyterhub==6.1.1" in text
    # the shared environments are built by root (read-only for the user) at the configured path
    build = text[text.index("USER root", text.index("COPY dist/")) :]
    assert "JUPYTER_WORKBENCH_ENVS_DIR=/opt/workbench/envs" in build
    assert "env create $env" in build and "for env in py3 tf2" in build
