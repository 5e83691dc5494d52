"""Benchmark of the model server against a direct call of the loaded signature (not a test).

One run prints, for an MNIST-sized Keras model (784 -> 256 -> 10) served by
``jupyter_workbench.serving`` in its own process:

* single-row latency p50/p99: a direct call of the signature in this process (the same
  SavedModel loaded here), REST ``:predict`` over one kept-alive HTTP connection, gRPC
  ``Predict`` with the official client; goals: REST p50 <= 2x direct + 2 ms, gRPC p50 <=
  1.5x direct + 1 ms;
* throughput with 8 concurrent clients (threads), direct vs REST vs gRPC; goal >= 0.7x direct.

The clients run in this process and share the machine's cores with the server, as a
co-located client would. Requests are single rows of 784 float32 values.

    .venv/bin/python bench/serving.py [--requests 400] [--seconds 4] [--clients 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_model():
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((784,), name="image")
    hidden = keras.layers.Dense(256, activation="relu")(inp)
    return keras.Model(inp, keras.layers.Dense(10, name="scores")(hidden))


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def latencies(call, n):
    for _ in range(min(50, n)):
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def throughput(make_call, clients, seconds):
    """Calls per second of ``clients`` threads, each with its own ``make_call()``."""
    calls = [make_call() for _ in range(clients)]
    for call in calls:
        call()
    counts = [0] * clients
    stop = threading.Event()
    barrier = threading.Barrier(clients + 1)

    def worker(i):
        call = calls[i]
        barrier.wait()
        while not stop.is_set():
            call()
            counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the server")
    args = parser.parse_args()

    import grpc
    import numpy as np
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from jupyter_workbench.export import export_savedmodel
    from jupyter_workbench.serving import start_server

    work = tempfile.mkdtemp(prefix="bench-serving-")
    base = os.path.join(work, "mnist")
    result = export_savedmodel(
        make_model(), base, inputs="image", outputs="scores", progress=False, warmup=5
    )
    server = start_server(base, python=args.python, poll=30)
    try:
        fn = tf.saved_model.load(result.path).signatures["serving_default"]
        row = np.random.default_rng(0).standard_normal((1, 784)).astype("float32")

        def direct():
            return fn(image=tf.constant(row))["scores"].numpy()

        body = json.dumps({"instances": row.tolist()})
        path = f"/v1/models/{server.model_name}:predict"

        def make_rest():
            conn = http.client.HTTPConnection(server.host, server.rest_port)

            def call():
                conn.request("POST", path, body, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200:
                    raise RuntimeError(data)
                return json.loads(data)

            return call

        request = predict_pb2.PredictRequest()
        request.model_spec.name = server.model_name
        request.inputs["image"].CopyFrom(tf.make_tensor_proto(row))
        channel = grpc.insecure_channel(server.grpc_address)

        def make_grpc():
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def call():
                return tf.make_ndarray(stub.Predict(request, 30.0).outputs["scores"])

            return call

        # the same answer three ways
        want = direct()
        np.testing.assert_allclose(make_rest()()["predictions"], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(make_grpc()(), want, rtol=1e-5, atol=1e-5)

        n = args.requests
        lat = {
            "direct": latencies(direct, n),
            "REST": latencies(make_rest(), n),
            "gRPC": latencies(make_grpc(), n),
        }
        tput = {
            "direct": throughput(lambda: direct, args.clients, args.seconds),
            "REST": throughput(make_rest, args.clients, args.seconds),
            "gRPC": throughput(make_grpc, args.clients, args.seconds),
        }
    finally:
        server.stop()

    ms = {k: (percentile(v, 50) * 1e3, percentile(v, 99) * 1e3) for k, v in lat.items()}
    print(
        f"model 784 -> 256 -> 10 (float32), single-row requests, {n} per client kind, "
        f"{os.cpu_count()} cores"
    )
    for kind, (p50, p99) in ms.items():
        print(f"  {kind:6} latency p50 {p50:7.3f} ms  p99 {p99:7.3f} ms")
    d50 = ms["direct"][0]
    goals = {"REST": (2, 2), "gRPC": (1.5, 1)}
    for kind, (times, plus) in goals.items():
        goal = times * d50 + plus
        verdict = "OK" if ms[kind][0] <= goal else "MISSED"
        print(
            f"  {kind} p50 / direct p50 = {ms[kind][0] / d50:.2f}  (goal: {kind} p50 <= "
            f"{times}x direct + {plus} ms = {goal:.3f} ms: {verdict})"
        )
    print(f"throughput with {args.clients} concurrent clients ({args.seconds:.0f} s each)")
    for kind, value in tput.items():
        print(f"  {kind:6} {value:8.0f} requests/s")
    for kind in ("REST", "gRPC"):
        ratio = tput[kind] / tput["direct"]
        print(
            f"  {kind} / direct = {ratio:.2f}  (goal >= 0.7: {'OK' if ratio >= 0.7 else 'MISSED'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
