"""ExportResult: what an export produced, for scripts, notebooks and the REST API."""

from __future__ import annotations

import html
import math
from dataclasses import asdict, dataclass, field

from .sizes import format_size


def _format_shape(shape) -> str:
    if shape is None:
        return "unknown rank"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


@dataclass
class ExportResult:
    """The outcome of :func:`~jupyter_workbench.export.export_savedmodel`.

    ``signatures`` maps each signature name to
    ``{"inputs": {name: {"dtype": "float32", "shape": [None, 784]}}, "outputs": {...}}``
    (``None`` for unknown dimensions; ``shape`` is ``None`` for unknown rank).
    """

    path: str
    version: int
    signatures: dict
    size_bytes: int
    max_abs_diff: float | None = None
    warnings: list[str] = field(default_factory=list)
    source_kind: str = ""
    weights_dtype: str = "float32"
    duration_s: float = 0.0
    warmup_records: int = 0  # TF Serving warmup requests in assets.extra

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (the REST API's ``result``)."""
        data = asdict(self)
        diff = data["max_abs_diff"]
        if diff is not None and not math.isfinite(diff):
            data["max_abs_diff"] = None
        data["duration_s"] = round(self.duration_s, 3)
        return data

    def summary(self) -> str:
        """Human-readable text: version, path, signatures, size and verification."""
        lines = [f"SavedModel version {self.version} at {self.path}"]
        for name, sig in sorted(self.signatures.items()):
            lines.append(f"  signature '{name}':")
            for kind in ("inputs", "outputs"):
                for tname, spec in sorted(sig.get(kind, {}).items()):
                    arrow = "<-" if kind == "inputs" else "->"
                    lines.append(
                        f"    {arrow} {kind[:-1]} {tname}: {spec['dtype']} "
                        f"{_format_shape(spec['shape'])}"
                    )
        weights = "" if self.weights_dtype == "float32" else f", weights {self.weights_dtype}"
        lines.append(f"  size: {format_size(self.size_bytes)}{weights}")
        if self.max_abs_diff is None:
            lines.append("  verified: no")
        else:
            lines.append(f"  verified: max abs diff vs source {self.max_abs_diff:.3g}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_pretty_(self, p, cycle) -> None:
        # IPython's text/plain (the fallback beside _repr_html_): the summary, not the fields.
        p.text(self.summary())

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = []
        for name, sig in sorted(self.signatures.items()):
            for kind in ("inputs", "outputs"):
                for tname, spec in sorted(sig.get(kind, {}).items()):
                    rows.append(
                        f"<tr><td>{esc(name)}</td><td>{kind[:-1]}</td><td>{esc(tname)}</td>"
                        f"<td>{esc(spec['dtype'])}</td><td>{esc(_format_shape(spec['shape']))}</td>"
                        "</tr>"
                    )
        diff = "not verified" if self.max_abs_diff is None else f"{self.max_abs_diff:.3g}"
        warnings = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        return (
            f"<div><b>SavedModel version {self.version}</b> at <code>{esc(self.path)}</code><br>"
            f"size {esc(format_size(self.size_bytes))}, weights {esc(self.weights_dtype)}, "
            f"max abs diff vs source: {esc(diff)}"
            "<table><tr><th>signature</th><th></th><th>name</th><th>dtype</th><th>shape</th></tr>"
            + "".join(rows)
            + "</table>"
            + (f"<ul>{warnings}</ul>" if warnings else "")
            + "</div>"
        )
