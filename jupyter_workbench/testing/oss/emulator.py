"""The emulator's API (:class:`OSSEmulator`: lifecycle, credentials, seeding, log) and its CLI."""

from __future__ import annotations

import argparse
import collections
import sys
import threading
import time
import uuid

from .faults import Faults
from .handler import Handler, LoggedRequest, _Server
from .records import ObjectRecord, OSSServiceError
from .store import ObjectStore

DEMO_ACCESS_KEY_ID = "WORKBENCHDEMOKEY"
DEMO_ACCESS_KEY_SECRET = "workbench-demo-secret"
DEMO_BUCKET = "demo"

DEMO_FILES = {
    "README.txt": (
        b"This bucket is served by the jupyter-workbench OSS emulator.\n"
        b"Mount it with:\n"
        b"  jupyter workbench mount add demo oss://demo --option endpoint=<endpoint>\n"
        b"      --option key=WORKBENCHDEMOKEY --option secret=workbench-demo-secret\n"
    ),
    "data/iris.csv": (
        b"sepal_length,sepal_width,petal_length,petal_width,species\n"
        b"5.1,3.5,1.4,0.2,setosa\n4.9,3.0,1.4,0.2,setosa\n7.0,3.2,4.7,1.4,versicolor\n"
        b"6.4,3.2,4.5,1.5,versicolor\n6.3,3.3,6.0,2.5,virginica\n5.8,2.7,5.1,1.9,virginica\n"
    ),
}


# ------------------------------------------------------------------------------------ API


