"""Mounts in the stock file browser: ``api/contents/mnt/<name>/...`` and ``files/mnt/...``."""

from __future__ import annotations

import asyncio
import json
import os
import time

import nbformat
from _mount_fixtures import (
    PAGE_SIZE,
    api,
    b64,
    contents,
    jp_server_config,
    mount_oss,
    nas_root,
    oss,
    state_dir,
    text_model,
)
from tornado.httpclient import AsyncHTTPClient

__all__ = ["jp_server_config", "nas_root", "oss", "state_dir"]


def names(model) -> list[str]:
    return [e["name"] for e in model["content"]]


async def files(jp_fetch, path, **kwargs):
    parts = [p for p in path.split("/") if p]
    return await jp_fetch("files", *parts, raise_error=False, **kwargs)


# ------------------------------------------------------------------------------ listing


async def test_mount_dir_lists_mounts_beside_real_files(jp_fetch, jp_root_dir, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    # Given a real file in mnt/ besides the mount
    (jp_root_dir / "mnt").mkdir()
    (jp_root_dir / "mnt" / "notes.md").write_text("x")
    # When the file browser opens the root and mnt/
    code, root = await contents(jp_fetch, "")
    assert code == 200 and "mnt" in names(root)
    code, mnt = await contents(jp_fetch, "mnt")
    # Then both show, the mount as a folder
    assert code == 200 and names(mnt) == ["data", "notes.md"]
    entry = mnt["content"][0]
    assert entry["type"] == "directory" and entry["path"] == "mnt/data"


async def test_mount_folders_have_real_dates_not_1970(jp_fetch, oss):
    # Given a mount (mnt/ exists only virtually)
    await mount_oss(jp_fetch, oss)
    # When the file browser lists the root, mnt/ and the bucket (which has a "data" prefix)
    _, root = await contents(jp_fetch, "")
    _, mnt = await contents(jp_fetch, "mnt")
    _, bucket = await contents(jp_fetch, "mnt/data")
    folders = [e for e in root["content"] if e["name"] == "mnt"] + mnt["content"]
    folders += [e for e in bucket["content"] if e["type"] == "directory"]
    # Then every folder has a date of this century (the file browser said "56 years ago")
    assert len(folders) >= 3, folders
    for entry in folders:
        assert entry["last_modified"] and entry["last_modified"] >= "2020", entry


async def test_saving_into_an_unmounted_folder_says_so_without_a_server_path(
    jp_fetch, jp_root_dir, oss
):
    # Given a file opened from a mount that was then unmounted
    await mount_oss(jp_fetch, oss)
    await jp_fetch("workbench", "api", "mounts", "data", method="DELETE")
    # When the editor saves it
    response = await jp_fetch(
        "api",
        "contents",
        "mnt",
        "data",
        "README.txt",
        method="PUT",
        body=json.dumps(text_model("edited")),
        raise_error=False,
    )
    # Then the answer says the mount is gone and what to do, with no local path or errno
    body = json.loads(response.body)
    assert response.code == 404, body
    assert "mnt/data is not mounted any more" in body["message"]
    assert "Errno" not in body["message"] and str(jp_root_dir) not in body["message"]


async def test_mount_dir_exists_virtually_when_not_on_disk(jp_fetch, jp_root_dir, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    assert not (jp_root_dir / "mnt").exists()
    code, root = await contents(jp_fetch, "")
    assert "mnt" in names(root)
    code, mnt = await contents(jp_fetch, "mnt")
    assert code == 200 and names(mnt) == ["data"]


async def test_listing_is_one_store_call_and_keeps_names(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    # Given objects with spaces and unicode in their names, and a subfolder
    oss.put_object("demo", "my folder/a file.txt", b"12345")
    oss.put_object("demo", "my folder/été.csv", b"x")
    oss.put_object("demo", "my folder/sub/deep.txt", b"x")
    oss.put_object("demo", "my folder/run.ipynb", b"{}")
    oss.clear_requests()
    # When the file browser opens the folder
    code, model = await contents(jp_fetch, "mnt/data/my folder")
    # Then every name is as stored, with types and sizes, from listing calls only (no HEADs)
    assert code == 200
    assert names(model) == ["a file.txt", "run.ipynb", "sub", "été.csv"]
    by_name = {e["name"]: e for e in model["content"]}
    assert by_name["a file.txt"]["size"] == 5
    assert by_name["a file.txt"]["path"] == "mnt/data/my folder/a file.txt"
    assert by_name["run.ipynb"]["type"] == "notebook"
    assert by_name["sub"]["type"] == "directory"
    assert by_name["a file.txt"]["last_modified"]
    methods = [r.method for r in oss.requests]
    assert methods == ["GET"], methods  # one ListObjects call
    assert model["truncated"] is False


async def test_a_folder_larger_than_a_store_page_is_listed_whole(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    for i in range(PAGE_SIZE * 2 + 5):
        oss.put_object("demo", f"big/k{i:05d}", b"")
    oss.clear_requests()
    code, model = await contents(jp_fetch, "mnt/data/big")
    assert code == 200
    # every entry (below c.Workbench.listing_limit), from listing_page_size-key store pages
    assert names(model) == [f"k{i:05d}" for i in range(PAGE_SIZE * 2 + 5)]
    assert model["truncated"] is False and model["next_marker"] is None
    assert [r.method for r in oss.requests] == ["GET"] * 3
    # the listing API pages by marker
    code, page = await api(jp_fetch, "data", "listing", params={"path": "big", "limit": "10"})
    code, page = await api(
        jp_fetch, "data", "listing", params={"path": "big", "marker": page["next_marker"]}
    )
    assert code == 200 and page["entries"][0]["name"] == "k00010"


async def test_missing_paths_are_404_not_400(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    assert (await contents(jp_fetch, "mnt/data/nope.txt"))[0] == 404
    assert (await contents(jp_fetch, "mnt/data/no/such/dir"))[0] == 404
    assert (await contents(jp_fetch, "mnt/data/no/such", params={"type": "directory"}))[0] == 404
    assert (await contents(jp_fetch, "mnt/data/nope.txt", method="DELETE"))[0] == 404
    assert (await files(jp_fetch, "mnt/data/nope.txt")).code == 404


async def test_traversal_is_refused(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    code, reply = await contents(jp_fetch, "mnt/data/../../etc/passwd")
    assert code in (400, 404)
    code, reply = await contents(
        jp_fetch, "mnt/data/x.txt", method="PATCH", body={"path": "mnt/data/../../escape.txt"}
    )
    assert code in (400, 404)


# ------------------------------------------------------------------------------ open and save


async def test_open_edit_and_save_a_text_file(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    code, model = await contents(jp_fetch, "mnt/data/README.txt")
    assert code == 200 and model["format"] == "text"
    assert model["content"].startswith("This bucket is served")
    code, saved = await contents(
        jp_fetch, "mnt/data/README.txt", method="PUT", body=text_model("edited\n")
    )
    assert code == 200 and saved["content"] is None and saved["size"] == 7
    assert oss.get_object("demo", "README.txt") == b"edited\n"
    # The model's time matches what a later GET reports (no false "file changed" warning)
    code, again = await contents(jp_fetch, "mnt/data/README.txt", params={"content": "0"})
    assert again["last_modified"] == saved["last_modified"]


async def test_binary_files_round_trip_as_base64(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    blob = bytes(range(256)) * 10
    code, _ = await contents(
        jp_fetch,
        "mnt/data/bin/blob.dat",
        method="PUT",
        body={"type": "file", "format": "base64", "content": b64(blob)},
    )
    assert code == 201
    code, model = await contents(jp_fetch, "mnt/data/bin/blob.dat")
    assert model["format"] == "base64" and model["content"] == b64(blob)
    code, model = await contents(jp_fetch, "mnt/data/bin/blob.dat", params={"format": "text"})
    assert code == 400


async def test_notebook_round_trip_with_checkpoint(jp_fetch, oss, state_dir):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("print('hi')"))
    code, saved = await contents(
        jp_fetch,
        "mnt/data/nb/Train 1.ipynb",
        method="PUT",
        body={"type": "notebook", "content": nb},
    )
    assert code == 201 and saved["type"] == "notebook" and saved["name"] == "Train 1.ipynb"
    stored = nbformat.reads(oss.get_object("demo", "nb/Train 1.ipynb").decode(), 4)
    assert stored.cells[0].source == "print('hi')"
    # A checkpoint exists, in the local cache (never on the bucket)
    code, cps = await contents(jp_fetch, "mnt/data/nb/Train 1.ipynb/checkpoints")
    assert code == 200 and len(cps) == 1
    assert not any("checkpoint" in k for k in oss.list_keys("demo"))
    assert (state_dir / "checkpoints" / "data" / "nb" / "Train 1-checkpoint.ipynb").is_file()
    # Edit, save, then revert to the checkpoint
    code, model = await contents(jp_fetch, "mnt/data/nb/Train 1.ipynb")
    model["content"]["cells"][0]["source"] = "print('changed')"
    code, _ = await contents(
        jp_fetch,
        "mnt/data/nb/Train 1.ipynb",
        method="PUT",
        body={"type": "notebook", "content": model["content"]},
    )
    assert code == 200
    code, _ = await contents(
        jp_fetch, f"mnt/data/nb/Train 1.ipynb/checkpoints/{cps[0]['id']}", method="POST"
    )
    assert code == 204
    code, model = await contents(jp_fetch, "mnt/data/nb/Train 1.ipynb")
    assert model["content"]["cells"][0]["source"] == "print('hi')"


async def test_new_untitled_folder_and_file(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    code, folder = await contents(jp_fetch, "mnt/data", method="POST", body={"type": "directory"})
    assert code == 201 and folder["name"] == "Untitled Folder"
    code, nb = await contents(
        jp_fetch, "mnt/data/Untitled Folder", method="POST", body={"type": "notebook"}
    )
    assert code == 201 and nb["path"] == "mnt/data/Untitled Folder/Untitled.ipynb"
    code, nb2 = await contents(
        jp_fetch, "mnt/data/Untitled Folder", method="POST", body={"type": "notebook"}
    )
    assert nb2["name"] == "Untitled1.ipynb"
    code, listing = await contents(jp_fetch, "mnt/data/Untitled Folder")
    assert names(listing) == ["Untitled.ipynb", "Untitled1.ipynb"]


async def test_store_failure_during_save_keeps_the_previous_content(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    oss.put_object("demo", "notes.txt", b"version 1")
    # Every PUT of that object fails (retries included)
    oss.faults.fail(count=None, method="PUT", path=r"^/demo/notes\.txt")
    code, reply = await contents(
        jp_fetch, "mnt/data/notes.txt", method="PUT", body=text_model("version 2")
    )
    assert code == 502
    assert "kept failing" in reply["message"]
    assert oss.get_object("demo", "notes.txt") == b"version 1"
    oss.faults.clear()
    code, _ = await contents(
        jp_fetch, "mnt/data/notes.txt", method="PUT", body=text_model("version 2")
    )
    assert code == 200 and oss.get_object("demo", "notes.txt") == b"version 2"


# ------------------------------------------------------------------------------ uploads


async def test_chunked_upload_streams_into_one_object(jp_fetch, oss):
    await mount_oss(jp_fetch, oss, options={"block_size": 200_000})
    blob = os.urandom(1024 * 1024 * 2 + 12345)
    chunks = [blob[i : i + 1024 * 1024] for i in range(0, len(blob), 1024 * 1024)]
    for i, part in enumerate(chunks, start=1):
        number = -1 if i == len(chunks) else i
        code, model = await contents(
            jp_fetch,
            "mnt/data/up/big file.bin",
            method="PUT",
            body={"type": "file", "format": "base64", "chunk": number, "content": b64(part)},
        )
        assert code in (200, 201), model
        if number != -1:  # nothing visible on the store before the last chunk
            assert not oss.exists("demo", "up/big file.bin")
    assert model["size"] == len(blob)
    assert oss.get_object("demo", "up/big file.bin") == blob
    assert oss.uploads("demo") == []


async def test_chunks_out_of_order_are_refused(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    code, reply = await contents(
        jp_fetch,
        "mnt/data/x.bin",
        method="PUT",
        body={"type": "file", "format": "base64", "chunk": 2, "content": b64(b"x")},
    )
    assert code == 400 and "interrupted" in reply["message"]


async def test_failed_chunked_upload_aborts_and_keeps_the_old_object(jp_fetch, oss):
    await mount_oss(jp_fetch, oss, options={"block_size": 200_000, "retries": 0})
    oss.put_object("demo", "model.bin", b"old")
    oss.faults.fail(count=None, method="PUT", path=r"partNumber=2")
    blob = os.urandom(1024 * 1024 * 2)
    chunks = [blob[: 1024 * 1024], blob[1024 * 1024 :]]
    codes = []
    for number, part in ((1, chunks[0]), (-1, chunks[1])):
        code, reply = await contents(
            jp_fetch,
            "mnt/data/model.bin",
            method="PUT",
            body={"type": "file", "format": "base64", "chunk": number, "content": b64(part)},
        )
        codes.append(code)
        if code >= 400:
            break
    assert codes[-1] == 502, reply
    assert oss.get_object("demo", "model.bin") == b"old"
    assert oss.uploads("demo") == []


# ------------------------------------------------------------------------------ rename, delete


async def test_rename_copy_and_delete(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    oss.put_object("demo", "a/one.txt", b"1")
    code, moved = await contents(
        jp_fetch, "mnt/data/a/one.txt", method="PATCH", body={"path": "mnt/data/a/uno b.txt"}
    )
    assert code == 200 and moved["name"] == "uno b.txt"
    assert oss.list_keys("demo", "a/") == ["a/uno b.txt"]
    code, copied = await contents(
        jp_fetch, "mnt/data/a", method="POST", body={"copy_from": "mnt/data/a/uno b.txt"}
    )
    assert code == 201 and copied["name"] == "uno b-Copy1.txt"
    # Renaming onto an existing file is a conflict
    code, _ = await contents(
        jp_fetch, "mnt/data/a/uno b.txt", method="PATCH", body={"path": "mnt/data/README.txt"}
    )
    assert code == 409
    # A non-empty folder is not deleted; a file and then the folder are
    assert (await contents(jp_fetch, "mnt/data/a", method="DELETE"))[0] == 400
    assert (await contents(jp_fetch, "mnt/data/a/uno b.txt", method="DELETE"))[0] == 204
    assert (await contents(jp_fetch, "mnt/data/a/uno b-Copy1.txt", method="DELETE"))[0] == 204
    assert oss.list_keys("demo", "a/") == []
    # Renaming a folder moves everything under it
    oss.put_object("demo", "d1/x/y.txt", b"y")
    code, _ = await contents(jp_fetch, "mnt/data/d1", method="PATCH", body={"path": "mnt/data/d2"})
    assert code == 200
    assert oss.list_keys("demo", "d1/") == []
    assert oss.get_object("demo", "d2/x/y.txt") == b"y"


async def test_move_between_a_mount_and_local_files(jp_fetch, jp_root_dir, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    (jp_root_dir / "local.txt").write_text("from disk")
    code, _ = await contents(
        jp_fetch, "local.txt", method="PATCH", body={"path": "mnt/data/in/local.txt"}
    )
    assert code == 200
    assert oss.get_object("demo", "in/local.txt") == b"from disk"
    assert not (jp_root_dir / "local.txt").exists()
    code, _ = await contents(
        jp_fetch, "mnt/data/in/local.txt", method="PATCH", body={"path": "back.txt"}
    )
    assert code == 200 and (jp_root_dir / "back.txt").read_text() == "from disk"
    assert not oss.exists("demo", "in/local.txt")


async def test_the_mount_folder_itself_cannot_be_deleted_or_renamed(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    code, reply = await contents(jp_fetch, "mnt/data", method="DELETE")
    assert code == 400 and "Unmount" in reply["message"]
    code, reply = await contents(jp_fetch, "mnt/data", method="PATCH", body={"path": "mnt/x"})
    assert code == 400
    code, reply = await contents(jp_fetch, "mnt", method="DELETE")
    assert code == 400
    assert sorted(oss.list_keys("demo")) == ["README.txt", "data/iris.csv"]


async def test_read_only_mount_refuses_writes_with_403(jp_fetch, oss):
    await mount_oss(jp_fetch, oss, name="ro", read_only=True)
    code, model = await contents(jp_fetch, "mnt/ro/README.txt")
    assert code == 200 and model["writable"] is False
    code, reply = await contents(jp_fetch, "mnt/ro/README.txt", method="PUT", body=text_model("no"))
    assert code == 403 and "read-only" in reply["message"]
    assert (await contents(jp_fetch, "mnt/ro/README.txt", method="DELETE"))[0] == 403
    code, _ = await contents(
        jp_fetch, "mnt/ro/README.txt", method="PATCH", body={"path": "mnt/ro/x.txt"}
    )
    assert code == 403
    assert oss.get_object("demo", "README.txt").startswith(b"This bucket")


# ------------------------------------------------------------------------------ /files


async def test_download_streams_with_length_and_ranges(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    blob = os.urandom(3 * 1024 * 1024 + 7)
    oss.put_object("demo", "dl/weights file.bin", blob)
    r = await files(jp_fetch, "mnt/data/dl/weights file.bin", params={"download": "1"})
    assert r.code == 200 and r.body == blob
    assert r.headers["Content-Length"] == str(len(blob))
    assert "attachment" in r.headers["Content-Disposition"]
    r = await files(jp_fetch, "mnt/data/dl/weights file.bin", headers={"Range": "bytes=10-19"})
    assert r.code == 206 and r.body == blob[10:20]
    r = await files(jp_fetch, "mnt/data/README.txt")
    assert r.code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert (await files(jp_fetch, "mnt/data/dl")).code == 404


# ------------------------------------------------------------------------------ responsiveness


async def test_a_slow_store_does_not_block_the_server(jp_fetch, oss):
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    oss.put_object("demo", "slow/x.txt", b"x")
    oss.faults.delay(2.0, path=r"prefix=slow")
    started = time.monotonic()
    listing = asyncio.ensure_future(contents(jp_fetch, "mnt/data/slow"))
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    reply = await jp_fetch("api", "contents", params={"content": "0"})
    assert reply.code == 200 and time.monotonic() - t0 < 0.8
    code, model = await listing
    assert code == 200 and names(model) == ["x.txt"]
    assert time.monotonic() - started >= 2.0


async def test_a_stalled_mount_does_not_delay_other_mounts(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url, jp_auth_header, oss, nas_root
):
    # Given an OSS mount whose store answers a prefix only after 2 s, and a NAS mount
    await mount_oss(jp_fetch, oss)  # the demo bucket at mnt/data
    oss.put_object("demo", "slow/x.txt", b"x")
    (nas_root / "share" / "n.txt").write_text("n")
    code, _ = await api(
        jp_fetch, method="POST", body={"name": "nas", "url": f"file://{nas_root}/share"}
    )
    assert code == 201
    oss.faults.delay(2.0, path=r"prefix=slow")
    threads = jp_serverapp.web_app.settings["workbench_mounts"].threads_per_mount

    # When more listings of the slow prefix are waiting than the OSS mount has threads
    # (and more than the 16 threads the whole server once shared)
    # (a client of its own: the test client sends at most 10 requests at a time)
    client = AsyncHTTPClient(force_instance=True, max_clients=64)
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}api/contents/mnt/data/slow"
    stalled = [
        asyncio.ensure_future(client.fetch(url, headers=jp_auth_header, request_timeout=60))
        for _ in range(max(2 * threads, 17))
    ]
    await asyncio.sleep(0.5)

    # Then the other mount and the local files still answer at once
    t0 = time.monotonic()
    code, model = await contents(jp_fetch, "mnt/nas")
    assert code == 200 and names(model) == ["n.txt"]
    reply = await jp_fetch("api", "contents", params={"content": "0"})
    assert reply.code == 200 and time.monotonic() - t0 < 0.8
    # and the stalled mount's listings all complete, its own threads taking turns
    replies = await asyncio.gather(*stalled)
    client.close()
    assert all(r.code == 200 and names(json.loads(r.body)) == ["x.txt"] for r in replies)


async def test_local_nas_mount_saves_atomically(jp_fetch, nas_root):
    share = nas_root / "share"
    (share / "cfg.json").write_text('{"a": 1}')
    code, _ = await api(jp_fetch, method="POST", body={"name": "nas", "url": f"file://{share}"})
    assert code == 201
    code, _ = await contents(
        jp_fetch, "mnt/nas/cfg.json", method="PUT", body=text_model('{"a": 2}')
    )
    assert code == 200
    assert json.loads((share / "cfg.json").read_text()) == {"a": 2}
    assert sorted(os.listdir(share)) == ["cfg.json"]
