"""Serving a Keras 3 export the way TF Serving does: every REST route and format, the official
gRPC client, warmup replay, hot reload, refusal of half-written versions, load failures and
removed versions. One real server (a child process with TensorFlow) for the whole module.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

try:
    from ._serving_fixtures import http, root_url, states, wait_for
except ImportError:
    from _serving_fixtures import http, root_url, states, wait_for

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_serving.apis")

POLL = 0.3
NAME = "mnist"


def _model(bias: float):
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((4,), name="image")
    hidden = keras.layers.Dense(6, activation="relu")(inp)
    out = keras.layers.Dense(3, name="scores", bias_initializer=keras.initializers.Constant(bias))(
        hidden
    )
    return keras.Model(inp, out)


def _export(base, bias, version=None, **kw):
    from jupyter_workbench.export import export_savedmodel

    return export_savedmodel(
        _model(bias), base, inputs="image", outputs="scores", version=version, progress=False, **kw
    )


def _direct(path, x):
    fn = tf.saved_model.load(path, tags=["serve"]).signatures["serving_default"]
    return fn(image=tf.constant(x))["scores"].numpy()


X = np.random.default_rng(0).standard_normal((2, 4)).astype("float32")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from jupyter_workbench.serving import start_server

    base = tmp_path_factory.mktemp("serving") / NAME
    first = _export(str(base), bias=0.0, warmup=2)
    server = start_server(
        str(base), python=sys.executable, poll=POLL, labels=["stable=1"], inter_op_threads=1
    )
    yield {"server": server, "base": base, "v1": first.path}
    assert server.stop() == 0  # a clean exit on SIGTERM (no crash at interpreter shutdown)
    assert not server.running


def test_status_routes_answer_like_tf_serving(served):
    server = served["server"]
    # When the status of the model, a version and a label are asked
    code, doc = http("GET", server.url)
    code_v, doc_v = http("GET", server.url + "/versions/1")
    code_l, doc_l = http("GET", server.url + "/labels/stable")
    # Then the documented GetModelStatusResponse JSON comes back
    expected = {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    assert (code, doc) == (200, expected)
    assert (code_v, doc_v) == (200, expected)
    assert (code_l, doc_l) == (200, expected)
    # and unknown models, versions and labels are 404 with {"error"}
    for url in (
        root_url(server) + "/v1/models/nope",
        server.url + "/versions/9",
        server.url + "/labels/canary",
    ):
        code, doc = http("GET", url)
        assert code == 404 and set(doc) == {"error"} and doc["error"], url


def test_metadata_is_the_signature_def_map(served):
    code, doc = http("GET", served["server"].url + "/metadata")
    assert code == 200
    assert doc["model_spec"] == {"name": NAME, "signature_name": "", "version": "1"}
    sig = doc["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert sig["method_name"] == "tensorflow/serving/predict"
    image = sig["inputs"]["image"]
    assert image["dtype"] == "DT_FLOAT"
    assert [d["size"] for d in image["tensor_shape"]["dim"]] == ["-1", "4"]
    assert sig["outputs"]["scores"]["dtype"] == "DT_FLOAT"
    code, doc = http("GET", served["server"].url + "/versions/1/metadata")
    assert code == 200 and doc["model_spec"]["version"] == "1"


def test_predict_row_and_columnar_formats(served):
    server, want = served["server"], _direct(served["v1"], X)
    # row format: instances -> predictions (one output: values without its name)
    code, doc = http("POST", server.url + ":predict", {"instances": X.tolist()})
    assert code == 200 and set(doc) == {"predictions"}
    np.testing.assert_allclose(doc["predictions"], want, rtol=1e-5, atol=1e-6)
    # instances as objects, explicit signature, a version and a label in the URL
    body = {"signature_name": "serving_default", "instances": [{"image": r} for r in X.tolist()]}
    for path in (":predict", "/versions/1:predict", "/labels/stable:predict"):
        code, doc = http("POST", server.url + path, body)
        assert code == 200, doc
        np.testing.assert_allclose(doc["predictions"], want, rtol=1e-5, atol=1e-6)
    # columnar: inputs -> outputs, as a bare value and as an object
    for inputs in (X.tolist(), {"image": X.tolist()}):
        code, doc = http("POST", server.url + ":predict", {"inputs": inputs})
        assert code == 200 and set(doc) == {"outputs"}
        np.testing.assert_allclose(doc["outputs"], want, rtol=1e-5, atol=1e-6)
    # NaN goes in and out as TF Serving's tokens
    import urllib.request

    nan = b'{"instances": [[NaN, 1, 2, 3]]}'
    req = urllib.request.Request(server.url + ":predict", data=nan, method="POST")
    with urllib.request.urlopen(req) as resp:
        status, raw = resp.status, resp.read()
    assert status == 200 and b"NaN" in raw


@pytest.mark.parametrize(
    "path, body, code, words",
    [
        (":predict", b"{not json", 400, "JSON"),
        (":predict", {"instances": [[1, 2]]}, 400, "shape"),
        (":predict", {"instances": [["a", "b", "c", "d"]]}, 400, "type"),
        (":predict", {"instances": [[1, 2, 3, 4]], "signature_name": "nope"}, 400, "nope"),
        (":predict", {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}, 400, "only one"),
        (":predict", {"rows": []}, 400, "instances"),
        (":predict", {"instances": [{"pixels": [1, 2, 3, 4]}]}, 400, "image"),
        (":classify", {"examples": [{"x": 1}]}, 400, "classify"),
        ("/versions/7:predict", {"instances": [[1, 2, 3, 4]]}, 404, "7"),
    ],
)
def test_bad_requests_are_400_and_unknown_versions_404(served, path, body, code, words):
    raw = body if isinstance(body, bytes) else None
    got, doc = http("POST", served["server"].url + path, None if raw else body, raw=raw)
    assert got == code and set(doc) == {"error"}
    assert words.lower() in doc["error"].lower(), doc


def test_unknown_model_and_route_are_404(served):
    server = served["server"]
    code, doc = http("POST", root_url(server) + "/v1/models/other:predict", {"instances": [[1]]})
    assert code == 404 and "other" in doc["error"]
    code, doc = http("GET", root_url(server) + "/v2/whatever")
    assert code == 404 and "error" in doc


def test_concurrent_requests_each_get_their_own_rows(served):
    # Given 8 clients sending different rows at once (the server batches them together)
    from concurrent.futures import ThreadPoolExecutor

    server = served["server"]
    rows = np.random.default_rng(1).standard_normal((32, 4)).astype("float32")
    want = _direct(served["v1"], rows)

    def ask(i):
        body = {"instances": rows[i : i + 1].tolist() if i % 2 else [rows[i].tolist()]}
        return http("POST", server.url + ":predict", body)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(len(rows))))
    # Then every answer is its own row's prediction
    for i, (code, doc) in enumerate(answers):
        assert code == 200
        np.testing.assert_allclose(doc["predictions"], want[i : i + 1], rtol=1e-5, atol=1e-5)


def test_tensorflow_thread_pools_follow_the_options(served):
    # Given a server started with --tensorflow-inter-op-parallelism 1 (TensorFlow's default
    # is one thread per core): its inter-op pool has that one thread
    pid = served["server"].pid
    names = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/comm") as fh:
            names.append(fh.read().strip())
    assert names.count("tf_Compute") == 1, names


def _read_response(sock, buf: bytearray) -> tuple[int, dict, dict]:
    """One HTTP/1.1 response off ``sock``: (status, headers, JSON body)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
    del buf[: end + 4]
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    n = int(headers["content-length"])
    while len(buf) < n:
        buf += sock.recv(65536)
    body = json.loads(bytes(buf[:n]))
    del buf[:n]
    return int(lines[0].split()[1]), headers, body


