"""The OSS emulator's store under its former module path (now :mod:`.oss.store` and
:mod:`.oss.records`), kept for the imports that name it."""

from .oss.records import (
    CHUNK,
    BucketState,
    ObjectRecord,
    OSSServiceError,
    SortedKeys,
    crc64,
    crc64_python,
)
from .oss.store import ObjectStore

__all__ = [
    "CHUNK",
    "BucketState",
    "ObjectRecord",
    "OSSServiceError",
    "ObjectStore",
    "SortedKeys",
    "crc64",
    "crc64_python",
]
