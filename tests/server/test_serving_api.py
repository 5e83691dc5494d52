"""``workbench/api/serving``: model servers started through the Jupyter server, their status
and signatures, TF Serving's REST API proxied behind Jupyter's auth, and stopping them."""

from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_serving.apis")

_MAKE = """
import sys, keras
from jupyter_workbench.export import export_savedmodel
keras.utils.set_random_seed(0)
inp = keras.Input((4,), name="image")
model = keras.Model(inp, keras.layers.Dense(3, name="scores", kernel_initializer="ones")(inp))
export_savedmodel(model, sys.argv[1], inputs="image", outputs="scores", progress=False)
"""


@pytest.fixture
def jp_server_config(jp_server_config, request):
    config = dict(jp_server_config)
    marker = request.node.get_closest_marker("workbench")
    extra = marker.kwargs if marker else {}
    config["Workbench"] = dict(config.get("Workbench", {}), serving_python=sys.executable, **extra)
    return config


async def call(jp_fetch, *parts, method="GET", body=None, headers=None):
    # starting a model server loads TensorFlow and the model: slow on a busy 2-core machine
    kwargs = {"method": method, "raise_error": False, "request_timeout": 180}
    if method == "POST":
        kwargs["body"] = body if isinstance(body, (bytes, str)) else json.dumps(body or {})
    if headers is not None:
        kwargs["headers"] = headers
    r = await jp_fetch("workbench", "api", "serving", *parts, **kwargs)
    return r.code, json.loads(r.body) if r.body else None


async def test_start_try_and_stop_a_model_server(jp_fetch, jp_root_dir):
    from tests.conftest import run_python

    run_python(_MAKE, str(jp_root_dir / "models" / "net"))
    # When the sidebar starts a server for a base under the root
    code, info = await call(jp_fetch, method="POST", body={"base": "models/net", "poll": 0.5})
    assert code == 201, info
    assert info["name"] == "net" and info["state"] == "running"
    assert info["api"] == "workbench/api/serving/net/v1/models/net"
    try:
        # Then it is listed, with its versions and an example request per signature
        code, listed = await call(jp_fetch)
        assert [s["name"] for s in listed] == ["net"]
        code, details = await call(jp_fetch, "net")
        assert details["model_version_status"][0]["state"] == "AVAILABLE"
        sig = details["signatures"]["serving_default"]
        assert sig["inputs"]["image"] == {"dtype": "DT_FLOAT", "shape": [-1, 4]}
        assert sig["example"] == {"signature_name": "serving_default", "instances": [[0.0] * 4]}
        # and TF Serving's REST API answers through the Jupyter server
        body = {"instances": [[1.0, 2.0, 3.0, 4.0]]}
        code, doc = await call(jp_fetch, "net", "v1", "models", "net:predict", method="POST",
                               body=body)  # fmt: skip
        assert code == 200 and doc["predictions"] == [[10.0, 10.0, 10.0]]
        code, doc = await call(jp_fetch, "net", "v1", "models", "net:predict", method="POST",
                               body={"instances": [[1.0]]})  # fmt: skip
        assert code == 400 and "shape" in doc["error"]
        # a batch far over the 1 MiB of the other endpoints passes (serving_max_body_size)
        rows = [[float(i % 7), 1.0, 2.0, 0.5] for i in range(160_000)]
        big = json.dumps({"instances": rows})
        assert 3 << 20 < len(big) < 64 << 20
        code, doc = await call(jp_fetch, "net", "v1", "models", "net:predict", method="POST",
                               body=big)  # fmt: skip
        assert code == 200 and len(doc["predictions"]) == len(rows)
        assert doc["predictions"][8] == [sum(rows[8])] * 3
        # while the sidebar's own endpoints keep their small limit
        code, doc = await call(jp_fetch, method="POST", body=big)
        assert code == 413 and "limit" in doc["message"]
        code, doc = await call(jp_fetch, "net", "v1", "models", "net", "metadata")
        assert code == 200 and "signature_def" in doc["metadata"]
        # a second server with the same name is a conflict
        code, doc = await call(jp_fetch, method="POST", body={"base": "models/net"})
        assert code == 409 and "already running" in doc["message"]
    finally:
        # When it is stopped
        code, stopped = await call(jp_fetch, "net", method="DELETE")
    # Then its process is gone and it is no longer listed
    assert code == 200 and stopped["state"] == "exited"
    with pytest.raises(ProcessLookupError):
        os.kill(stopped["pid"], 0)
    assert (await call(jp_fetch))[1] == []
    assert (await call(jp_fetch, "net"))[0] == 404


@pytest.mark.workbench(serving_max_body_size=2 << 20)
async def test_the_proxy_refuses_bodies_over_its_limit_before_reading_them(jp_fetch):
    # Given c.Workbench.serving_max_body_size = 2 MiB: a 3 MiB predict is a 413 naming the limit
    # (answered from the headers: no model server is even looked up)
    big = json.dumps({"instances": [[0.0] * 4] * 100_000})
    assert len(big) > 2 << 20
    code, doc = await call(jp_fetch, "net", "v1", "models", "net:predict", method="POST", body=big)
    assert code == 413 and str(2 << 20) in doc["message"]
    # a body under it reaches the proxy (here: no such server)
    code, doc = await call(jp_fetch, "net", "v1", "models", "net:predict", method="POST",
                           body={"instances": [[0.0] * 4]})  # fmt: skip
    assert code == 404


async def test_bad_requests_are_clear_400s(jp_fetch, jp_root_dir):
    for body, words in (
        ({}, "base"),
        ({"base": "../outside"}, "outside"),
        ({"base": "file:///etc"}, "outside"),
        ({"base": "memory://models"}, "memory://"),
        ({"base": "missing"}, "does not exist"),
        ({"base": "m", "version_policy": "newest"}, "version-policy"),
        ({"base": "m", "poll": 0}, "poll"),
        ({"base": "m", "model_name": "a/b"}, "model_name"),
        ({"base": "m", "port": 1}, "port"),
    ):
        code, doc = await call(jp_fetch, method="POST", body=body)
        assert code == 400 and words in doc["message"], (body, doc)
    code, doc = await call(jp_fetch, method="POST", body="{not json")
    assert code == 400
    assert (await call(jp_fetch, "nope", "v1", "models", "nope"))[0] == 404


async def test_every_route_needs_authentication(jp_fetch):
    from tornado.httpclient import HTTPClientError

    for parts in ((), ("x",), ("x", "v1", "models", "x")):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("workbench", "api", "serving", *parts, headers={"Authorization": ""})
        assert err.value.code == 403