def test_http_keep_alive_pipelining_chunked_and_expect_continue(served):
    # Given raw HTTP/1.1 on one kept-alive connection
    server = served["server"]
    path = f"/v1/models/{NAME}:predict"
    want = _direct(served["v1"], X)
    with socket.create_connection((server.host, server.rest_port), timeout=30) as sock:
        buf = bytearray()
        # When two requests are sent back to back (pipelined), one of them chunked
        one = json.dumps({"instances": X[:1].tolist()}).encode()
        two = json.dumps({"instances": X[1:].tolist()}).encode()
        half = len(two) // 2
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(one)}\r\n\r\n".encode()
            + one
            + f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, two[:half], len(two) - half, two[half:])
        )
        # Then both are answered, in order, with their own rows
        for i in range(2):
            code, headers, doc = _read_response(sock, buf)
            assert code == 200 and "connection" not in headers
            np.testing.assert_allclose(doc["predictions"], want[i : i + 1], rtol=1e-5, atol=1e-5)
        # When a client asks for 100-continue before its body (curl does above 1 KB)
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(one)}\r\n\r\n".encode()
        )
        # Then the server says continue, and answers once the body came
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(65536)
        assert bytes(buf).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        del buf[: len(b"HTTP/1.1 100 Continue\r\n\r\n")]
        sock.sendall(one)
        code, _headers, doc = _read_response(sock, buf)
        assert code == 200 and len(doc["predictions"]) == 1
    # When an HTTP/1.0 client sends no keep-alive, the answer closes the connection
    with socket.create_connection((server.host, server.rest_port), timeout=30) as sock:
        sock.sendall(f"GET /v1/models/{NAME} HTTP/1.0\r\n\r\n".encode())
        buf = bytearray()
        code, headers, doc = _read_response(sock, buf)
        assert code == 200 and headers["connection"] == "close"
        assert doc["model_version_status"][0]["state"] == "AVAILABLE"
        assert sock.recv(10) == b""
    # When the request line is garbage, the answer is a 400 naming it, then the connection closes
    with socket.create_connection((server.host, server.rest_port), timeout=30) as sock:
        sock.sendall(b"HELLO\r\n\r\n")
        code, headers, doc = _read_response(sock, bytearray())
        assert code == 400 and "Bad request syntax" in doc["error"]
        assert sock.recv(10) == b""


