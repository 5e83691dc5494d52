"""The tf2 environment for REAL (about a minute and 1.6 GB the first time; runs by default).

Reuses $JUPYTER_WORKBENCH_TEST_ENVS when set (CI: a cache dir), else a temporary directory that is
removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_workbench import environments as envs
from jupyter_workbench.environments.kernelspecs import WorkbenchKernelSpecManager

try:
    from ._env_fixtures import execute, real_envs_dir, started_kernel
except ImportError:
    from _env_fixtures import execute, real_envs_dir, started_kernel

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(scope="module")
def tf2():
    with real_envs_dir("tf2") as d:
        events: list[dict] = []
        info = envs.create_environment("tf2", d, progress=events.append)
        yield d, info, events


def test_create_tf2_for_real(tf2):
    # Given tf2 created (or found ready in the cache dir)
    envs_dir, info, events = tf2
    # Then it is ready with TensorFlow 2.21, Keras 3, tf_keras, numpy and pandas
    assert info["ready"] is True, info
    pk = info["packages"]
    assert pk["tensorflow"] == "2.21.0" and pk["tf_keras"] == "2.21.0"
    assert pk["keras"].startswith("3.")
    assert {"numpy", "pandas", "ipykernel", "fsspec", "ossfs"} <= set(pk)
    assert info["display_name"] == "TensorFlow 2 (tf2)" and info["kernel_name"] == "tf2"
    # And the build matches the machine's GPU visibility
    assert info["gpu_build"] is envs.gpu_visible()
    assert info["gpu"] is (info["gpu_build"] and info["gpu_visible"])
    if info["action"] != "none":
        pip_lines = [e["message"] for e in events if e["kind"] == "output"]
        assert any("tensorflow" in ln for ln in pip_lines)
        assert any("--no-deps" in e["message"] for e in events if e["kind"] == "step")
    # And tf_keras did not drag in the second TensorFlow wheel
    code = (
        "import importlib.metadata as m, json\n"
        "def v(d):\n"
        "    try:\n        return m.version(d)\n"
        "    except m.PackageNotFoundError:\n        return None\n"
        "print(json.dumps({d: v(d) for d in ('tensorflow', 'tensorflow-cpu', 'tf_keras')}))"
    )
    out = subprocess.run(
        [info["python_executable"], "-c", code], capture_output=True, text=True, check=True
    )
    dists = json.loads(out.stdout)
    if info["gpu_build"]:
        assert dists["tensorflow"] == "2.21.0" and dists["tensorflow-cpu"] is None
    else:
        assert dists["tensorflow-cpu"] == "2.21.0" and dists["tensorflow"] is None


def test_tf2_kernel_imports_tensorflow(tf2):
    # Given a ready tf2 and the server's kernelspec manager
    envs_dir, info, _ = tf2
    ksm = WorkbenchKernelSpecManager(environments_dir=str(envs_dir))
    assert ksm.get_all_specs()["tf2"]["spec"]["display_name"] == "TensorFlow 2 (tf2)"
    # When a tf2 kernel is started and imports TensorFlow
    with started_kernel(ksm, "tf2") as kc:
        status, out = execute(
            kc,
            "import sys, shutil, tensorflow as tf, keras, tf_keras\n"
            "print('versions', tf.__version__, keras.__version__, tf_keras.__version__)\n"
            "print('sum', float(tf.reduce_sum(tf.constant([1.0, 2.0]))))\n"
            "print('exe', sys.executable)\n"
            "print('pip', shutil.which('pip'))\n"
            "ip = get_ipython()\n"
            "print('magics', sorted(m for m in ('savedmodel', 'mounts') "
            "if ip.find_line_magic(m)))\n",
        )
    # Then TensorFlow works in the environment's interpreter
    assert status == "ok", out
    lines = dict(ln.split(" ", 1) for ln in out.splitlines() if " " in ln)
    tfv, kv, tkv = lines["versions"].split()
    assert tfv == "2.21.0" and kv.startswith("3.") and tkv == "2.21.0"
    assert lines["sum"] == "3.0"
    env = envs_dir / "tf2"
    assert lines["exe"] == str(env / "bin" / "python")
    assert lines["pip"] == str(env / "bin" / "pip")
    import importlib.util

    if importlib.util.find_spec("jupyter_workbench.magics") is not None:
        assert lines["magics"] == "['mounts', 'savedmodel']"


def test_tf2_listed_next_to_py3(tf2):
    envs_dir, info, _ = tf2
    # When both are listed
    listed = {e["name"]: e for e in envs.list_environments(envs_dir)}
    # Then tf2 is ready with its Python and package versions, read from its marker
    assert listed["tf2"]["ready"] and listed["tf2"]["python"] == ".".join(
        map(str, sys.version_info[:3])
    )
    assert listed["tf2"]["packages"]["tensorflow"] == "2.21.0"
    assert listed["tf2"]["cull_idle_timeout"] > 0
    assert envs.environment_python("tf2", envs_dir) == str(envs_dir / "tf2" / "bin" / "python")
