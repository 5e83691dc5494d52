"""Publishing a staged SavedModel as ``<base>/<version>/`` so that no reader sees half a version.

Local paths and ``file://`` URLs
    The export is written into a hidden sibling ``<base>/.tmp-<version>-<host>-<pid>-<hex>/model``.
    While TensorFlow writes, a background thread already flushes the growing files to disk; then
    every file and directory is fsynced, the directory is renamed to ``<base>/<version>`` (atomic
    on POSIX file systems) and ``<base>`` itself is fsynced. A version that exists after a crash
    is therefore complete. A process killed earlier leaves only the hidden ``.tmp-*`` directory:
    version numbering ignores it (TF Serving ignores non-integer names too) and a later export
    into the same base removes it once its process is gone (same host) or after a day.
    Where rename is not supported (some FUSE mounts) the files are copied into place with
    ``saved_model.pb`` last.

fsspec URLs (``memory://``, ``oss://``, ``s3://``, ...)
    Object stores have no atomic rename. The export is written and verified in a local temporary
    directory, uploaded (with progress) to the hidden prefix ``<base>/.tmp-<version>-...``, then
    committed by server-side copies into ``<base>/<version>/`` with ``saved_model.pb`` copied
    LAST, and the temporary prefix is deleted. Loaders read ``saved_model.pb`` first, so a reader
    that finds it finds complete variables; until then the version is not loadable. The slow
    part (the upload) happens under the hidden prefix; the visible window is only the copies.
    With ``overwrite=True`` the old version is deleted before the copies.

Every destination
    The version number is reserved just before it is made visible, by exclusively creating a
    marker under ``<base>/.workbench-versions/`` (see :mod:`.reservation`: ``O_EXCL`` locally,
    ``x-oss-forbid-overwrite`` on OSS, ``If-None-Match`` on S3); a lost race moves on to the
    next number. After publishing, every file of ``<base>/<version>`` is read back from the
    store and its sha256 compared with what was written before the export reports success;
    the marker then records ``published`` with those checksums. ``overwrite`` replaces only a
    version whose marker says the workbench published it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import tempfile
import time

from . import durability
from .errors import ExportError
from .markers import FsspecMarkers, LocalMarkers
from .reservation import MARKER_DIR, MarkerStore, Reservation, Reservations

SAVED_MODEL_PB = "saved_model.pb"
TMP_PREFIX = ".tmp-"
STALE_AFTER_S = 24 * 3600
_TMP_RE = re.compile(r"^\.tmp-(?:old-)?\d+-([A-Za-z0-9]*)-(\d+)-[0-9a-f]+(?:-probe\w*)?$")


def _hostname() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32]


def _token(version: int, old: bool = False) -> str:
    kind = "old-" if old else ""
    return f"{TMP_PREFIX}{kind}{version}-{_hostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def _is_stale(name: str, mtime: float | None) -> bool:
    match = _TMP_RE.match(name)
    if match is None:
        return False
    host, pid = match.group(1), int(match.group(2))
    if host == _hostname() and pid != os.getpid():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            pass
    return mtime is not None and time.time() - mtime > STALE_AFTER_S


def relative_files(root: str) -> list[str]:
    """Files under ``root`` (relative, ``/``-separated), ``saved_model.pb`` last."""
    files = []
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")
            files.append(rel)
    return sorted(files, key=lambda rel: (rel == SAVED_MODEL_PB, rel))


def tree_size(root: str) -> int:
    return sum(os.path.getsize(os.path.join(root, rel)) for rel in relative_files(root))


# --------------------------------------------------------------------------- staging


class Staging:
    """A local directory to write one SavedModel into (``model_dir`` does not exist yet)."""

    def __init__(self, root: str, durable: bool):
        self.root = root
        self.model_dir = os.path.join(root, "model")
        self.durable = durable
        self.remote_tmp: str | None = None  # the hidden upload prefix, for fsspec destinations
        self._flusher: durability.Flusher | None = None

    def __enter__(self):
        if self.durable:
            self._flusher = durability.Flusher(self.root)
            self._flusher.start()
        return self

    def __exit__(self, *exc):
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        return False

    def discard(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
            self._flusher = None
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------- destinations


def open_destination(destination, storage_options: dict | None = None) -> Destination:
    """A :class:`LocalDestination` for paths and ``file://`` URLs, else an fsspec one
    (``storage_options`` go to its filesystem: endpoint, key, secret, ...)."""
    if isinstance(destination, os.PathLike):
        destination = os.fspath(destination)
    if not isinstance(destination, str) or not destination.strip():
        raise ExportError(
            f"destination={destination!r} is not a path or URL: pass the model base directory, "
            "e.g. 'models/mnist' or 'oss://bucket/models/mnist'; versions go below it."
        )
    from ..redact import scrub, split_url_credentials, url_secrets
    from ..storage.backends import backend_for
    from ..storage.locate import locate

    if "://" in destination:  # credentials written into the URL go to the filesystem only
        secrets = url_secrets(destination)
        destination, credentials = split_url_credentials(destination)
        if credentials:
            storage_options = {**credentials, **(storage_options or {})}
            secrets += [v for v in credentials.values() if isinstance(v, str)]
    else:
        secrets = []
    try:
        on_mount = locate(destination)
    except Exception as err:  # an unknown mount, unreadable registry, bad credentials
        raise ExportError(scrub(f"destination {destination}: {err}", secrets)) from None
    if on_mount is not None:
        fs, root, shown = on_mount
        return FsspecDestination(shown, fs=fs, root=root)
    if "://" in destination or "::" in destination:
        if backend_for(destination.split("://", 1)[0]).local:
            path = destination.split("://", 1)[1]
            return LocalDestination(path, display_prefix="file://")
        return FsspecDestination(destination, storage_options)
    return LocalDestination(destination)


class Destination:
    """The model base that versions are published into.

    Subclasses provide the storage operations; numbering, reservation (see
    :mod:`.reservation`) and the final check of what was published are shared here.
    """

    durable = False

    def versions(self) -> list[int]:
        raise NotImplementedError

    def version_path(self, version: int) -> str:
        raise NotImplementedError

    def prepare(self) -> None:
        """Create the base, check it is writable and remove stale temporaries."""
        raise NotImplementedError

    def stage(self, version: int) -> Staging:
        raise NotImplementedError

    def commit(self, staging: Staging, version: int, *, overwrite: bool, auto: bool, span) -> int:
        """Publish ``staging.model_dir`` as ``version`` (the next free one if ``auto``)."""
        raise NotImplementedError

    def marker_store(self) -> MarkerStore:
        raise NotImplementedError

    def _exists(self, version: int) -> bool:
        raise NotImplementedError

    def published_checksums(self, version: int) -> dict[str, str]:
        """sha256 of every file of ``<base>/<version>`` as the store returns it now."""
        raise NotImplementedError

    @property
    def reservations(self) -> Reservations:
        return Reservations(self.marker_store())

    def next_version(self) -> int:
        existing = set(self.versions()) | self.reservations.reserved_versions()
        return max(existing) + 1 if existing else 1

    def check_version(self, version: int, *, overwrite: bool) -> None:
        """Refuse an explicit ``version`` early (before any TensorFlow work) when it is taken
        and may not be replaced; the reservation at commit time decides for good."""
        if version not in self.versions():
            return
        marker = self.reservations.current(version)
        if marker is not None and marker.stale():
            return  # a crashed export's leftovers: taken over at commit
        if not overwrite:
            raise self._exists_error(version)
        if marker is None or marker.state != "published":
            raise self._not_ours_error(version)

    def reserve(self, version: int, *, overwrite: bool, auto: bool) -> Reservation:
        return self.reservations.reserve(
            version,
            overwrite=overwrite,
            auto=auto,
            exists=self._exists,
            exists_error=self._exists_error,
            not_ours_error=self._not_ours_error,
        )

    def verify_published(self, version: int, expected: dict[str, str]) -> None:
        """Reload ``version`` from the store and compare every file's sha256 with ``expected``."""
        try:
            found = self.published_checksums(version)
        except Exception as err:
            raise ExportError(
                f"version {version} could not be read back from {self.version_path(version)} "
                f"to check it ({type(err).__name__}: {err}); it is not reported as exported."
            ) from None
        if found != expected:
            missing = sorted(set(expected) - set(found))
            extra = sorted(set(found) - set(expected))
            changed = sorted(r for r in expected if r in found and found[r] != expected[r])
            raise ExportError(
                f"version {version} at {self.version_path(version)} does not hold what was "
                f"written (missing {missing}, unexpected {extra}, different {changed}): another "
                "writer changed it. It is not reported as exported; export again."
            )

    def _exists_error(self, version: int) -> ExportError:
        return ExportError(
            f"version {version} already exists at {self.version_path(version)}: pass "
            "overwrite=True (--overwrite) to replace it, or another version (or none for the "
            "next free one)."
        )

    def _not_ours_error(self, version: int) -> ExportError:
        return ExportError(
            f"version {version} at {self.version_path(version)} was not published by the "
            "workbench, so overwrite=True does not replace it: pass another version (or none "
            "for the next free one), or remove it yourself first."
        )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_checksums(root: str) -> dict[str, str]:
    """sha256 of every file under ``root`` by relative path."""
    out = {}
    for rel in relative_files(root):
        with open(os.path.join(root, rel), "rb") as f:
            out[rel] = sha256(f.read())
    return out


