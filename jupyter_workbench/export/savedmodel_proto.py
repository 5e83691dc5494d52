"""Read what ``inspect_savedmodel`` shows from a ``saved_model.pb`` without TensorFlow.

TensorFlow's generated protocol-buffer classes come with ``import tensorflow`` (seconds of CPU
and hundreds of MB), so ``jupyter workbench inspect``, the REST inspect and the magic's
``show`` would pay a TensorFlow start just to list signatures. This module decodes the
protocol-buffer wire format itself, for the few fields it needs (field numbers from
``tensorflow/core/protobuf/saved_model.proto``, ``meta_graph.proto`` and
``tensorflow/core/framework/{graph,node_def,attr_value,function,tensor_shape,types}.proto``);
every other field is skipped unread. The text it feeds is checked against ``saved_model_cli``
by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# types.proto's DataType: (enum name, tf.dtypes name); 100 + n is the reference type of n.
_DTYPES = {
    1: ("DT_FLOAT", "float32"), 2: ("DT_DOUBLE", "float64"), 3: ("DT_INT32", "int32"),
    4: ("DT_UINT8", "uint8"), 5: ("DT_INT16", "int16"), 6: ("DT_INT8", "int8"),
    7: ("DT_STRING", "string"), 8: ("DT_COMPLEX64", "complex64"), 9: ("DT_INT64", "int64"),
    10: ("DT_BOOL", "bool"), 11: ("DT_QINT8", "qint8"), 12: ("DT_QUINT8", "quint8"),
    13: ("DT_QINT32", "qint32"), 14: ("DT_BFLOAT16", "bfloat16"), 15: ("DT_QINT16", "qint16"),
    16: ("DT_QUINT16", "quint16"), 17: ("DT_UINT16", "uint16"),
    18: ("DT_COMPLEX128", "complex128"), 19: ("DT_HALF", "float16"),
    20: ("DT_RESOURCE", "resource"), 21: ("DT_VARIANT", "variant"), 22: ("DT_UINT32", "uint32"),
    23: ("DT_UINT64", "uint64"), 24: ("DT_FLOAT8_E5M2", "float8_e5m2"),
    25: ("DT_FLOAT8_E4M3FN", "float8_e4m3fn"), 26: ("DT_FLOAT8_E4M3FNUZ", "float8_e4m3fnuz"),
    27: ("DT_FLOAT8_E4M3B11FNUZ", "float8_e4m3b11fnuz"),
    28: ("DT_FLOAT8_E5M2FNUZ", "float8_e5m2fnuz"), 29: ("DT_INT4", "int4"),
    30: ("DT_UINT4", "uint4"), 31: ("DT_INT2", "int2"), 32: ("DT_UINT2", "uint2"),
    33: ("DT_FLOAT4_E2M1FN", "float4_e2m1fn"),
}  # fmt: skip


def dtype_enum_name(enum: int) -> str:
    """``DT_FLOAT`` for 1, as ``saved_model_cli`` prints it (the number if unknown)."""
    if enum == 0:
        return "DT_INVALID"
    base = _DTYPES.get(enum % 100 if enum > 100 else enum)
    if base is None or enum == 100:
        return str(enum)
    return base[0] + ("_REF" if enum > 100 else "")


def dtype_name(enum: int) -> str:
    """``float32`` for 1, as ``tf.dtypes.as_dtype(enum).name`` (``dtype(N)`` if unknown)."""
    base = _DTYPES.get(enum % 100 if enum > 100 else enum)
    if base is None or enum in (0, 100):
        return f"dtype({enum})"
    return base[1] + ("_ref" if enum > 100 else "")


class DecodeError(ValueError):
    """The bytes are not a well-formed protocol buffer."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _fields(buf: memoryview):
    """(field number, value) of each field: an int for varints, a memoryview for
    length-delimited fields; fixed-size fields are skipped."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > end:
                raise DecodeError("truncated field")
            yield number, buf[pos : pos + size]
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
    if pos != end:
        raise DecodeError("truncated message")


def _text(value) -> str:
    return bytes(value).decode("utf-8")


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _map_entry(buf: memoryview) -> tuple[str, memoryview]:
    key, value = "", memoryview(b"")
    for number, v in _fields(buf):
        if number == 1:
            key = _text(v)
        elif number == 2:
            value = v
    return key, value


@dataclass
class Dim:
    size: int = 0


@dataclass
class TensorShape:
    dim: list[Dim] = field(default_factory=list)
    unknown_rank: bool = False


@dataclass
class TensorInfo:
    name: str = ""
    dtype: int = 0
    tensor_shape: TensorShape = field(default_factory=TensorShape)


@dataclass
class Signature:
    inputs: dict[str, TensorInfo] = field(default_factory=dict)
    outputs: dict[str, TensorInfo] = field(default_factory=dict)
    method_name: str = ""


@dataclass
class MetaInfo:
    tags: list[str] = field(default_factory=list)


@dataclass
class MetaGraph:
    meta_info_def: MetaInfo = field(default_factory=MetaInfo)
    signature_def: dict[str, Signature] = field(default_factory=dict)
    graph_def: memoryview = field(default_factory=lambda: memoryview(b""))


@dataclass
class SavedModel:
    meta_graphs: list[MetaGraph] = field(default_factory=list)


def _by_number(buf) -> dict[int, list]:
    """Each field number's values in order (a singular field's last one wins)."""
    found: dict[int, list] = {}
    for number, value in _fields(buf):
        found.setdefault(number, []).append(value)
    return found


def _last(found: dict, number: int, default=None):
    values = found.get(number)
    return values[-1] if values else default


def _string(found: dict, number: int) -> str:
    return _text(_last(found, number, b""))


def _shape(buf) -> TensorShape:
    found = _by_number(buf)
    dims = [Dim(_int64(_last(_by_number(d), 1, 0))) for d in found.get(2, [])]
    return TensorShape(dims, bool(_last(found, 3, 0)))


def _tensor_info(buf) -> TensorInfo:
    found = _by_number(buf)
    return TensorInfo(_string(found, 1), _last(found, 2, 0), _shape(_last(found, 3, b"")))


def _tensor_map(entries) -> dict[str, TensorInfo]:
    return {key: _tensor_info(value) for key, value in map(_map_entry, entries)}


def _signature(buf) -> Signature:
    found = _by_number(buf)
    return Signature(
        _tensor_map(found.get(1, [])), _tensor_map(found.get(2, [])), _string(found, 3)
    )


def _meta_graph(buf) -> MetaGraph:
    found = _by_number(buf)
    tags = [_text(t) for t in _by_number(_last(found, 1, b"")).get(4, [])]
    signatures = {key: _signature(value) for key, value in map(_map_entry, found.get(5, []))}
    return MetaGraph(MetaInfo(tags), signatures, _last(found, 2, memoryview(b"")))


def parse(data: bytes) -> SavedModel:
    """The meta graphs of a binary ``saved_model.pb`` (tags, signatures, the raw graph)."""
    return SavedModel([_meta_graph(v) for v in _by_number(memoryview(data)).get(2, [])])


def _node_ops(buf) -> tuple[str, str]:
    """(op, the function a PartitionedCall's ``f`` attribute calls, else "") of a NodeDef."""
    found = _by_number(buf)
    op, called = _string(found, 2), ""
    if op in ("PartitionedCall", "StatefulPartitionedCall"):
        attrs = dict(map(_map_entry, found.get(5, [])))
        func = _last(_by_number(attrs.get("f", b"")), 10, b"")
        called = _string(_by_number(func), 1)
    return op, called


def ops_used_by_graph_def(graph_def) -> list[str]:
    """The ops a GraphDef uses, its functions' included, as
    ``tensorflow.python.framework.meta_graph.ops_used_by_graph_def`` lists them."""
    graph = _by_number(graph_def)
    functions = {}
    for fn in _by_number(_last(graph, 2, b"")).get(1, []):
        parts = _by_number(fn)
        functions[_string(_by_number(_last(parts, 1, b"")), 1)] = parts.get(3, [])
    used: set[str] = set()
    pending: list[list] = []

    def mark(op: str) -> None:
        if op not in used and op in functions:
            pending.append(functions[op])
        used.add(op)

    def process(node) -> None:
        op, called = _node_ops(node)
        mark(op)
        if called:
            mark(called)

    for node in graph.get(1, []):
        process(node)
    while pending:
        for node in pending.pop():
            process(node)
    return [op for op in used if op not in functions]