class OSSEmulator:
    """An OSS-protocol server on a background thread.

    ``credentials`` maps access key ids to secrets, or to ``(secret, token)`` for STS
    credentials (requests must then carry ``x-oss-security-token``); by default the demo pair.
    ``buckets`` are created if missing; ``public_buckets`` too, with a public-read ACL. With a
    ``root`` directory, buckets and objects persist there across restarts. Objects of the cold
    storage classes (Archive, ColdArchive, DeepColdArchive) are readable once a RestoreObject has
    run for ``restore_seconds``.
    """

    def __init__(
        self,
        root: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        credentials: dict | None = None,
        buckets=(DEMO_BUCKET,),
        public_buckets=(),
        region: str = "oss-cn-hangzhou",
        log_size: int = 10000,
        restore_seconds: float = 1.0,
    ):
        self.host = host
        self.requested_port = port
        self.region = region
        self.restore_seconds = restore_seconds  # how long RestoreObject takes (OSS: minutes)
        self.store = ObjectStore(root)
        self.faults = Faults()
        self.credentials: dict[str, tuple[str, str | None]] = {}
        self.expirations: dict[str, float] = {}  # access key id -> epoch when it stops working
        creds = {DEMO_ACCESS_KEY_ID: DEMO_ACCESS_KEY_SECRET} if credentials is None else credentials
        for ak, value in creds.items():
            if isinstance(value, str):
                self.add_credentials(ak, value)
            else:
                self.add_credentials(ak, *value)
        for name in buckets:
            self.store.create_bucket(name, exist_ok=True)
        for name in public_buckets:
            self.store.create_bucket(name, "public-read", exist_ok=True)
            self.store.set_bucket_acl(name, "public-read")
        self._requests: collections.deque[LoggedRequest] = collections.deque(maxlen=log_size)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> OSSEmulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self.requested_port), Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"oss-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OSSEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return self._server.server_address[1]

    @property
    def endpoint(self) -> str:
        """``http://host:port``: pass it as the OSS endpoint (oss2 then uses path style)."""
        return f"http://{self.host}:{self.port}"

    # ---------------------------------------------------------------- conveniences

    def add_credentials(
        self,
        access_key_id: str,
        secret: str,
        token: str | None = None,
        expires: float | None = None,
    ) -> None:
        """Accept these credentials; STS ones (with a ``token``) until the epoch ``expires``."""
        self.credentials[access_key_id] = (secret, token)
        if expires is not None:
            self.expirations[access_key_id] = expires
        else:
            self.expirations.pop(access_key_id, None)

    def issue_sts(self, lifetime: float = 3600.0) -> dict:
        """New STS credentials, valid for ``lifetime`` seconds, as AssumeRole answers them
        (``AccessKeyId``, ``AccessKeySecret``, ``SecurityToken``, ``Expiration``)."""
        ak = "STS." + uuid.uuid4().hex[:16].upper()
        secret, token = uuid.uuid4().hex, uuid.uuid4().hex + uuid.uuid4().hex
        expires = time.time() + lifetime
        self.add_credentials(ak, secret, token, expires)
        return {
            "AccessKeyId": ak,
            "AccessKeySecret": secret,
            "SecurityToken": token,
            "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
        }

    def expire(self, access_key_id: str) -> None:
        """End STS credentials now (as the issuer's rotation does)."""
        self.expirations[access_key_id] = time.time() - 1

    def create_bucket(self, name: str, public: bool = False) -> None:
        self.store.create_bucket(name, "public-read" if public else "private", exist_ok=True)

    def put_object(self, bucket: str, key: str, data: bytes | str, **kwargs) -> ObjectRecord:
        """Store an object directly, without HTTP (fast seeding for tests and demos)."""
        if isinstance(data, str):
            data = data.encode()
        return self.store.put_bytes(bucket, key, data, **kwargs)

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.store.get_bytes(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self.store.head(bucket, key)
        except OSSServiceError:
            return False
        return True

    def list_keys(self, bucket: str, prefix: str = "") -> list[str]:
        return [k for k in self.store.keys(bucket) if k.startswith(prefix)]

    def uploads(self, bucket: str) -> list:
        """Multipart uploads in progress (an aborted or completed upload is gone)."""
        return self.store.list_uploads(bucket)

    def seed_demo(self, bucket: str = DEMO_BUCKET) -> None:
        """Put the demo files into ``bucket`` unless it already holds objects."""
        self.create_bucket(bucket)
        if not self.store.keys(bucket):
            for key, data in DEMO_FILES.items():
                self.put_object(bucket, key, data)

    # ---------------------------------------------------------------- request log

    def _log(self, entry: LoggedRequest) -> None:
        self._requests.append(entry)

    @property
    def requests(self) -> list[LoggedRequest]:
        """The most recent requests (method, bucket, key, query, status), oldest first."""
        return list(self._requests)

    def clear_requests(self) -> None:
        self._requests.clear()


# ------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the emulator's options (``--port``, ``--root``, ...) to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--root", default=None, help="directory to keep data in (default: memory)")
    parser.add_argument(
        "--bucket",
        action="append",
        dest="buckets",
        help=f"bucket to create (repeatable; default {DEMO_BUCKET!r} with sample files)",
    )
    parser.add_argument(
        "--public-bucket", action="append", default=[], help="bucket readable anonymously"
    )
    parser.add_argument("--access-key-id", default=DEMO_ACCESS_KEY_ID)
    parser.add_argument("--access-key-secret", default=DEMO_ACCESS_KEY_SECRET)
    return parser


def run_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    root: str | None = None,
    buckets=None,
    public_buckets=(),
    access_key_id: str = DEMO_ACCESS_KEY_ID,
    access_key_secret: str = DEMO_ACCESS_KEY_SECRET,
    out=None,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve until interrupted (or until ``stop_event`` is set). Seeds the demo bucket."""
    out = out or sys.stdout
    emulator = OSSEmulator(
        root=root,
        host=host,
        port=port,
        credentials={access_key_id: access_key_secret},
        buckets=tuple(buckets or ()),
        public_buckets=tuple(public_buckets),
    )
    if not buckets:
        emulator.seed_demo()
    with emulator:
        names = ", ".join(b.name for b in emulator.store.buckets())
        print(f"OSS emulator listening on {emulator.endpoint}", file=out)
        print(f"  buckets: {names}", file=out)
        print(f"  access key id: {access_key_id}", file=out)
        shown = access_key_secret if access_key_secret == DEMO_ACCESS_KEY_SECRET else "(as given)"
        print(f"  access key secret: {shown}", file=out)
        print(f"  data: {root or 'in memory (lost on exit)'}", file=out)
        first = (buckets or [DEMO_BUCKET])[0]
        print(
            f"  mount it: jupyter workbench mount add {first} oss://{first} "
            f"--option endpoint={emulator.endpoint} --option key={access_key_id} "
            f"--option secret=<the secret above>",
            file=out,
        )
        out.flush()
        stop_event = stop_event or threading.Event()
        try:
            while not stop_event.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass


def main(argv=None) -> int:
    """``jupyter workbench oss-emulator [--port P] [--root DIR]``."""
    parser = add_arguments(
        argparse.ArgumentParser(
            prog="jupyter workbench oss-emulator",
            description="An OSS-protocol server for tests and demos.",
        )
    )
    run_from_args(parser.parse_args(argv))
    return 0


def run_from_args(args: argparse.Namespace) -> None:
    """Serve with options parsed by a parser that :func:`add_arguments` set up."""
    run_emulator(
        host=args.host,
        port=args.port,
        root=args.root,
        buckets=args.buckets,
        public_buckets=args.public_bucket,
        access_key_id=args.access_key_id,
        access_key_secret=args.access_key_secret,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
