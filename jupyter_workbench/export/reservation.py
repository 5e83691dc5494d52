"""Version reservations: at most one export ever publishes a given ``<base>/<version>``.

Each model base keeps its reservations in the hidden folder ``<base>/.workbench-versions/``
(TF Serving and version numbering ignore non-integer names). Reserving version ``N`` is the
*exclusive creation* of the marker ``N.<generation>.json``:

- local paths and ``file://``: ``open(..., "x")`` (``O_CREAT | O_EXCL``, atomic on POSIX);
- OSS: ``PutObject`` with ``x-oss-forbid-overwrite: true`` (409 ``FileAlreadyExists``);
- S3 (s3fs): ``PutObject`` with ``If-None-Match: *`` (412; tested against moto's S3 server);
- other fsspec filesystems: ``open(path, "xb")`` where the backend implements it.

Whoever creates the marker owns the number; a loser looks again (the next number for an
automatic version, an error naming the other export for an explicit one). The highest
generation of ``N`` is its current state:

``reserved``   an export is publishing ``N`` now (host, pid, ``renewed`` heartbeat);
``published``  the workbench wrote ``N`` and checked it (``files``: sha256 of every file);
``abandoned``  an export failed after it had touched ``N``.

A crashed export never blocks forever: its reservation is *stale* once its process is gone
(same host) or its heartbeat (renewed every ``LEASE_S / 5`` s while the export runs) is older
than ``LEASE_S``. Automatic versions skip any number with a marker (a crash leaves a gap, as TF
Serving allows); an explicit ``version=N`` takes a stale or abandoned reservation over by
creating generation ``g + 1`` exclusively, so two exports taking over at once still get one
winner. ``overwrite=True`` takes over a ``published`` version the same way; a version
directory without a ``published`` marker (not written by the workbench) is never overwritten.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass

from .errors import ExportError

MARKER_DIR = ".workbench-versions"
LEASE_S = 600.0
_MARKER_RE = re.compile(r"^(\d+)\.(\d+)\.json$")


def _host() -> str:
    return socket.gethostname()


class MarkerStore:
    """The four operations a destination provides on its marker folder (names, not paths)."""

    def create(self, name: str, data: bytes) -> bool:
        """Create ``name`` holding ``data`` unless it exists (atomically); False if it did."""
        raise NotImplementedError

    def write(self, name: str, data: bytes) -> None:
        """Replace ``name`` (only its owner does this)."""
        raise NotImplementedError

    def read(self, name: str) -> bytes | None:
        raise NotImplementedError

    def names(self) -> list[str]:
        raise NotImplementedError

    def remove(self, name: str) -> None:
        raise NotImplementedError


@dataclass
class Marker:
    version: int
    generation: int
    record: dict

    @property
    def name(self) -> str:
        return f"{self.version}.{self.generation}.json"

    @property
    def state(self) -> str:
        return self.record.get("state", "reserved")

    def stale(self, now: float | None = None) -> bool:
        """A reservation whose export is gone (dead process, expired heartbeat)."""
        if self.state == "abandoned":
            return True
        if self.state != "reserved":
            return False
        now = time.time() if now is None else now
        if self.record.get("host") == _host() and isinstance(self.record.get("pid"), int):
            try:
                os.kill(self.record["pid"], 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
        renewed = self.record.get("renewed") or self.record.get("created") or 0
        lease = self.record.get("lease_s") or LEASE_S
        return now - float(renewed) > float(lease)

    def describe(self) -> str:
        r = self.record
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("created") or 0))
        return f"an export (host {r.get('host')}, pid {r.get('pid')}, since {since})"


def _parse(name: str) -> tuple[int, int] | None:
    match = _MARKER_RE.match(name)
    return (int(match.group(1)), int(match.group(2))) if match else None


class Reservations:
    """The reservations of one model base, through its :class:`MarkerStore`."""

    def __init__(self, store: MarkerStore, lease_s: float = LEASE_S):
        self.store = store
        self.lease_s = lease_s

    def reserved_versions(self) -> set[int]:
        found = set()
        for name in self.store.names():
            parsed = _parse(name)
            if parsed:
                found.add(parsed[0])
        return found

    def current(self, version: int) -> Marker | None:
        """The highest generation of ``version``'s marker (re-listed every call)."""
        gens = [p[1] for p in map(_parse, self.store.names()) if p and p[0] == version]
        for gen in sorted(gens, reverse=True):
            data = self.store.read(f"{version}.{gen}.json")
            if data is None:
                continue
            try:
                record = json.loads(data)
            except ValueError:
                record = {"state": "abandoned"}  # a torn write of a crashed owner
            return Marker(version, gen, record if isinstance(record, dict) else {})
        return None

    def is_published(self, version: int) -> bool:
        marker = self.current(version)
        return marker is not None and marker.state == "published"

    def reserve(
        self, version: int, *, overwrite: bool, auto: bool, exists, exists_error, not_ours_error
    ) -> Reservation:
        """Reserve ``version`` (or, with ``auto``, the first free number from it).

        ``exists(N)`` says whether ``<base>/N`` is there; ``exists_error(N)`` /
        ``not_ours_error(N)`` build the errors for an explicit version that is taken.
        """
        for _attempt in range(100000):
            if auto:
                # One listing per attempt (a request on an object store): skip every number
                # that has a marker, whatever its state, then try the first free one.
                taken = self.reserved_versions()
                while version in taken:
                    version += 1
                marker = None
            else:
                marker = self.current(version)
            present = exists(version)
            if marker is None:
                if present:  # a version directory the workbench did not reserve
                    if auto:
                        version += 1
                        continue
                    raise not_ours_error(version) if overwrite else exists_error(version)
                generation = 0
            elif marker.state == "published":
                if present and not overwrite:
                    raise exists_error(version)
                generation = marker.generation + 1
            elif marker.stale():
                generation = marker.generation + 1  # take over a crashed export's number
            else:
                raise ExportError(
                    f"version {version} is being published by {marker.describe()} right now: "
                    "pass another version, or none for the next free one."
                )
            now = time.time()
            record = {
                "state": "reserved",
                "version": version,
                "host": _host(),
                "pid": os.getpid(),
                "created": now,
                "renewed": now,
                "lease_s": self.lease_s,
            }
            taken = Marker(version, generation, record)
            if self.store.create(taken.name, json.dumps(record).encode()):
                return Reservation(self, taken)
            # another export created this marker first: look again
        raise ExportError(f"could not reserve a version from {version}: too many conflicts.")


class Reservation:
    """An owned version number: keep it alive, then ``publish`` or ``release`` it."""

    def __init__(self, reservations: Reservations, marker: Marker):
        self._reservations = reservations
        self.marker = marker
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="reservation")
        self._thread.start()

    @property
    def version(self) -> int:
        return self.marker.version

    def _write(self, **changes) -> None:
        with self._lock:
            self.marker.record.update(changes)
            data = json.dumps(self.marker.record).encode()
            self._reservations.store.write(self.marker.name, data)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self._reservations.lease_s / 5):
            try:
                self._write(renewed=time.time())
            except Exception:  # a store hiccup: the next beat tries again
                pass

    def _end(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def publish(self, files: dict[str, str]) -> None:
        """Record that the version is complete and was checked (``files``: rel -> sha256)."""
        self._end()
        self._write(state="published", published=time.time(), files=files)

    def release(self, touched: bool) -> None:
        """Give the number up after a failure: forget it if ``<base>/N`` was not touched, else
        mark it ``abandoned`` (an explicit export of N may take it over at once)."""
        self._end()
        try:
            if touched:
                self._write(state="abandoned")
            else:
                self._reservations.store.remove(self.marker.name)
        except Exception:  # the failure being reported matters more; the lease expires anyway
            pass
