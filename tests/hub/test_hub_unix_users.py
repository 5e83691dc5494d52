"""Real Unix users under the hub (LocalProcessSpawner, ``useradd``; see conftest): each user's
mounts, secrets and jobs live in their own home, owned by them, and bob cannot reach alice's
through the API, the filesystem or the process list. Skipped, saying why, where real users
cannot be made (not root)."""

from __future__ import annotations

import json
import os
import pwd
import secrets
import stat
from pathlib import Path

import pytest

from jupyter_workbench.testing import OSSEmulator

from .conftest import HubKernel, as_unix_user, needs_real_users

pytestmark = [pytest.mark.timeout(300), needs_real_users]

STATE = Path(".local/share/jupyter/workbench")


@pytest.fixture(scope="module")
def mounts(hub):
    """alice and bob each mount a bucket with their own secret key (through their server)."""
    keys = {
        user: (f"{user.upper()}KEYID", f"{user}-secret-{secrets.token_hex(8)}") for user in hub.unix
    }
    with OSSEmulator(credentials=dict(keys.values())) as emulator:
        emulator.seed_demo()
        for user, (key, secret) in keys.items():
            body = {
                "name": f"{user}-data",
                "url": "oss://demo",
                "options": {"endpoint": emulator.endpoint, "key": key, "secret": secret},
            }
            r = hub.user_api(user, "workbench/api/mounts", "POST", json=body)
            assert r.status_code == 201, r.text
        yield {user: secret for user, (_, secret) in keys.items()}
        for user in keys:
            hub.user_api(user, f"workbench/api/mounts/{user}-data", "DELETE")


def _files(home: Path):
    """(path, bytes) of the regular files in ``home``; the FUSE mounts under ``mnt/`` (the
    remote storage, which even root cannot enter) are skipped."""
    for root, _dirs, names in os.walk(home):
        for name in names:
            path = Path(root, name)
            if path.is_symlink():
                continue
            try:
                yield path, path.read_bytes()
            except OSError:
                pass


def test_servers_run_as_their_unix_users_with_state_and_secrets_theirs_0600(hub, mounts):
    for user, name in hub.unix.items():
        pw = pwd.getpwnam(name)
        home = Path(pw.pw_dir)
        # Given the user's server (its process belongs to the Unix user)
        pid = int((home / "singleuser.pid").read_text())
        assert os.stat(f"/proc/{pid}").st_uid == pw.pw_uid
        # Then the mount registry and the credential store are in their home, theirs
        state = home / STATE
        assert state.is_dir() and state.stat().st_uid == pw.pw_uid
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        store = state / "credentials.json"
        assert stat.S_IMODE(store.stat().st_mode) == 0o600 and store.stat().st_uid == pw.pw_uid
        assert mounts[user] in store.read_text()
        assert (state / "mounts.json").stat().st_uid == pw.pw_uid
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
        # and the secret is in no other file of the home
        holders = [p for p, data in _files(home) if mounts[user].encode() in data]
        assert holders == [store], holders
        # and the API never returns it
        listed = hub.user_api(user, "workbench/api/mounts").text
        assert f"{user}-data" in listed and mounts[user] not in listed


def test_bob_cannot_read_list_or_infer_alices_files(hub, mounts):
    alice_home = hub.homes / "alice"
    # When bob, in his own terminal, tries alice's home, state, secrets and job records
    probe = """
import json, os, sys
out = {}
for p in sys.argv[1:]:
    try:
        out[p] = sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read()[:40]
    except PermissionError:
        out[p] = "denied"
    except FileNotFoundError:
        out[p] = "missing"
print(json.dumps(out))
"""
    paths = [
        alice_home,
        alice_home / STATE,
        alice_home / STATE / "credentials.json",
        alice_home / STATE / "mounts.json",
        alice_home / STATE / "jobs",
    ]
    r = as_unix_user(hub, "bob", probe, *map(str, paths))
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    # Then every one is refused (he cannot even tell which exist)
    assert set(seen.values()) == {"denied"}, seen
    # while alice herself reads her own
    r = as_unix_user(hub, "alice", probe, str(alice_home / STATE / "mounts.json"))
    assert "alice-data" in r.stdout


def test_no_secret_of_alice_in_any_process_bob_can_read(hub, mounts):
    # Given alice's server and a kernel of hers that used the mount (its process has the key)
    kernel = HubKernel(hub, "alice", "python3")
    try:
        status, out = kernel.execute(
            "from jupyter_workbench.mounts import filesystem\n"
            "print(filesystem('alice-data').ls(''))"
        )
        assert status == "ok", out
        # When bob reads every process's command line and environment he can
        scan = """
import json, os, sys
secret, alice = sys.stdin.read().encode(), int(sys.argv[1])  # (not in its own argv)
found, environ_read, alice_pids = [], 0, 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        alice_pids += os.stat(f"/proc/{pid}").st_uid == alice
    except OSError:
        continue
    for part in ("cmdline", "environ"):
        try:
            data = open(f"/proc/{pid}/{part}", "rb").read()
        except OSError:
            continue
        if part == "environ" and os.stat(f"/proc/{pid}").st_uid == alice:
            environ_read += 1
        if secret in data:
            found.append(f"{pid}/{part}")
print(json.dumps({"found": found, "alice_environ_read": environ_read, "alice_pids": alice_pids}))
"""
        alice_uid = pwd.getpwnam(hub.unix["alice"]).pw_uid
        r = as_unix_user(hub, "bob", scan, str(alice_uid), stdin=mounts["alice"])
        assert r.returncode == 0, r.stderr
        seen = json.loads(r.stdout)
        # Then alice's secret is nowhere he can read, and none of her environments is readable
        assert seen["alice_pids"] >= 2  # (her server and kernel were there to look at)
        assert seen["found"] == [] and seen["alice_environ_read"] == 0, seen
    finally:
        kernel.shutdown()
