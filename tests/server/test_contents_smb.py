"""An smb:// mount in the stock file browser, against a real Samba server (Debian's smbd)."""

from __future__ import annotations

import os

from _mount_fixtures import api, contents, jp_server_config, nas_root, state_dir, text_model
from _smb_fixtures import smb_server

__all__ = ["jp_server_config", "nas_root", "smb_server", "state_dir"]


def names(model) -> list[str]:
    return [e["name"] for e in model["content"]]


async def mount_smb(jp_fetch, server, name="team", sub="", **options):
    body = {"name": name, "url": server.url(sub), "options": server.options(**options)}
    return await api(jp_fetch, method="POST", body=body)


async def test_smb_mount_lists_opens_saves_renames_and_deletes(jp_fetch, smb_server):
    # Given a share with a file and a folder, mounted through the API
    share = smb_server.dir
    (share / "notes.txt").write_text("v1")
    (share / "sub").mkdir()
    code, reply = await mount_smb(jp_fetch, smb_server)
    assert code == 201, reply
    assert smb_server.password not in str(reply)
    # When the file browser lists the mount and opens the file
    code, model = await contents(jp_fetch, "mnt/team")
    assert code == 200 and names(model) == ["notes.txt", "sub"]
    code, model = await contents(jp_fetch, "mnt/team/notes.txt")
    assert code == 200 and model["content"] == "v1"
    # Then saving replaces the file on the share, without leftovers
    code, saved = await contents(
        jp_fetch, "mnt/team/notes.txt", method="PUT", body=text_model("v2\n")
    )
    assert code == 200 and saved["size"] == 3
    code, _ = await contents(jp_fetch, "mnt/team/sub/new.txt", method="PUT", body=text_model("n"))
    assert code == 201
    assert (share / "notes.txt").read_text() == "v2\n"
    assert (share / "sub" / "new.txt").read_text() == "n"
    assert sorted(os.listdir(share)) == ["notes.txt", "sub"]
    assert sorted(os.listdir(share / "sub")) == ["new.txt"]
    # Missing paths are 404; rename and delete reach the share
    assert (await contents(jp_fetch, "mnt/team/nope.txt"))[0] == 404
    code, moved = await contents(
        jp_fetch, "mnt/team/sub/new.txt", method="PATCH", body={"path": "mnt/team/moved.txt"}
    )
    assert code == 200 and moved["path"] == "mnt/team/moved.txt"
    assert (share / "moved.txt").read_text() == "n" and not (share / "sub" / "new.txt").exists()
    assert (await contents(jp_fetch, "mnt/team/moved.txt", method="DELETE"))[0] == 204
    assert not (share / "moved.txt").exists()


async def test_smb_mount_with_a_wrong_password_is_refused(jp_fetch, smb_server):
    # When
    code, reply = await mount_smb(jp_fetch, smb_server, password="wrong")
    # Then
    assert code in (400, 401, 403), reply
    assert "rejected the username or password" in reply["message"]
    assert "wrong" not in reply["message"]
    code, listed = await api(jp_fetch)
    assert code == 200 and listed == []
