"""``TensorProto`` <-> numpy for the gRPC front end without ``tf.make_ndarray`` /
``tf.make_tensor_proto`` for plain numeric tensors (those two cost more than a small model's
call); anything else (strings, half-precision fields, value lists) goes through TensorFlow's."""

from __future__ import annotations

import numpy as np

# tensorflow/core/framework/types.proto DataType values of the fixed-width numeric types
_DTYPES = {
    1: np.float32,  # DT_FLOAT
    2: np.float64,  # DT_DOUBLE
    3: np.int32,
    4: np.uint8,
    5: np.int16,
    6: np.int8,
    9: np.int64,
    10: np.bool_,
    17: np.uint16,
    22: np.uint32,
    23: np.uint64,
}
_ENUMS = {np.dtype(v): k for k, v in _DTYPES.items()}


def to_ndarray(proto) -> np.ndarray:
    """The array a ``TensorProto`` holds (``ValueError``/``TypeError`` if it is malformed)."""
    dtype = _DTYPES.get(proto.dtype)
    if dtype is not None and proto.tensor_content:
        shape = [d.size for d in proto.tensor_shape.dim]
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    import tensorflow as tf

    return tf.make_ndarray(proto)


def fill(proto, array: np.ndarray) -> None:
    """Write ``array`` into the (empty) ``TensorProto`` ``proto``, as
    ``tf.make_tensor_proto`` would (``tensor_content`` for numeric tensors)."""
    enum = _ENUMS.get(array.dtype)
    if enum is None or not array.dtype.isnative:
        import tensorflow as tf

        proto.CopyFrom(tf.make_tensor_proto(array))
        return
    proto.dtype = enum
    dims = proto.tensor_shape.dim
    for n in array.shape:
        dims.add().size = n
    proto.tensor_content = np.ascontiguousarray(array).tobytes()
