"""The server's user-facing error messages in the user's language (zh-CN for now).

The REST API answers errors as ``{"message"}`` in English (``api.base.http_error``). When the
request says the user reads Chinese (``Accept-Language``: the labextension sends JupyterLab's
own language setting, a browser sends its UI language), ``translate`` turns the messages users
see most (request validation, mounts, exports, jobs) into zh-CN. A message not in the catalogue
stays English; names, paths and values inside a message are kept as they are.
"""

from __future__ import annotations

import re

#: (English message as a regex with named parts, its zh-CN template), tried in order.
_ZH_CN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), t)
    for p, t in [
        # request validation (api.base, export.request)
        (r"Missing required field '(?P<name>[^']+)'\.", "缺少必填字段 '{name}'。"),
        (r"Unknown field\(s\): (?P<names>.+)\.", "未知字段：{names}。"),
        (
            r"Field '(?P<name>[^']+)' must be of type (?P<type>.+)\.",
            "字段 '{name}' 的类型必须是 {type}。",
        ),
        (
            r"Field '(?P<name>[^']+)' must be a number, got a boolean\.",
            "字段 '{name}' 必须是数字，不能是布尔值。",
        ),
        (r"Request body is not valid JSON: (?P<why>.+)", "请求体不是有效的 JSON：{why}"),
        (r"(?:Request|The request) body must be a JSON object\.", "请求体必须是 JSON 对象。"),
        (
            r"Query parameter '(?P<name>[^']+)' must be an integer\.",
            "查询参数 '{name}' 必须是整数。",
        ),
        (
            r"Query parameter '(?P<name>[^']+)' must be 0 or more\.",
            "查询参数 '{name}' 必须大于或等于 0。",
        ),
        (
            r"Query parameter '(?P<name>[^']+)' must be true or false\.",
            "查询参数 '{name}' 必须是 true 或 false。",
        ),
        # mounts (storage.urls, storage.registry)
        (
            r"Mount name is empty: give a name such as 'data'\.",
            "挂载名称为空：请填写名称，例如 'data'。",
        ),
        (
            r"Mount name (?P<name>'[^']*') must not contain slashes\.",
            "挂载名称 {name} 不能包含斜杠。",
        ),
        (
            r"Mount name (?P<name>'[^']*') must not contain '\.\.'\.",
            "挂载名称 {name} 不能包含 '..'。",
        ),
        (
            r"Mount name (?P<name>'[^']*') is not valid: .*",
            "挂载名称 {name} 无效：只能使用字母、数字、'.'、'_' 和 '-'。",
        ),
        (
            r"A mount named (?P<name>'[^']*') already exists.*",
            "名为 {name} 的挂载已存在：请先移除它或换一个名称。",
        ),
        (
            r"No mount named (?P<name>'[^']*')(?: \(mounts: (?P<known>.*)\))?\.",
            "没有名为 {name} 的挂载。",
        ),
        # exports (export.service, export.request)
        (
            r"(?P<path>.+) does not exist: pass a SavedModel directory or a model base\.",
            "{path} 不存在：请给出 SavedModel 目录或模型根目录。",
        ),
        (
            r"Field 'signature_name' is empty: give a name or leave it out\.",
            "字段 'signature_name' 为空：请填写名称或不填此字段。",
        ),
        (r"No export with id (?P<id>'[^']*')\.", "没有 ID 为 {id} 的导出。"),
        # jobs (session.jobs)
        (r"The job path is empty or invalid\.", "作业路径为空或无效。"),
        (
            r"The job path must be relative to the server root: (?P<path>.+)\.",
            "作业路径必须相对于服务器根目录：{path}。",
        ),
        (
            r"The job path (?P<path>'[^']*') is outside the server root\.",
            "作业路径 {path} 在服务器根目录之外。",
        ),
        (r"No file (?P<path>'[^']*') to run\.", "没有可运行的文件 {path}。"),
        (
            r"Cannot run (?P<path>'[^']*') as a job: .*",
            "无法将 {path} 作为作业运行："
            "请使用笔记本（.ipynb）、Python 脚本（.py）或 Shell 脚本（.sh）。",
        ),
        (
            r"Unknown environment (?P<env>'[^']*'): .*",
            "未知环境 {env}："
            "请使用 Python 内核名称（jupyter kernelspec list）、py3/tf2 或 Python 解释器的路径。",
        ),
        (r"Environment (?P<env>'[^']*') is not ready: (?P<why>.*)", "环境 {env} 尚未就绪：{why}"),
        (r"Job (?P<id>\S+) has already (?P<state>\w+)\.", "作业 {id} 已经结束（{state}）。"),
        (r"No job with id (?P<id>'[^']*')\.", "没有 ID 为 {id} 的作业。"),
        (
            r"Job (?P<id>\S+) is still running: cancel it first \(.*\), then remove it\.",
            "作业 {id} 仍在运行：请先取消（jupyter workbench job cancel {id}），再删除。",
        ),
    ]
]


def wants_zh_cn(accept_language: str | None) -> bool:
    """Whether the most preferred language of an ``Accept-Language`` header is Chinese."""
    best, best_q = "", -1.0
    for part in (accept_language or "").split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if lang and q > best_q:
            best, best_q = lang.lower(), q
    return best == "zh" or best.startswith(("zh-cn", "zh_cn", "zh-hans", "zh-sg"))


def translate(message: str, accept_language: str | None) -> str:
    """``message`` in the request's language when the catalogue has it, else unchanged."""
    if not message or not wants_zh_cn(accept_language):
        return message
    for pattern, template in _ZH_CN:
        m = pattern.fullmatch(message)
        if m:
            return template.format(**{k: v or "" for k, v in m.groupdict().items()})
    return message
