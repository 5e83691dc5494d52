"""Fault injection for reliability tests: delays, forced errors, dropped connections."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass


@dataclass
class FaultRule:
    """One injected fault. ``path`` is a regex searched in ``/bucket/key?query`` (key decoded)."""

    kind: str  # "error" | "delay" | "drop"
    method: str | None = None
    path: re.Pattern | None = None
    skip: int = 0
    count: int | None = 1  # None: every matching request
    status: int = 500
    code: str = "InternalError"
    message: str = "We encountered an internal error. Please try again."
    seconds: float = 0.0
    partial: bool = False
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, target: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or self.path.search(target) is not None

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count


class Faults:
    """Fault injection for reliability tests.

    >>> oss.faults.fail(count=3, method="PUT", path=r"partNumber=2")  # 3 x 500 on part 2
    >>> oss.faults.delay(0.5, path=r"^/demo/slow")                    # every matching request
    >>> oss.faults.drop(method="GET", partial=True)                   # cut a download midway
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def _add(self, rule: FaultRule, path: str | None) -> FaultRule:
        rule.path = re.compile(path) if path is not None else None
        if rule.method is not None:
            rule.method = rule.method.upper()
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail(
        self,
        count: int | None = 1,
        *,
        status: int = 500,
        code: str = "InternalError",
        message: str | None = None,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Answer ``count`` matching requests (after ``skip`` of them) with an OSS error."""
        rule = FaultRule("error", method, None, skip, count, status, code)
        if message:
            rule.message = message
        return self._add(rule, path)

    def delay(
        self,
        seconds: float,
        *,
        count: int | None = None,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Wait ``seconds`` before answering matching requests."""
        return self._add(FaultRule("delay", method, None, skip, count, seconds=seconds), path)

    def drop(
        self,
        count: int | None = 1,
        *,
        method: str | None = None,
        path: str | None = None,
        skip: int = 0,
        partial: bool = False,
    ) -> FaultRule:
        """Close the connection without an answer (``partial``: after half of a GET's body)."""
        return self._add(FaultRule("drop", method, None, skip, count, partial=partial), path)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def select(self, method: str, target: str) -> list[FaultRule]:
        """The rules that fire for this request (their counters advance)."""
        fired = []
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.matches(method, target):
                    continue
                rule.seen += 1
                if rule.seen <= rule.skip:
                    continue
                rule.fired += 1
                fired.append(rule)
        return fired
