"""The gRPC front end: ``tensorflow.serving.PredictionService`` and ``ModelService`` over
HTTP/2, on the REST front end's event loop, so the official ``tensorflow-serving-api`` client
works unchanged.

gRPC is HTTP/2 (RFC 9113) with header compression (HPACK, RFC 7541; decoded with the
``hpack`` package) carrying length-prefixed protobuf messages, the status in trailers
(``grpc-status``, ``grpc-message``). This module speaks that protocol itself instead of
running grpcio's server: grpcio's Python server spends several thread hand-offs and its own
bookkeeping under the GIL on every call, more than a small model costs, and its asyncio server
more still. Here the loop thread reads frames, parses ``PredictRequest`` (protobuf's C parser)
and hands Predicts to the same per-iteration batch as REST's (:meth:`rest.RestServer.predict`,
one TensorFlow call for the concurrent requests of both front ends); the other methods run on
the worker pool. Messages are protobuf's own (``predict_pb2`` ...), so they are what grpcio would
send. Not supported (answered, not dropped): compressed messages (``UNIMPLEMENTED``, as a
server without that codec does), server push (never offered), TLS (like TF Serving's default
insecure port).
"""

from __future__ import annotations

import logging
import socket
import sys

from .errors import ServingError
from .rest import listen, no_delay
from .status import RequestError

log = logging.getLogger("jupyter_workbench.serving")

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_MESSAGE = 256 << 20  # as grpcio was configured: 256 MB each way
MAX_HEADER_BLOCK = 64 << 10
WINDOW = (1 << 31) - 1  # what this side lets a peer send unasked (per stream and in total)
MAX_STREAMS = 1000

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE = range(9)
CONTINUATION = 9
END_STREAM = ACK = 0x1
END_HEADERS, PADDED, PRIORITY_FLAG = 0x4, 0x8, 0x20
# error codes (RFC 9113 7)
NO_ERROR, PROTOCOL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x3
FRAME_SIZE_ERROR, REFUSED_STREAM, COMPRESSION_ERROR = 0x6, 0x7, 0x9

# grpc status codes
UNKNOWN, INVALID_ARGUMENT, NOT_FOUND, RESOURCE_EXHAUSTED = 2, 3, 5, 8
UNIMPLEMENTED, INTERNAL = 12, 13
_CODES = {
    "INVALID_ARGUMENT": INVALID_ARGUMENT,
    "FAILED_PRECONDITION": 9,
    "NOT_FOUND": NOT_FOUND,
    "UNAVAILABLE": 14,
    "UNIMPLEMENTED": UNIMPLEMENTED,
}

_PREDICTION = "/tensorflow.serving.PredictionService/"
_MODEL = "/tensorflow.serving.ModelService/"


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return b"".join(
        (len(payload).to_bytes(3, "big"), bytes((kind, flags)), stream.to_bytes(4, "big"), payload)
    )


def _int(value: int, prefix: int, first: int = 0) -> bytes:
    """An HPACK integer with an ``prefix``-bit prefix (RFC 7541 5.1)."""
    top = (1 << prefix) - 1
    if value < top:
        return bytes((first | value,))
    out = bytearray((first | top,))
    value -= top
    while value >= 128:
        out.append((value & 127) | 128)
        value >>= 7
    out.append(value)
    return bytes(out)


def _literal(name: bytes, value: bytes) -> bytes:
    """A header as "literal without indexing, new name", no Huffman (RFC 7541 6.2.2)."""
    return b"\x00" + _int(len(name), 7) + name + _int(len(value), 7) + value


def _percent(message: str) -> bytes:
    """``grpc-message``'s percent-encoding (gRPC's PROTOCOL-HTTP2: printable ASCII but '%')."""
    raw = message.encode("utf-8", "replace")
    return b"".join(bytes((b,)) if 0x20 <= b <= 0x7E and b != 0x25 else b"%%%02X" % b for b in raw)


_STATUS_200 = b"\x88"  # ":status: 200", static table entry 8
_GRPC_TYPE = _literal(b"content-type", b"application/grpc")
_RESPONSE_HEAD = _STATUS_200 + _GRPC_TYPE
_TRAILER_OK = _literal(b"grpc-status", b"0")
_SETTINGS = b"".join(
    key.to_bytes(2, "big") + value.to_bytes(4, "big")
    for key, value in (
        (0x3, MAX_STREAMS),  # SETTINGS_MAX_CONCURRENT_STREAMS
        (0x4, WINDOW),  # SETTINGS_INITIAL_WINDOW_SIZE
        (0x6, MAX_HEADER_BLOCK),  # SETTINGS_MAX_HEADER_LIST_SIZE
    )
)