def test_grpc_with_the_official_client(served):
    import grpc
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    server = served["server"]
    channel = grpc.insecure_channel(server.grpc_address)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    # the TF Serving chapter's client code, unchanged
    request = predict_pb2.PredictRequest()
    request.model_spec.name = NAME
    request.model_spec.signature_name = "serving_default"
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(X, shape=list(X.shape)))
    result = stub.Predict(request, 10.0)
    np.testing.assert_allclose(
        tf.make_ndarray(result.outputs["scores"]), _direct(served["v1"], X), rtol=1e-5, atol=1e-6
    )
    assert result.model_spec.version.value == 1
    # metadata and status
    meta = get_model_metadata_pb2.GetModelMetadataRequest()
    meta.model_spec.name = NAME
    meta.metadata_field.append("signature_def")
    sigmap = get_model_metadata_pb2.SignatureDefMap()
    stub.GetModelMetadata(meta, 10.0).metadata["signature_def"].Unpack(sigmap)
    assert "image" in sigmap.signature_def["serving_default"].inputs
    status_req = get_model_status_pb2.GetModelStatusRequest()
    status_req.model_spec.name = NAME
    status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(status_req, 10.0)
    [row] = status.model_version_status
    assert row.version == 1 and row.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE
    # errors carry gRPC codes
    request.model_spec.name = "other"
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(request, 10.0)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    request.model_spec.name = NAME
    request.inputs["image"].CopyFrom(tf.make_tensor_proto(np.zeros((1, 2), "float32")))
    with pytest.raises(grpc.RpcError) as err:
        stub.Predict(request, 10.0)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    channel.close()


