"""No secret in anything ``workbench/api/jobs`` returns: errors, job records, logs (issue 14).

A real server with a real OSS mount (its key and secret in the credential store), real script
and notebook jobs that print and raise secrets, and requests that carry them in the path, the
name and the environment.
"""

from __future__ import annotations

import asyncio
import json

import nbformat
from _mount_fixtures import AK, SK, jp_server_config, mount_oss, nas_root, oss, state_dir

__all__ = ["jp_server_config", "nas_root", "oss", "state_dir"]

SIGNED = "Zm9vYmFyc2lnbmF0dXJl"  # a URL signature
USERINFO = "TopSecret123"  # a password written into a URL


async def call(jp_fetch, *parts, method="GET", body=None, params=None):
    kwargs = {"method": method, "raise_error": False, "params": params}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    r = await jp_fetch("workbench", "api", "jobs", *parts, **kwargs)
    return r.code, r.body.decode()


def assert_clean(text: str) -> None:
    for secret in (SK, SIGNED, USERINFO):
        assert secret not in text, f"{secret!r} came back in {text[:2000]}"


async def test_secrets_in_a_job_request_never_come_back_in_its_error(jp_fetch, jp_root_dir):
    (jp_root_dir / "run.py").write_text("print(1)\n")
    requests = [
        {"path": f"oss://{AK}:{USERINFO}@demo/run.py"},  # not a file of the server root
        {"path": f"run.py?token={USERINFO}"},
        {"path": "run.py", "environment": f"https://me:{USERINFO}@host/bin/python"},
        {"path": "run.py", "environment": f"python?secret={USERINFO}"},
    ]
    for body in requests:
        code, reply = await call(jp_fetch, method="POST", body=body)
        assert code == 400, (body, reply)
        message = json.loads(reply)["message"]
        assert message and "***" in message, message
        assert_clean(reply)


async def wait_done(jp_fetch, job_id, timeout=60):
    for _ in range(int(timeout / 0.1)):
        code, reply = await call(jp_fetch, job_id)
        job = json.loads(reply)
        if job["state"] != "running":
            return job, reply
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still running")


async def test_secrets_a_job_prints_or_raises_never_come_back(
    jp_fetch, jp_root_dir, oss, state_dir
):
    # Given an OSS mount (its secret is in the 0600 credential store)
    await mount_oss(jp_fetch, oss)
    # and a script and a notebook that print the mount's secret, a signed URL and a URL with a
    # password, then fail with them in the error
    leak = (
        f"print('options', {{'key': {AK!r}, 'secret': {SK!r}}})\n"
        f"print('reading oss://{AK}:{USERINFO}@demo/train.csv')\n"
        f"print('https://demo.example/x?OSSAccessKeyId={AK}&Signature={SIGNED}')\n"
        f"raise RuntimeError('could not read with {SK}')\n"
    )
    (jp_root_dir / "leak.py").write_text(leak)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(leak)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, str(jp_root_dir / "leak.ipynb"))

    # When both run as jobs, one named after a URL with credentials
    replies = []
    ids = []
    for body in (
        {"path": "leak.py", "name": f"nightly from oss://{AK}:{USERINFO}@demo/data"},
        {"path": "leak.ipynb"},
    ):
        code, reply = await call(jp_fetch, method="POST", body=body)
        assert code == 201, reply
        replies.append(reply)
        ids.append(json.loads(reply)["id"])
    finished = [await wait_done(jp_fetch, job_id) for job_id in ids]

    # Then they failed, saying why
    script, notebook = (job for job, _ in finished)
    assert script["state"] == notebook["state"] == "failed"
    assert script["name"].startswith("nightly from oss://***@demo")
    assert "RuntimeError" in notebook["reason"] and "***" in notebook["reason"]
    replies += [reply for _, reply in finished]
    # and no jobs reply holds a secret: submission, each job, the listing, the logs
    code, listing = await call(jp_fetch)
    assert code == 200 and len(json.loads(listing)) == 2
    replies.append(listing)
    for job_id in ids:
        for params in (None, {"offset": 0}, {"offset": 0, "bytes": 100}):
            code, log = await call(jp_fetch, job_id, "log", params=params)
            assert code == 200
            replies.append(log)
    for reply in replies:
        assert_clean(reply)
    # while the logs still show what happened
    _, log = await call(jp_fetch, ids[0], "log")
    text = json.loads(log)["log"]
    assert "'secret': '***'" in text and "oss://***@demo/train.csv" in text
    assert "Signature=***" in text and "RuntimeError: could not read with ***" in text
    # And the job's record on disk does not hold its name's password either
    assert USERINFO not in (state_dir / "jobs" / ids[0] / "job.json").read_text()