class _ConnectionError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


class _Stream:
    __slots__ = ("id", "headers", "body", "send_window", "out", "closed", "unacked")

    def __init__(self, stream_id: int, headers: dict, send_window: int):
        self.id = stream_id
        self.headers = headers
        self.body = bytearray()
        self.send_window = send_window
        self.out: list | None = None  # the response's data still to send (once answered)
        self.closed = False  # reset by the peer or answered: nothing more is sent
        self.unacked = 0  # received DATA bytes not yet given back in a WINDOW_UPDATE


class _Connection:
    """One HTTP/2 connection (an asyncio protocol): frames in, calls out, answers in any order."""

    def __init__(self, server: GrpcServer):
        import hpack

        self.server = server
        self.front = server.front
        self.decoder = hpack.Decoder(max_header_list_size=MAX_HEADER_BLOCK)
        self.hpack_error = hpack.HPACKError
        self.transport = None
        self.buf = bytearray()
        self.preface = False
        self.streams: dict[int, _Stream] = {}
        self.last_stream = 0
        self.block: tuple | None = None  # (stream, flags, fragments) of a header block in parts
        self.send_window = 65535  # the peer's connection window (RFC 9113 6.9.2)
        self.peer_initial = 65535
        self.peer_frame = 16384
        self.unacked = 0
        self.goaway = False

    # ------------------------------------------------------------------ asyncio protocol

    def connection_made(self, transport):
        self.transport = transport
        self.server.connections.add(self)
        no_delay(transport)
        transport.write(
            _frame(SETTINGS, 0, 0, _SETTINGS)
            + _frame(WINDOW_UPDATE, 0, 0, (WINDOW - 65535).to_bytes(4, "big"))
        )

    def connection_lost(self, exc):
        self.server.connections.discard(self)
        for stream in self.streams.values():
            stream.closed = True
        self.streams.clear()

    def eof_received(self):
        return False

    def pause_writing(self):
        pass

    def resume_writing(self):
        pass

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        pos = 0
        try:
            if not self.preface:
                if len(buf) < len(PREFACE):
                    if not PREFACE.startswith(bytes(buf)):
                        raise _ConnectionError(PROTOCOL_ERROR, "not an HTTP/2 connection")
                    return
                if buf[: len(PREFACE)] != PREFACE:
                    raise _ConnectionError(PROTOCOL_ERROR, "not an HTTP/2 connection")
                self.preface = True
                pos = len(PREFACE)
            end = len(buf)
            while end - pos >= 9:
                length = int.from_bytes(buf[pos : pos + 3], "big")
                if length > 16384:  # SETTINGS_MAX_FRAME_SIZE: this side keeps the default
                    raise _ConnectionError(FRAME_SIZE_ERROR, "frame larger than 16384 bytes")
                if end - pos < 9 + length:
                    break
                kind, flags = buf[pos + 3], buf[pos + 4]
                stream = int.from_bytes(buf[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                payload = bytes(buf[pos + 9 : pos + 9 + length])
                pos += 9 + length
                self._frame_received(kind, flags, stream, payload)
                if self.transport.is_closing():
                    return
        except _ConnectionError as err:
            self._close(err.code, str(err))
            return
        finally:
            del buf[:pos]

    # ------------------------------------------------------------------ frames

    def _frame_received(self, kind: int, flags: int, stream_id: int, payload: bytes) -> None:
        if self.block is not None and kind != CONTINUATION:
            raise _ConnectionError(PROTOCOL_ERROR, "expected a CONTINUATION frame")
        if kind == DATA:
            self._data(flags, stream_id, payload)
        elif kind == HEADERS:
            if not stream_id:
                raise _ConnectionError(PROTOCOL_ERROR, "HEADERS on stream 0")
            payload = _unpad(flags, payload)
            if flags & PRIORITY_FLAG:
                payload = payload[5:]
            if flags & END_HEADERS:
                self._headers(stream_id, flags, payload)
            else:
                self.block = (stream_id, flags, [payload])
        elif kind == CONTINUATION:
            if self.block is None or self.block[0] != stream_id:
                raise _ConnectionError(PROTOCOL_ERROR, "unexpected CONTINUATION frame")
            self.block[2].append(payload)
            if sum(map(len, self.block[2])) > MAX_HEADER_BLOCK:
                raise _ConnectionError(PROTOCOL_ERROR, "header block too large")
            if flags & END_HEADERS:
                stream_id, first, parts = self.block
                self.block = None
                self._headers(stream_id, first, b"".join(parts))
        elif kind == SETTINGS:
            if stream_id:
                raise _ConnectionError(PROTOCOL_ERROR, "SETTINGS on a stream")
            if not flags & ACK:
                self._settings(payload)
        elif kind == PING:
            if len(payload) != 8:
                raise _ConnectionError(FRAME_SIZE_ERROR, "PING payload is not 8 bytes")
            if not flags & ACK:
                self.transport.write(_frame(PING, ACK, 0, payload))
        elif kind == WINDOW_UPDATE:
            if len(payload) != 4:
                raise _ConnectionError(FRAME_SIZE_ERROR, "WINDOW_UPDATE is not 4 bytes")
            increment = int.from_bytes(payload, "big") & 0x7FFFFFFF
            if stream_id == 0:
                self.send_window += increment
                if self.send_window > WINDOW:
                    raise _ConnectionError(FLOW_CONTROL_ERROR, "window over 2^31-1")
                self._flush_all()
            else:
                stream = self.streams.get(stream_id)
                if stream is not None:
                    stream.send_window += increment
                    self._flush(stream)
        elif kind == RST_STREAM:
            stream = self.streams.pop(stream_id, None)
            if stream is not None:
                stream.closed = True
        elif kind == GOAWAY:
            self.goaway = True
            if not self.streams:
                self.transport.close()
        elif kind == PUSH_PROMISE:
            raise _ConnectionError(PROTOCOL_ERROR, "a client cannot push")
        # PRIORITY and unknown frame types are ignored (RFC 9113 5.5)

    def _settings(self, payload: bytes) -> None:
        if len(payload) % 6:
            raise _ConnectionError(FRAME_SIZE_ERROR, "SETTINGS length is not a multiple of 6")
        for at in range(0, len(payload), 6):
            key = int.from_bytes(payload[at : at + 2], "big")
            value = int.from_bytes(payload[at + 2 : at + 6], "big")
            if key == 0x4:  # INITIAL_WINDOW_SIZE: applies to the open streams too
                if value > WINDOW:
                    raise _ConnectionError(FLOW_CONTROL_ERROR, "initial window over 2^31-1")
                delta, self.peer_initial = value - self.peer_initial, value
                for stream in self.streams.values():
                    stream.send_window += delta
            elif key == 0x5:  # MAX_FRAME_SIZE
                if not 16384 <= value <= (1 << 24) - 1:
                    raise _ConnectionError(PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE")
                self.peer_frame = value
        self.transport.write(_frame(SETTINGS, ACK, 0))
        self._flush_all()

    def _headers(self, stream_id: int, flags: int, block: bytes) -> None:
        try:
            headers = dict(self.decoder.decode(block, raw=True))
        except self.hpack_error as err:
            raise _ConnectionError(COMPRESSION_ERROR, f"bad header block: {err}") from None
        stream = self.streams.get(stream_id)
        if stream is not None:  # trailers of a request: they end it
            if not flags & END_STREAM:
                raise _ConnectionError(PROTOCOL_ERROR, "trailers without END_STREAM")
            self._call(stream)
            return
        if stream_id % 2 == 0 or stream_id <= self.last_stream:
            if stream_id <= self.last_stream:
                return  # a stream already answered or reset: its late frames are dropped
            raise _ConnectionError(PROTOCOL_ERROR, f"bad stream id {stream_id}")
        self.last_stream = stream_id
        if len(self.streams) >= MAX_STREAMS or self.goaway:
            self.transport.write(
                _frame(RST_STREAM, 0, stream_id, REFUSED_STREAM.to_bytes(4, "big"))
            )
            return
        stream = _Stream(stream_id, headers, self.peer_initial)
        self.streams[stream_id] = stream
        if flags & END_STREAM:
            self._call(stream)

    def _data(self, flags: int, stream_id: int, payload: bytes) -> None:
        if not stream_id:
            raise _ConnectionError(PROTOCOL_ERROR, "DATA on stream 0")
        self.unacked += len(payload)
        updates = []
        if self.unacked >= 1 << 20:
            updates.append(_frame(WINDOW_UPDATE, 0, 0, self.unacked.to_bytes(4, "big")))
            self.unacked = 0
        stream = self.streams.get(stream_id)
        if stream is not None and not stream.closed:
            stream.unacked += len(payload)
            data = _unpad(flags, payload)
            if len(stream.body) + len(data) > MAX_MESSAGE + 5:
                self._reply(
                    stream, RESOURCE_EXHAUSTED, f"the request is over {MAX_MESSAGE >> 20} MB"
                )
                self._reset(stream)
            else:
                stream.body += data
                if flags & END_STREAM:
                    self._call(stream)
                elif stream.unacked >= 1 << 15:
                    # the stream's window: only a peer that sends before it reads our
                    # SETTINGS needs this (it then counts on the default 65,535)
                    updates.append(
                        _frame(WINDOW_UPDATE, 0, stream_id, stream.unacked.to_bytes(4, "big"))
                    )
                    stream.unacked = 0
        if updates:
            self.transport.write(b"".join(updates))

    # ------------------------------------------------------------------ calls

    def _call(self, stream: _Stream) -> None:
        headers = stream.headers
        path = headers.get(b":path", b"").decode("latin-1")
        if headers.get(b":method") != b"POST":
            self._reply(stream, UNIMPLEMENTED, "gRPC calls are POST requests", http=405)
            return
        if not headers.get(b"content-type", b"").startswith(b"application/grpc"):
            self._reply(stream, UNKNOWN, "content-type is not application/grpc", http=415)
            return
        body = stream.body
        if len(body) < 5 or int.from_bytes(body[1:5], "big") != len(body) - 5:
            self._reply(stream, INTERNAL, "a unary call carries exactly one message")
            return
        if body[0]:
            self._reply(stream, UNIMPLEMENTED, "compressed messages are not supported")
            return
        message = bytes(body[5:])
        stream.body = bytearray()
        handler = self.server.handlers.get(path)
        if handler is None:
            self._reply(stream, UNIMPLEMENTED, f"Method not found: {path}")
            return
        parse, run, batched = handler
        try:
            request = parse(message)
        except Exception as err:
            self._reply(stream, INVALID_ARGUMENT, f"cannot parse the request: {err}")
            return
        if batched:
            try:
                prepared = run(request)
            except Exception as err:
                self._answer(stream, err)
                return
            self.front.predict(prepared, lambda result: self._answer(stream, result))
        else:
            self.front.run(lambda: run(request), lambda result: self._answer(stream, result))

    def _answer(self, stream: _Stream, result) -> None:
        if stream.closed:
            return
        if isinstance(result, RequestError):
            self._reply(stream, _CODES.get(result.code, UNKNOWN), str(result))
        elif isinstance(result, (ValueError, TypeError, OverflowError)):
            self._reply(stream, INVALID_ARGUMENT, str(result))
        elif isinstance(result, Exception):
            log.error("gRPC call failed: %s: %s", type(result).__name__, result)
            self._reply(stream, INTERNAL, f"{type(result).__name__}: {result}")
        else:
            try:
                payload = result.SerializeToString()
            except Exception as err:
                self._reply(stream, INTERNAL, f"cannot write the response: {err}")
                return
            if len(payload) > MAX_MESSAGE:
                self._reply(
                    stream, RESOURCE_EXHAUSTED, f"the response is over {MAX_MESSAGE >> 20} MB"
                )
                return
            self._send(stream, b"\x00" + len(payload).to_bytes(4, "big") + payload)

    def _reply(self, stream: _Stream, code: int, message: str, http: int = 200) -> None:
        """A trailers-only answer: the status and nothing else (gRPC's error form)."""
        if stream.closed:
            return
        head = _STATUS_200 if http == 200 else b"\x08" + _int(3, 7) + str(http).encode()
        block = (
            head
            + _GRPC_TYPE
            + _literal(b"grpc-status", str(code).encode())
            + _literal(b"grpc-message", _percent(message[:4000]))
        )
        self.transport.write(_frame(HEADERS, END_HEADERS | END_STREAM, stream.id, block))
        self._finish(stream)

    def _send(self, stream: _Stream, data: bytes) -> None:
        """The response: headers, the message (as flow control allows), trailers."""
        stream.out = [memoryview(data)]
        head = _frame(HEADERS, END_HEADERS, stream.id, _RESPONSE_HEAD)
        self._flush(stream, head)

    def _flush(self, stream: _Stream, head: bytes = b"") -> None:
        if stream.out is None or stream.closed:
            return  # not answered yet, or done
        parts = [head] if head else []
        while stream.out:
            data = stream.out[0]
            room = min(self.send_window, stream.send_window, self.peer_frame)
            if room <= 0 and len(data):
                break
            chunk = data[:room]
            parts.append(_frame(DATA, 0, stream.id, bytes(chunk)))
            self.send_window -= len(chunk)
            stream.send_window -= len(chunk)
            if len(chunk) == len(data):
                stream.out.pop(0)
            else:
                stream.out[0] = data[len(chunk) :]
        done = not stream.out
        if done:
            parts.append(_frame(HEADERS, END_HEADERS | END_STREAM, stream.id, _TRAILER_OK))
        if parts:
            self.transport.write(b"".join(parts))
        if done:
            self._finish(stream)  # after the write: after a GOAWAY it closes the connection

    def _flush_all(self) -> None:
        for stream in list(self.streams.values()):
            self._flush(stream)

    def _finish(self, stream: _Stream) -> None:
        stream.closed = True
        stream.out = None
        self.streams.pop(stream.id, None)
        if self.goaway and not self.streams:
            self.transport.close()

    def _reset(self, stream: _Stream) -> None:
        if not self.transport.is_closing():
            self.transport.write(_frame(RST_STREAM, 0, stream.id, NO_ERROR.to_bytes(4, "big")))

    def _close(self, code: int, message: str) -> None:
        log.info("gRPC connection closed: %s", message)
        self.transport.write(
            _frame(
                GOAWAY,
                0,
                0,
                self.last_stream.to_bytes(4, "big") + code.to_bytes(4, "big") + message.encode(),
            )
        )
        self.transport.close()

    def shutdown(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(
                _frame(GOAWAY, 0, 0, self.last_stream.to_bytes(4, "big") + b"\0\0\0\0")
            )
            self.transport.close()


def _unpad(flags: int, payload: bytes) -> bytes:
    if not flags & PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise _ConnectionError(PROTOCOL_ERROR, "bad padding")
    return payload[1 : len(payload) - payload[0]]


class GrpcServer:
    """The listening socket; served on the REST front end's loop once attached."""

    def __init__(self, sock: socket.socket):
        self.socket = sock
        self.front = None
        self.handlers: dict = {}
        self.connections: set[_Connection] = set()

    def factory(self) -> _Connection:
        return _Connection(self)

    def stop(self) -> None:
        """Say GOAWAY to the connections and close them (on the loop, if it runs)."""
        loop = getattr(self.front, "loop", None)
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(lambda: [c.shutdown() for c in list(self.connections)])
            except RuntimeError:  # the loop closed meanwhile
                pass

    def server_close(self) -> None:
        """Close the listening socket (after the loop stopped serving it)."""
        self.socket.close()


def check_requirements() -> None:
    """:class:`ServingError` naming the fix if this interpreter lacks ``hpack``."""
    try:
        import hpack  # noqa: F401
    except ImportError:
        raise ServingError(
            f"{sys.executable} lacks the hpack package (HTTP/2 header decoding of the gRPC front "
            f"end): run '{sys.executable} -m pip install hpack', or 'jupyter workbench env "
            "create tf2' to update the tf2 environment."
        ) from None


def bind(host: str, port: int):
    """A gRPC server bound to ``host:port`` (not serving yet); ``OSError`` if the port is
    taken."""
    try:
        sock = listen(host, port)
    except OSError as err:
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise OSError(f"cannot bind {address}: {err.strerror or err}") from None
    return GrpcServer(sock), sock.getsockname()[1]


def attach(server: GrpcServer, core, front) -> None:
    """Serve ``core``'s gRPC methods on ``front``'s loop (a :class:`rest.RestServer`)."""
    from tensorflow_serving.apis import (
        classification_pb2,
        get_model_metadata_pb2,
        get_model_status_pb2,
        predict_pb2,
        regression_pb2,
    )

    server.front = front
    server.handlers = {
        # path: (request parser, what runs it, whether it joins the predict batch)
        _PREDICTION + "Predict": (
            predict_pb2.PredictRequest.FromString,
            core.grpc_predict_prepare,
            True,
        ),
        _PREDICTION + "Classify": (
            classification_pb2.ClassificationRequest.FromString,
            core.grpc_classify,
            False,
        ),
        _PREDICTION + "Regress": (
            regression_pb2.RegressionRequest.FromString,
            core.grpc_regress,
            False,
        ),
        _PREDICTION + "GetModelMetadata": (
            get_model_metadata_pb2.GetModelMetadataRequest.FromString,
            core.grpc_metadata,
            False,
        ),
        _MODEL + "GetModelStatus": (
            get_model_status_pb2.GetModelStatusRequest.FromString,
            core.grpc_status,
            False,
        ),
    }
    front.add_listener(server.socket, server.factory)
