"""One page of an OSS ``ListObjects`` over a bucket's sorted key index."""

from __future__ import annotations

from .records import BucketState, ListResult, ObjectRecord, _next_after_prefix


def list_page(
    bucket: BucketState,
    prefix: str = "",
    delimiter: str = "",
    marker: str = "",
    max_keys: int = 100,
) -> ListResult:
    """One page of keys > ``marker`` under ``prefix``, rolled up at ``delimiter``.

    Each run of keys sharing a common prefix is skipped with one bisect, so a page costs
    O(page + log n) whatever the number of keys below the prefix.
    """
    objects: list[ObjectRecord] = []
    prefixes: list[str] = []
    truncated = False
    last = ""
    if marker >= prefix:
        start, inclusive = marker, False
    else:
        start, inclusive = prefix, True
    while True:
        jump = None
        for key in bucket.keys.iter_from(start, inclusive):
            if not key.startswith(prefix):
                break
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx >= 0:
                    cp = key[: idx + len(delimiter)]
                    jump = _next_after_prefix(cp)
                    if cp <= marker:
                        break  # already returned on an earlier page
                    if len(objects) + len(prefixes) >= max_keys:
                        truncated = True
                        jump = None
                        break
                    prefixes.append(cp)
                    last = cp
                    break
            if len(objects) + len(prefixes) >= max_keys:
                truncated = True
                break
            objects.append(bucket.objects[key])
            last = key
        if jump is None:
            break
        start, inclusive = jump, True
    return ListResult(objects, prefixes, truncated, last if truncated else "")