class LocalDestination(Destination):
    durable = True

    def __init__(self, path: str, display_prefix: str = ""):
        self.base = os.path.abspath(os.path.expanduser(path))
        self._display_prefix = display_prefix

    def version_path(self, version: int) -> str:
        return self._display_prefix + os.path.join(self.base, str(version))

    def versions(self) -> list[int]:
        try:
            names = os.listdir(self.base)
        except FileNotFoundError:
            return []
        return sorted(
            int(n) for n in names if n.isdigit() and os.path.isdir(os.path.join(self.base, n))
        )

    def _not_writable(self, err: OSError) -> ExportError:
        return ExportError(
            f"destination {self._display_prefix}{self.base} is not writable "
            f"({err.strerror or err}): choose a directory you can write to (a mounted path "
            "must be mounted read-write)."
        )

    def prepare(self) -> None:
        if os.path.exists(self.base) and not os.path.isdir(self.base):
            raise ExportError(
                f"destination {self.base} is a file: pass a directory (the model base; "
                "versions are created below it)."
            )
        try:
            os.makedirs(self.base, exist_ok=True)
            probe = tempfile.mkdtemp(prefix=_token(0) + "-probe", dir=self.base)
            os.rmdir(probe)
        except OSError as err:
            raise self._not_writable(err) from None
        for name in os.listdir(self.base):
            if name.startswith(TMP_PREFIX):
                path = os.path.join(self.base, name)
                try:
                    mtime = os.lstat(path).st_mtime
                except OSError:
                    continue
                if _is_stale(name, mtime):
                    shutil.rmtree(path, ignore_errors=True)

    def stage(self, version: int) -> Staging:
        root = os.path.join(self.base, _token(version))
        try:
            os.mkdir(root)
        except OSError as err:
            raise self._not_writable(err) from None
        return Staging(root, durable=True)

    def marker_store(self) -> MarkerStore:
        return LocalMarkers(self.base)

    def _exists(self, version: int) -> bool:
        return os.path.lexists(os.path.join(self.base, str(version)))

    def published_checksums(self, version: int) -> dict[str, str]:
        return tree_checksums(os.path.join(self.base, str(version)))

    def commit(self, staging: Staging, version: int, *, overwrite: bool, auto: bool, span) -> int:
        span.update(0, 1, "flushing to disk")
        durability.fsync_tree(staging.model_dir)
        expected = tree_checksums(staging.model_dir)
        try:
            reservation = self.reserve(version, overwrite=overwrite, auto=auto)
        except OSError as err:
            raise self._not_writable(err) from None
        version = reservation.version
        target = os.path.join(self.base, str(version))
        span.update(0.5, 1, f"publishing version {version}")
        old, touched = None, False
        try:
            try:
                if os.path.lexists(target):
                    # ours to replace (a published version, or a crashed export's leftovers):
                    # move it aside, rename the new one in, drop the old
                    moved = os.path.join(self.base, _token(version, old=True))
                    os.rename(target, moved)
                    old, touched = moved, True
                os.rename(staging.model_dir, target)
                touched = True
            except OSError as err:
                if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EPERM):
                    if old is not None:
                        os.rename(old, target)
                        old = None
                    if err.errno in (errno.ENOTEMPTY, errno.EEXIST):  # written by a non-workbench
                        raise self._exists_error(version) from None
                    raise
                touched = True
                if os.path.lexists(target):  # could not even move the old one aside
                    shutil.rmtree(target)
                self._copy_into_place(staging.model_dir, target)
            durability.fsync_path(self.base)
            span.update(0.8, 1, f"checking version {version}")
            self.verify_published(version, expected)
            reservation.publish(expected)
        except BaseException as exc:
            reservation.release(touched=touched)
            if isinstance(exc, OSError):
                raise self._not_writable(exc) from None
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(staging.root, ignore_errors=True)
        span.update(1, 1, f"published version {version}")
        return version

    @staticmethod
    def _copy_into_place(src: str, target: str) -> None:
        # Fallback where rename is unsupported (FUSE): saved_model.pb goes last.
        for rel in relative_files(src):
            dst = os.path.join(target, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(src, rel), dst)
            durability.fsync_path(dst)


