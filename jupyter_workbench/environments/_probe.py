"""Run INSIDE an environment's interpreter (``python -I _probe.py '<json>'``); prints one JSON line.

Standalone on purpose: it must not import anything from the workbench, so it can tell whether
the environment itself works. Arguments (JSON): ``packages`` (distribution names to report),
``modules`` (must be findable), ``imports`` (must import), ``deep`` (check every installed
distribution's files against its RECORD, to find packages half-written by a killed pip).
"""

import json
import sys


def main(argv):
    import importlib.metadata as md
    import importlib.util

    args = json.loads(argv[1]) if len(argv) > 1 else {}
    out = {
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "packages": {},
        "missing_packages": [],
        "missing_modules": [],
        "import_errors": {},
        "broken": [],
    }
    for name in args.get("packages", []):
        try:
            out["packages"][name] = md.version(name)
        except md.PackageNotFoundError:
            out["missing_packages"].append(name)
    for mod in args.get("modules", []):
        try:
            found = importlib.util.find_spec(mod) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out["missing_modules"].append(mod)
    if args.get("deep"):
        for dist in md.distributions():
            path = str(getattr(dist, "_path", ""))
            try:
                name = dist.metadata["Name"]
                version = dist.version
            except Exception:
                name = version = None
            files = None
            try:
                files = dist.files
            except Exception:
                files = None
            if not name or files is None:
                out["broken"].append(
                    {"name": name, "version": version, "path": path, "why": "no metadata/RECORD"}
                )
                continue
            missing = []
            for f in files:
                if f.suffix == ".pyc" or "__pycache__" in f.parts:
                    continue
                try:
                    if not f.locate().exists():
                        missing.append(str(f))
                except OSError:
                    missing.append(str(f))
                if len(missing) >= 3:
                    break
            if missing:
                out["broken"].append(
                    {"name": name, "version": version, "path": path, "why": "missing " + missing[0]}
                )
    for mod in args.get("imports", []):
        try:
            __import__(mod)
        except BaseException as exc:  # noqa: BLE001 - report anything, SystemExit included
            out["import_errors"][mod] = f"{type(exc).__name__}: {exc}"[:500]
    sys.stdout.write("\n@@PROBE@@" + json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