def test_grpc_concurrent_large_and_malformed_calls(served):
    from concurrent.futures import ThreadPoolExecutor

    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    server = served["server"]
    channel = grpc.insecure_channel(
        server.grpc_address, options=[("grpc.max_receive_message_length", 64 << 20)]
    )
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

    def predict(x):
        request = predict_pb2.PredictRequest()
        request.model_spec.name = NAME
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(x))
        return tf.make_ndarray(stub.Predict(request, 30.0).outputs["scores"])

    # Given 8 clients calling at once on one connection (interleaved HTTP/2 streams)
    rows = np.random.default_rng(1).standard_normal((64, 1, 4)).astype("float32")
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(predict, rows))
    # Then each gets its own row's answer
    want = _direct(served["v1"], rows[:, 0])
    np.testing.assert_allclose(np.concatenate(got), want, rtol=1e-5, atol=1e-6)
    # A 6.4 MB request (many DATA frames, past the 64 KB default windows) and its 4.8 MB answer
    # (past the client's 4 MB window: the server waits for its WINDOW_UPDATEs)
    big = np.random.default_rng(2).standard_normal((400_000, 4)).astype("float32")
    np.testing.assert_allclose(predict(big), _direct(served["v1"], big), rtol=1e-5, atol=1e-5)
    # An unknown method and a request that is not a PredictRequest get gRPC errors, not a hang
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary("/tensorflow.serving.PredictionService/Nope")(b"", timeout=10)
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary("/tensorflow.serving.PredictionService/Predict")(
            b"\xff\xff\xff", timeout=10
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot parse the request" in err.value.details()
    # and the connection still serves
    np.testing.assert_allclose(predict(X), _direct(served["v1"], X), rtol=1e-5, atol=1e-6)
    channel.close()


def test_warmup_records_were_replayed_before_available(served):
    log = served["server"].log()
    assert "version 1 AVAILABLE" in log and "2 warmup records" in log


def test_hot_reload_refusals_failures_and_removal(served):
    server, base = served["server"], served["base"]
    # Given a half-written version 3 (no saved_model.pb yet) and a hidden staging directory
    shutil.copytree(os.path.join(served["v1"], "variables"), base / "3" / "variables")
    shutil.copytree(served["v1"], base / ".tmp-4-host-1-abcd" / "model")
    # When version 2 is published
    published = time.monotonic()
    v2 = _export(str(base), bias=5.0, version=2)
    # Then it serves within two polls (plus its load) and version 1 is unloaded after it
    wait_for(lambda: states(server).get(2, ("",))[0] == "AVAILABLE", timeout=2 * POLL + 10)
    assert time.monotonic() - published < 2 * POLL + 10
    wait_for(lambda: states(server).get(1, ("",))[0] == "END", timeout=5)
    code, doc = http("POST", server.url + ":predict", {"instances": X.tolist()})
    np.testing.assert_allclose(doc["predictions"], _direct(v2.path, X), rtol=1e-5, atol=1e-6)
    # and the half-written 3 and the hidden staging dir are never loaded, nor a complete
    # version 6 that an export still holds reserved (its marker not yet "published")
    shutil.copytree(v2.path, base / "6")
    marker = base / ".workbench-versions" / "6.0.json"
    record = {
        "state": "reserved",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "created": time.time(),
        "renewed": time.time(),
    }
    marker.write_text(json.dumps(record))
    time.sleep(3 * POLL)
    assert set(states(server)) == {1, 2}
    shutil.rmtree(base / "6")
    marker.unlink()
    # When a broken version 5 appears (saved_model.pb but no variables)
    os.makedirs(base / "5")
    shutil.copyfile(os.path.join(served["v1"], "saved_model.pb"), base / "5" / "saved_model.pb")
    # Then its failure is reported with its error and version 2 keeps serving
    state, code5 = wait_for(lambda: states(server).get(5), timeout=2 * POLL + 10)
    wait_for(lambda: states(server)[5][0] == "END", timeout=10)
    _c, doc = http("GET", server.url + "/versions/5")
    row = doc["model_version_status"][0]
    assert row["status"]["error_code"] != "OK" and "version 5" in row["status"]["error_message"]
    code, doc = http("POST", server.url + ":predict", {"instances": X.tolist()})
    assert code == 200
    np.testing.assert_allclose(doc["predictions"], _direct(v2.path, X), rtol=1e-5, atol=1e-6)
    # When versions 5 and 2 are removed, version 1 (the latest left) comes back
    shutil.rmtree(base / "5")
    shutil.rmtree(base / "2")
    wait_for(lambda: states(server).get(1, ("",))[0] == "AVAILABLE", timeout=2 * POLL + 10)
    wait_for(lambda: states(server)[2][0] == "END", timeout=5)
    code, doc = http("POST", server.url + ":predict", {"instances": X.tolist()})
    np.testing.assert_allclose(doc["predictions"], _direct(served["v1"], X), rtol=1e-5, atol=1e-6)


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "jupyter_workbench.cli", "serve", *args, "--python", sys.executable],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_errors_are_one_clear_line(served, tmp_path):
    # a missing base
    proc = _cli(str(tmp_path / "missing"))
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr
    # a base with only a half-written version
    os.makedirs(tmp_path / "empty" / "1" / "variables")
    proc = _cli(str(tmp_path / "empty"))
    assert proc.returncode == 1 and "holds no version" in proc.stderr
    # a port in use
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli(str(served["base"]), "--port", str(port), "--grpc-port", "0")
    assert proc.returncode == 1 and f"port {port}" in proc.stderr and "in use" in proc.stderr
    # a bad option
    proc = _cli(str(served["base"]), "--version-policy", "newest")
    assert proc.returncode == 1 and "--version-policy" in proc.stderr
    # an interpreter without hpack (the gRPC front end's header decoding): shadowed here
    (tmp_path / "nohpack").mkdir()
    (tmp_path / "nohpack" / "hpack.py").write_text("raise ImportError('No module named hpack')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "nohpack"), *sys.path])
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_workbench.serving", str(served["base"])],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    event = json.loads(proc.stdout.strip().splitlines()[-1])
    assert event["event"] == "error" and "lacks the hpack package" in event["message"]
    assert "pip install hpack" in event["message"] and "env create tf2" in event["message"]
