"""``jupyter workbench export ... --emit-config``: TF Serving's models.config and a PAI-EAS
service description beside the versions, read back with TF Serving's own config proto."""

from __future__ import annotations

import json

import pytest

from jupyter_workbench.export import export_savedmodel
from jupyter_workbench.export.deploy import write_deploy_configs
from jupyter_workbench.storage import MountRegistry

try:
    from ._storage_fixtures import AK, SK, oss  # noqa: F401
except ImportError:
    from _storage_fixtures import AK, SK, oss  # noqa: F401

pytest.importorskip("tensorflow")
config_pb2 = pytest.importorskip("tensorflow_serving.config.model_server_config_pb2")


def test_cli_emits_models_config_and_eas_service(tiny_keras_file, tmp_path, capsys):
    from google.protobuf import text_format

    from jupyter_workbench import cli

    base = tmp_path / "models" / "mnist"
    # The command's own main() in this process (its console script is run by test_frontdoors;
    # a child here would start TensorFlow a second time)
    argv = ["export", tiny_keras_file, str(base), "--warmup", "2", "--emit-config", "--quiet"]
    code = cli.main([*argv, "--json"])
    printed = capsys.readouterr()
    assert code == 0, printed.err[-2000:]
    out = json.loads(printed.out)
    assert sorted(out["deploy_configs"]) == sorted(
        [str(base / "models.config"), str(base / "eas_service.json")]
    )
    # TF Serving's --model_config_file parses it: name, base_path, platform, latest policy
    config = text_format.Parse((base / "models.config").read_text(), config_pb2.ModelServerConfig())
    [entry] = config.model_config_list.config
    assert (entry.name, entry.base_path, entry.model_platform) == ("mnist", str(base), "tensorflow")
    assert entry.model_version_policy.latest.num_versions == 1
    # the EAS description points at the base and at version 1's warmup records
    eas = json.loads((base / "eas_service.json").read_text())
    assert eas["model_path"] == f"{base}/" and eas["name"] == "mnist"
    assert eas["warm_up_data_path"] == f"{base}/1/assets.extra/tf_serving_warmup_requests"
    assert (base / "1" / "assets.extra" / "tf_serving_warmup_requests").is_file()
    assert eas["processor"].startswith("tensorflow")


def test_descriptors_of_a_mount_name_the_oss_url(tmp_path, monkeypatch, oss):  # noqa: F811
    import keras

    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "state"))
    reg = MountRegistry()
    reg.configure(mount_dir=tmp_path / "root" / "mnt", allowed_local_roots=[tmp_path])
    reg.add("data", "oss://demo/team", {"endpoint": oss.endpoint, "key": AK, "secret": SK})
    inp = keras.Input((3,), name="x")
    model = keras.Model(inp, keras.layers.Dense(2, name="y")(inp))
    result = export_savedmodel(model, "mount://data/models/net", progress=False, verify=False)
    written = write_deploy_configs(result, "mount://data/models/net")
    assert written == [
        "mount://data/models/net/models.config",
        "mount://data/models/net/eas_service.json",
    ]
    keys = oss.list_keys("demo")
    assert {"team/models/net/models.config", "team/models/net/eas_service.json"} <= set(keys)
    fs = reg.filesystem("data")
    eas = json.loads(fs.cat_file("models/net/eas_service.json"))
    assert eas["model_path"] == "oss://demo/team/models/net/"
    assert "warm_up_data_path" not in eas  # no warmup records were written
    assert (
        'base_path: "oss://demo/team/models/net"'
        in fs.cat_file("models/net/models.config").decode()
    )