class FsspecDestination(Destination):
    def __init__(self, url: str, storage_options: dict | None = None, *, fs=None, root=None):
        """``url`` as shown to the user; ``fs``/``root`` when the caller already has them
        (a mount's filesystem), else opened from ``url`` with ``storage_options``."""
        import fsspec

        self.url = url.rstrip("/")
        self._protocol = url.split("://", 1)[0] if "://" in url else ""
        if fs is not None:
            self.fs, self.root = fs, (root or "").strip("/")
            return
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url, **(storage_options or {}))
        except (ImportError, ValueError, TypeError) as err:
            protocol = url.split("://", 1)[0]
            raise ExportError(
                f"destination {url}: cannot open protocol '{protocol}' ({err}). Install its "
                "fsspec implementation (e.g. ossfs for oss://, s3fs for s3://) or use a mount."
            ) from None
        self.root = self.root.rstrip("/")

    def _join(self, *parts: str) -> str:
        return "/".join([self.root, *parts]) if self.root else "/".join(parts)

    def version_path(self, version: int) -> str:
        return f"{self.url}/{version}"

    def versions(self) -> list[int]:
        self.fs.invalidate_cache(self.root)
        try:
            entries = self.fs.ls(self.root, detail=True)
        except FileNotFoundError:
            return []
        found = set()
        for entry in entries:
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if name.isdigit() and entry.get("type") == "directory":
                found.add(int(name))
        return sorted(found)

    def _not_writable(self, err: Exception) -> ExportError:
        return ExportError(
            f"destination {self.url} is not writable ({type(err).__name__}: {err}): check the "
            "URL, the bucket and the credentials, or choose a mount you can write to."
        )

    def prepare(self) -> None:
        probe = self._join(_token(0) + "-probe")
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except Exception as err:  # fsspec backends raise anything from OSError to botocore errors
            raise self._not_writable(err) from None
        try:
            entries = self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            entries = []
        for entry in entries:
            name = entry.rstrip("/").rsplit("/", 1)[-1]
            if name.startswith(TMP_PREFIX) and _is_stale(name, None):
                try:
                    self.fs.rm(entry.rstrip("/"), recursive=True)
                except Exception:
                    pass

    def stage(self, version: int) -> Staging:
        staging = Staging(tempfile.mkdtemp(prefix="workbench-export-"), durable=False)
        staging.remote_tmp = self._join(_token(version))
        return staging

    def marker_store(self) -> MarkerStore:
        return FsspecMarkers(self.fs, self._join(MARKER_DIR))

    def _exists(self, version: int) -> bool:
        path = self._join(str(version))
        self.fs.invalidate_cache(path)
        return self.fs.exists(path)

    def published_checksums(self, version: int) -> dict[str, str]:
        final = self._join(str(version))
        self.fs.invalidate_cache(final)
        prefix = self.fs._strip_protocol(final).strip("/") + "/"
        out = {}
        for path in self.fs.find(final):
            name = self.fs._strip_protocol(path).lstrip("/")
            rel = name[len(prefix) :] if name.startswith(prefix) else name
            digest = hashlib.sha256()
            with self.fs.open(path, "rb") as f:
                while chunk := f.read(8 << 20):
                    digest.update(chunk)
            out[rel] = digest.hexdigest()
        return out

    def commit(self, staging: Staging, version: int, *, overwrite: bool, auto: bool, span) -> int:
        import fsspec.callbacks

        files = relative_files(staging.model_dir)
        expected = tree_checksums(staging.model_dir)
        sizes = {rel: os.path.getsize(os.path.join(staging.model_dir, rel)) for rel in files}
        total = sum(sizes.values()) or 1
        done = 0
        tmp = staging.remote_tmp
        mb = total / 1e6

        class _Bytes(fsspec.callbacks.Callback):
            def call(self, *args, **kwargs):
                span.update(
                    0.85 * (done + (self.value or 0)) / total,
                    1,
                    f"uploading {(done + (self.value or 0)) / 1e6:.1f}/{mb:.1f} MB",
                )

        reservation, touched = None, False
        try:
            for rel in files:
                self.fs.put_file(
                    os.path.join(staging.model_dir, rel), f"{tmp}/{rel}", callback=_Bytes()
                )
                done += sizes[rel]
                span.update(0.85 * done / total, 1, f"uploading {done / 1e6:.1f}/{mb:.1f} MB")
            reservation = self.reserve(version, overwrite=overwrite, auto=auto)
            version = reservation.version
            span.update(0.85, 1, f"committing version {version}")
            final = self._join(str(version))
            if self._exists(version):  # ours: a published version (overwrite) or leftovers
                touched = True
                self.fs.rm(final, recursive=True)
            for rel in files:  # saved_model.pb last: a reader that sees it sees the variables
                touched = True
                self.fs.copy(f"{tmp}/{rel}", f"{final}/{rel}")
            self.fs.rm(tmp, recursive=True)
            span.update(0.92, 1, f"checking version {version}")
            self.verify_published(version, expected)
            reservation.publish(expected)
        except BaseException as err:
            if reservation is not None:
                reservation.release(touched=touched)
            try:
                self.fs.rm(tmp, recursive=True)
            except Exception:
                pass
            if isinstance(err, Exception) and not isinstance(err, ExportError):
                raise self._not_writable(err) from None
            raise
        shutil.rmtree(staging.root, ignore_errors=True)
        span.update(1, 1, f"published version {version}")
        return version
