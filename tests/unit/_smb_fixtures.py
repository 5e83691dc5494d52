"""A real Samba server for SMB tests: Debian's ``smbd`` on 127.0.0.1 with a private config.

Test modules import the fixture they use::

    try:
        from ._smb_fixtures import smb_server
    except ImportError:
        from _smb_fixtures import smb_server

``smb_server`` starts ``smbd --foreground`` in a new process group with a config of its own:
every state, lock, cache, private, pid and ncalrpc directory is in a fresh temporary
directory (logs go to ``tmp_path/smb-log``), it listens on a free port on 127.0.0.1 only,
NetBIOS, printing and guest access are off, and it has one share, ``share``, on
``tmp_path/smb-share``. The SMB user is the Unix user running the tests (smbd needs root, so
``root``); its password is set in the server's own passdb.tdb with ``smbpasswd -c <config>``,
so nothing outside the temporary directories changes (no Unix user is created; the system's
/etc/samba, /var/lib/samba and /run/samba are not touched).

The test is skipped, saying why, when smbd is not installed (Debian: ``apt-get install
samba``), the tests do not run as root, smbprotocol is missing, or smbd does not start.
Teardown stops the whole process group (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

try:
    from ._storage_fixtures import free_port
except ImportError:
    from _storage_fixtures import free_port

SMB_SHARE = "share"
SMB_PASSWORD = "Wb-smb-test-1"
START_TIMEOUT = 15.0
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class SMBServer:
    host: str
    port: int
    share: str
    user: str
    password: str
    dir: Path  # the share's directory on disk
    log: Path  # smbd's output

    def url(self, sub: str = "") -> str:
        """``smb://127.0.0.1/share[/sub]`` (the port and credentials go in the options)."""
        return f"smb://{self.host}/{self.share}" + (f"/{sub}" if sub else "")

    def options(self, **extra) -> dict:
        options = {
            "port": self.port,
            "username": self.user,
            "password": self.password,
            "timeout": 5,
        }
        options.update(extra)
        return options


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f"{d}/{name}" for d in _SBIN if os.access(f"{d}/{name}", os.X_OK)), None)


def _config(state: Path, log_dir: Path, port: int, share_dir: Path, user: str) -> str:
    dirs = {
        "lock directory": "lock",
        "state directory": "state",
        "cache directory": "cache",
        "private dir": "private",
        "pid directory": "pid",
        "ncalrpc dir": "ncalrpc",
        "binddns dir": "binddns",
        "usershare path": "usershares",
    }
    lines = ["[global]"]
    for key, sub in dirs.items():
        (state / sub).mkdir(mode=0o700)
        lines.append(f"  {key} = {state / sub}")
    lines += [
        f"  log file = {log_dir}/log.%m",
        "  log level = 1",
        "  max log size = 1000",
        f"  passdb backend = tdbsam:{state / 'private' / 'passdb.tdb'}",
        "  server role = standalone server",
        "  workgroup = WBTEST",
        "  netbios name = WBTEST",
        "  security = user",
        "  map to guest = never",
        "  restrict anonymous = 2",
        "  interfaces = 127.0.0.1",
        "  bind interfaces only = yes",
        f"  smb ports = {port}",
        "  disable netbios = yes",
        "  server min protocol = SMB2_10",
        "  load printers = no",
        "  printing = bsd",
        "  printcap name = /dev/null",
        "  disable spoolss = yes",
        "  usershare max shares = 0",
        "  dns proxy = no",
        "",
        f"[{SMB_SHARE}]",
        f"  path = {share_dir}",
        "  read only = no",
        "  browseable = yes",
        "  guest ok = no",
        f"  valid users = {user}",
        "  create mask = 0644",
        "  directory mask = 0755",
    ]
    return "\n".join(lines) + "\n"


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def _stop(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)  # smbd and the children it forked per connection
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait)
            return


@pytest.fixture
def smb_server(tmp_path):
    """A running smbd on 127.0.0.1:<free port>; share ``share`` is ``tmp_path/smb-share``."""
    pytest.importorskip("smbprotocol", reason="SMB tests need the smbprotocol package")
    smbd, smbpasswd = _which("smbd"), _which("smbpasswd")
    if smbd is None or smbpasswd is None:
        pytest.skip("SMB tests need Samba's smbd and smbpasswd: apt-get install samba")
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("SMB tests start smbd, which needs root; run the tests as root")
    user = pwd.getpwuid(os.geteuid()).pw_name  # root
    share_dir = tmp_path / "smb-share"
    share_dir.mkdir()
    # Unix sockets live under the lock and ncalrpc directories: keep their paths short.
    state = Path(tempfile.mkdtemp(prefix="wbsmb-"))
    proc = None
    try:
        port = free_port()
        conf = state / "smb.conf"
        log_dir = tmp_path / "smb-log"  # kept after the test, like the share
        log_dir.mkdir()
        conf.write_text(_config(state, log_dir, port, share_dir, user))
        added = subprocess.run(
            [smbpasswd, "-c", str(conf), "-s", "-a", user],
            input=f"{SMB_PASSWORD}\n{SMB_PASSWORD}\n",
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if added.returncode != 0:
            pytest.skip(f"smbpasswd could not add {user!r}: {added.stderr.strip()[-500:]}")
        log = log_dir / "smbd.out"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [smbd, "--foreground", "--no-process-group", "--debug-stdout", "-s", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while not _port_open(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                why = "exited" if proc.poll() is not None else f"not listening in {START_TIMEOUT}s"
                tail = log.read_text(errors="replace")[-1500:]
                pytest.skip(f"smbd could not start ({why}) on 127.0.0.1:{port}:\n{tail}")
            time.sleep(0.05)
        yield SMBServer("127.0.0.1", port, SMB_SHARE, user, SMB_PASSWORD, share_dir, log)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(state, ignore_errors=True)
