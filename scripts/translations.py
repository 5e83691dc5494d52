"""Keep the labextension's translations complete: extract, merge, compile, check.

Every user-visible string of the frontend goes through ``trans.__`` / ``trans._n`` (gettext
domain ``jupyter_workbench``); the settings schema's titles and descriptions are translated by
JupyterLab from the same domain. This script

- extracts those msgids from ``labextension/src/*.ts`` and ``labextension/schema/*.json``,
- merges them into ``jupyter_workbench/locale/<lang>/LC_MESSAGES/jupyter_workbench.po``
  (new msgids get an empty msgstr; msgids no longer used are dropped),
- compiles the ``.po`` to the ``.json`` that jupyterlab_server serves (the format of the
  ``jupyterlab-language-pack-*`` packages), found through the package's ``jupyterlab.locale``
  entry point,
- with ``--check``, fails when a msgid has no translation or the ``.json`` is stale.

    python scripts/translations.py           # update the .po and .json files
    python scripts/translations.py --check   # what the test suite runs
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "jupyter_workbench"
LOCALE_DIR = ROOT / "jupyter_workbench" / "locale"
LANGUAGES = {"zh_CN": {"language": "zh-CN", "plural_forms": "nplurals=1; plural=0;"}}

_CALL = re.compile(r"(?:\btrans|\b_trans|_wbTrans)(?:\(\))?\s*\.\s*(__|_n)\s*\(")


def _read_literal(src: str, i: int) -> tuple[str, int] | None:
    """The TypeScript string literal ('...' or "...") at ``src[i:]`` (after blanks)."""
    while i < len(src) and src[i].isspace():
        i += 1
    if i >= len(src) or src[i] not in "'\"":
        return None
    quote, i, out = src[i], i + 1, []
    escapes = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}
    while src[i] != quote:
        if src[i] == "\\":
            out.append(escapes.get(src[i + 1], src[i + 1]))
            i += 2
        else:
            out.append(src[i])
            i += 1
    return "".join(out), i + 1


def extract(src_dir: Path = ROOT / "labextension" / "src") -> dict[str, str | None]:
    """msgid -> msgid_plural (None for singular messages), in source order."""
    found: dict[str, str | None] = {}
    for path in sorted(src_dir.glob("*.ts")):
        src = path.read_text(encoding="utf-8")
        for m in _CALL.finditer(src):
            first = _read_literal(src, m.end())
            if first is None:
                continue  # a variable: its values are extracted where they are literals
            msgid, j = first
            plural = None
            if m.group(1) == "_n":
                while src[j].isspace():
                    j += 1
                if src[j] == ",":
                    second = _read_literal(src, j + 1)
                    plural = second[0] if second else None
            found.setdefault(msgid, plural)
    for path in sorted((ROOT / "labextension" / "schema").glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        for node in [schema, *schema.get("properties", {}).values()]:
            for key in ("title", "description"):
                if isinstance(node.get(key), str):
                    found.setdefault(node[key], None)
    return found


def _po_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _po_unquote(s: str) -> str:
    body = s.strip()[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def read_po(path: Path) -> dict[str, list[str]]:
    """msgid -> [msgstr] or [msgstr[0], ...] for plurals; the header entry is skipped."""
    entries: dict[str, list[str]] = {}
    if not path.exists():
        return entries
    current: dict[str, str] = {}
    key = None

    def flush():
        if "msgid" in current and current["msgid"]:
            strs = [v for k, v in sorted(current.items()) if k.startswith("msgstr")]
            entries[current["msgid"]] = strs
        current.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            if not line:
                flush()
                key = None
            continue
        if line.startswith('"'):
            current[key] += _po_unquote(line)
            continue
        key, _, rest = line.partition(" ")
        if key == "msgid" and "msgid" in current:
            flush()
        current[key] = _po_unquote(rest)
    flush()
    return entries


def write_po(path: Path, lang: str, msgids: dict[str, str | None], old: dict[str, list[str]]):
    meta = LANGUAGES[lang]
    out = [
        f"# {DOMAIN} frontend, {meta['language']}. Edit the msgstr lines, then run",
        "# python scripts/translations.py",
        'msgid ""',
        'msgstr ""',
        f'"Language: {meta["language"]}\\n"',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        f'"Plural-Forms: {meta["plural_forms"]}\\n"',
        "",
    ]
    for msgid, plural in msgids.items():
        strs = old.get(msgid, [""])
        out.append(f"msgid {_po_quote(msgid)}")
        if plural is not None:
            out.append(f"msgid_plural {_po_quote(plural)}")
            out.append(f"msgstr[0] {_po_quote(strs[0] if strs else '')}")
        else:
            out.append(f"msgstr {_po_quote(strs[0] if strs else '')}")
        out.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out), encoding="utf-8")


def compile_json(lang: str, entries: dict[str, list[str]]) -> str:
    meta = LANGUAGES[lang]
    data: dict[str, object] = {
        "": {
            "domain": DOMAIN,
            "language": meta["language"],
            "plural_forms": meta["plural_forms"],
            "version": DOMAIN,
        }
    }
    for msgid, strs in entries.items():
        if strs and all(strs):
            data[msgid] = strs
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail on gaps, change nothing")
    args = parser.parse_args(argv)
    msgids = extract()
    problems = []
    for lang in LANGUAGES:
        base = LOCALE_DIR / lang / "LC_MESSAGES" / DOMAIN
        po, js = base.with_suffix(".po"), base.with_suffix(".json")
        old = read_po(po)
        if not args.check:
            write_po(po, lang, msgids, old)
            old = read_po(po)
            js.write_text(compile_json(lang, old), encoding="utf-8")
        missing = [m for m in msgids if not all(old.get(m, [""]))]
        stale = [m for m in old if m not in msgids]
        if missing:
            problems.append(f"{po.relative_to(ROOT)}: {len(missing)} untranslated: {missing[:5]}")
        if stale and args.check:
            problems.append(f"{po.relative_to(ROOT)}: msgids no longer used: {stale[:5]}")
        if args.check and (
            not js.exists() or js.read_text(encoding="utf-8") != compile_json(lang, old)
        ):
            problems.append(f"{js.relative_to(ROOT)} is stale: run python scripts/translations.py")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(msgids)} messages, {len(LANGUAGES)} language(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
