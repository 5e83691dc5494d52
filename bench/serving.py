"""Benchmark of the model server against a direct call of the loaded signature (not a test).

One run prints, for an MNIST-sized Keras model (784 -> 256 -> 10) served by
``jupyter_workbench.serving`` in its own process:

* single-row latency p50/p99: a direct call of the signature in this process (the same
  SavedModel loaded here), REST ``:predict`` over one kept-alive HTTP connection, gRPC
  ``Predict`` with the official client; goals: REST p50 <= 2x direct + 2 ms, gRPC p50 <=
  1.5x direct + 1 ms;
* throughput with 8 concurrent clients (threads), direct vs REST vs gRPC; goal >= 0.7x direct.
  "direct" is 8 threads calling the loaded signature in this process. The kinds are measured
  in turns, ``--rounds`` times, so each sees the same load of the machine; the spread of the
  ratios over the rounds is printed with their median.

The clients run in this process and share the machine's cores with the server, as a
co-located client would. Requests are single rows of 784 float32 values. Load-generator
clients, as wrk or ghz are, for the goals: REST clients are kept-alive HTTP/1.1 connections on
plain sockets (the stdlib's ``http.client`` spends more per request than the server does);
gRPC clients are HTTP/2 connections on plain sockets, one per client, each sending one call
at a time: the request message serialized once, headers encoded with ``hpack``, the response
read frame by frame and parsed into a ``PredictResponse`` and a numpy array. "gRPC stub" is
the official ``PredictionServiceStub`` (grpcio's client, whose own per-call cost in this
process is about that of the server), printed for reference; the latency rows use it too. The
server runs with its defaults unless ``--server-args`` says otherwise.

    .venv/bin/python bench/serving.py [--requests 400] [--seconds 3] [--rounds 3] [--clients 8]
        [--server-args "--tensorflow-intra-op-parallelism 1"]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import statistics
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
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the server")
    parser.add_argument("--server-args", default="", help="extra options of the serving process")
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
    extra = shlex.split(args.server_args)
    threads = {}
    for kind in ("intra", "inter"):
        flag = f"--tensorflow-{kind}-op-parallelism"
        if flag in extra:
            threads[f"{kind}_op_threads"] = int(extra[extra.index(flag) + 1])
    load_before = os.getloadavg()
    server = start_server(base, python=args.python, poll=30, **threads)
    try:
        fn = tf.saved_model.load(result.path).signatures["serving_default"]
        row = np.random.default_rng(0).standard_normal((1, 784)).astype("float32")

        def direct():
            return fn(image=tf.constant(row))["scores"].numpy()

        body = json.dumps({"instances": row.tolist()})
        path = f"/v1/models/{server.model_name}:predict"

        payload = body.encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {server.host}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode()

        def make_rest():
            sock = socket.create_connection((server.host, server.rest_port))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = bytearray()
            message = head + payload

            def call():
                sock.sendall(message)
                while (end := buf.find(b"\r\n\r\n")) < 0:
                    buf.extend(sock.recv(1 << 16) or _closed())
                headers = bytes(buf[:end]).lower()
                at = headers.index(b"content-length:") + 15
                n = int(headers[at:].split(b"\r\n", 1)[0])
                del buf[: end + 4]
                while len(buf) < n:
                    buf.extend(sock.recv(1 << 16) or _closed())
                data = bytes(buf[:n])
                del buf[:n]
                if not headers.startswith(b"http/1.1 200"):
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

        message = request.SerializeToString()

        def make_grpc_raw():
            return _h2_client(server.host, server.grpc_port, server.model_name, message)

        # the same answer four ways
        want = direct()
        np.testing.assert_allclose(make_rest()()["predictions"], want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(make_grpc()(), want, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(make_grpc_raw()(), want, rtol=1e-5, atol=1e-5)

        n = args.requests
        lat = {
            "direct": latencies(direct, n),
            "REST": latencies(make_rest(), n),
            "gRPC": latencies(make_grpc(), n),
        }
        makers = {
            "direct": lambda: direct,
            "REST": make_rest,
            "gRPC": make_grpc_raw,
            "gRPC stub": make_grpc,
        }
        rounds = [
            {kind: throughput(make, args.clients, args.seconds) for kind, make in makers.items()}
            for _ in range(args.rounds)
        ]
    finally:
        server.stop()
        time.sleep(0.2)  # the last log lines (batching counts) come at exit
    batching = [line for line in server.log().splitlines() if "batching" in line]
    load_after = os.getloadavg()

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
    print(
        f"throughput with {args.clients} concurrent clients, {args.rounds} rounds of "
        f"{args.seconds:g} s each (requests/s per round)"
    )
    for kind in makers:
        print(f"  {kind:9} " + "  ".join(f"{r[kind]:6.0f}" for r in rounds))
    for kind in ("REST", "gRPC", "gRPC stub"):
        ratios = sorted(r[kind] / r["direct"] for r in rounds)
        median = statistics.median(ratios)
        goal = (
            "reference: grpcio's client"
            if kind == "gRPC stub"
            else f"goal >= 0.7: {'OK' if median >= 0.7 else 'MISSED'}"
        )
        print(
            f"  {kind} / direct = {median:.2f} median, {ratios[0]:.2f}-{ratios[-1]:.2f} over the "
            f"rounds  ({goal})"
        )
    if batching:
        print("  server: " + batching[-1].split(": ", 1)[-1])
    print(
        f"  load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"{os.cpu_count()} cores"
    )
    return 0


def _closed():
    raise ConnectionError("the server closed the connection")


def _h2_frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return (
        len(payload).to_bytes(3, "big") + bytes((kind, flags)) + stream.to_bytes(4, "big") + payload
    )


def _h2_client(host: str, port: int, model: str, message: bytes):
    """A unary ``Predict`` call over one HTTP/2 connection on a plain socket (RFC 9113, gRPC's
    PROTOCOL-HTTP2): ``call()`` sends the pre-serialized request and returns the ``scores``."""
    import hpack
    import numpy as np
    from tensorflow_serving.apis import predict_pb2

    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    window = (1 << 31) - 1
    sock.sendall(
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        + _h2_frame(4, 0, 0, (4).to_bytes(2, "big") + window.to_bytes(4, "big"))
        + _h2_frame(8, 0, 0, (window - 65535).to_bytes(4, "big"))
    )
    encoder, decoder = hpack.Encoder(), hpack.Decoder()
    path = "/tensorflow.serving.PredictionService/Predict"
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", path),
        (":authority", f"{host}:{port}"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    body = b"\0" + len(message).to_bytes(4, "big") + message
    buf = bytearray()
    state = {"stream": 1, "received": 0}

    def frame():
        while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
            buf.extend(sock.recv(1 << 16) or _closed())
        n = int.from_bytes(buf[:3], "big")
        kind, flags = buf[3], buf[4]
        stream = int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
        payload = bytes(buf[9 : 9 + n])
        del buf[: 9 + n]
        return kind, flags, stream, payload

    def call():
        sid = state["stream"]
        state["stream"] += 2
        sock.sendall(_h2_frame(1, 4, sid, encoder.encode(headers)) + _h2_frame(0, 1, sid, body))
        data = bytearray()
        while True:
            kind, flags, stream, payload = frame()
            if kind == 4 and not flags & 1:  # SETTINGS: acknowledge
                sock.sendall(_h2_frame(4, 1, 0))
            elif kind == 6 and not flags & 1:  # PING
                sock.sendall(_h2_frame(6, 1, 0, payload))
            elif kind == 0 and stream == sid:
                data += payload
                state["received"] += len(payload)
                if state["received"] > 1 << 20:  # give the connection window back
                    sock.sendall(_h2_frame(8, 0, 0, state["received"].to_bytes(4, "big")))
                    state["received"] = 0
            elif kind == 1 and stream == sid:
                fields = dict(decoder.decode(payload, raw=True))
                if flags & 1:  # the trailers
                    if fields.get(b"grpc-status") != b"0":
                        raise RuntimeError(fields)
                    break
            elif kind == 3 and stream == sid:
                raise RuntimeError(f"stream reset: {payload.hex()}")
        response = predict_pb2.PredictResponse.FromString(bytes(data[5:]))
        return np.frombuffer(response.outputs["scores"].tensor_content, np.float32).reshape(1, -1)

    return call


if __name__ == "__main__":
    sys.exit(main())
