"""The REST API's error messages in zh-CN when the request asks for Chinese (Accept-Language:
the labextension sends JupyterLab's language setting), English otherwise."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_workbench.messages import _ZH_CN, translate, wants_zh_cn


@pytest.fixture(autouse=True)
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_WORKBENCH_STATE_DIR", str(tmp_path / "wb-state"))


async def message(jp_fetch, *parts, body, language=None):
    headers = {"Accept-Language": language} if language else {}
    with pytest.raises(HTTPClientError) as e:
        await jp_fetch(
            "workbench", "api", *parts, method="POST", body=json.dumps(body), headers=headers
        )
    assert e.value.code == 400 or e.value.code == 404, e.value.response.body
    return json.loads(e.value.response.body)["message"]


# The mistakes users make most, as the real handlers answer them.
CASES = [
    (("jobs",), {}, "Missing required field 'path'.", "缺少必填字段 'path'。"),
    (("jobs",), {"path": "x.py", "shell": 1}, "Unknown field(s): shell.", "未知字段：shell。"),
    (
        ("jobs",),
        {"path": "missing.py"},
        "No file 'missing.py' to run.",
        "没有可运行的文件 'missing.py'。",
    ),
    (("jobs",), {"path": "../up.py"}, "outside the server root", "在服务器根目录之外"),
    (
        ("jobs",),
        {"path": "ok.py", "environment": "nope"},
        "Unknown environment 'nope'",
        "未知环境 'nope'",
    ),
    (("mounts",), {"name": "a b", "url": "memory://x"}, "is not valid", "挂载名称 'a b' 无效"),
    (("mounts",), {"name": "a/b", "url": "memory://x"}, "must not contain slashes", "不能包含斜杠"),
    (
        ("exports",),
        {"destination": "models/m"},
        "Missing required field 'source'.",
        "缺少必填字段 'source'。",
    ),
]


@pytest.mark.parametrize("parts, body, english, chinese", CASES)
async def test_a_chinese_lab_gets_chinese_messages(
    jp_fetch, jp_root_dir, parts, body, english, chinese
):
    (jp_root_dir / "ok.py").write_text("print('ok')\n")
    assert english in await message(jp_fetch, *parts, body=body)
    assert english in await message(jp_fetch, *parts, body=body, language="en-US,zh-CN;q=0.8")
    zh = await message(jp_fetch, *parts, body=body, language="zh-CN")
    assert chinese in zh and english not in zh, zh
    assert chinese in await message(jp_fetch, *parts, body=body, language="zh-CN,en;q=0.5")


def test_language_choice_and_unknown_messages_stay_english():
    assert wants_zh_cn("zh-CN") and wants_zh_cn("zh") and wants_zh_cn("en;q=0.3, zh-Hans")
    assert not wants_zh_cn(None) and not wants_zh_cn("en-US") and not wants_zh_cn("zh-TW")
    assert not wants_zh_cn("zh-CN;q=0.2, de")
    assert translate("Something new went wrong.", "zh-CN") == "Something new went wrong."
    assert translate("Missing required field 'x'.", "en") == "Missing required field 'x'."
    # every template fills all its parts
    for pattern, template in _ZH_CN:
        names = set(pattern.groupindex)
        assert set(__import__("re").findall(r"{(\w+)}", template)) <= names, pattern.pattern
