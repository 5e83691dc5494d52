"""IPython magics: ``%savedmodel`` and ``%mounts`` (``%load_ext jupyter_workbench``).

They parse their arguments with the same parser as the CLI and call the same library
functions; a user mistake is shown as one clear line, not a TensorFlow traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.display import display

from .errors import WorkbenchError
from .kernel_output import NotebookProgress, quiet_tensorflow_import
from .magic_base import MagicParser, WorkbenchMagicError

__all__ = ["WorkbenchMagicError", "WorkbenchMagics", "load_ipython_extension"]


def _export_parser() -> argparse.ArgumentParser:
    from .export.options import add_export_arguments

    p = MagicParser(prog="%savedmodel", description="Export a model to DEST/<version>/.")
    add_export_arguments(p)
    return p


@magics_class
class WorkbenchMagics(Magics):
    @line_magic
    def savedmodel(self, line: str):
        """Export a model to a versioned SavedModel, or show one.

        %savedmodel MODEL DEST [--version N] [--signature NAME] [--input NAME=TENSOR]...
                    [--output NAME=TENSOR]... [--checkpoint PREFIX] [--overwrite]
                    [--no-verify] [--weights-dtype float16] [--max-size 500MB]
        %savedmodel show PATH
        %savedmodel serve BASE [--model-name NAME] [--port P] [--grpc-port G] [--poll S]
                          [--version-policy latest|all|N,M]

        MODEL is a variable of the notebook or a path. ``r = %savedmodel ...`` keeps the result.
        """
        from .export import export_savedmodel, inspect_savedmodel
        from .export.options import export_kwargs

        try:
            argv = shlex.split(line)
        except ValueError as e:
            raise WorkbenchMagicError("UsageError", f"cannot parse arguments: {e}") from None
        try:
            if argv[:1] == ["serve"]:
                return self._serve(argv[1:])
            if argv[:1] == ["show"]:
                if len(argv) != 2:
                    raise WorkbenchMagicError("UsageError", "usage: %savedmodel show PATH")
                info = inspect_savedmodel(argv[1])
                print(info)
                return None
            args = _export_parser().parse_args(argv)
            source = self._resolve_model(args.source)
            progress = NotebookProgress("Export")
            result = export_savedmodel(
                source, args.destination, progress=progress, **export_kwargs(args)
            )
        except WorkbenchError as e:
            raise WorkbenchMagicError.from_error(e) from None
        progress.done(f"version {result.version} written")
        # The summary as rich output (HTML, plain-text fallback) on the cell's output, once:
        # shown here, and returned only where it is kept (``r = %savedmodel ...``), so a bare
        # ``%savedmodel`` line does not show it twice as Out[n].
        display(result)
        return result if self._kept(line) else None

    def _serve(self, argv: list[str]):
        """``server = %savedmodel serve BASE ...``: a ModelServer (.url, .predict, .stop)."""
        import importlib.util
        import sys

        from .serving import start_server
        from .serving.options import add_serve_arguments, serve_kwargs

        p = MagicParser(prog="%savedmodel serve", description="Serve BASE over TF Serving's APIs.")
        add_serve_arguments(p, ports_default_free=True)
        args = p.parse_args(argv)
        try:
            kwargs = serve_kwargs(args)
            if not kwargs["python"] and importlib.util.find_spec("tensorflow") is not None:
                kwargs["python"] = sys.executable  # this kernel's environment has TensorFlow
            server = start_server(args.base, **kwargs)
        except WorkbenchError as e:
            raise WorkbenchMagicError.from_error(e) from None
        print(f"serving {server.model_name}: REST {server.url}  gRPC {server.grpc_address}")
        return server

    def _kept(self, line: str) -> bool:
        """Whether the cell assigns this magic's result (``r = %savedmodel ...``)."""
        cells = getattr(self.shell.history_manager, "input_hist_raw", None) or [""]
        for src in reversed(cells[-1].splitlines()):
            text = src.strip()
            if "%savedmodel" in text and text.endswith(line.strip()):
                return not text.startswith("%")
        return True  # called some other way: keep the value

    def _resolve_model(self, name: str):
        """A variable of the user namespace (``model`` or ``obj.model``), else a path.

        A bare name that is neither a variable nor an existing path is reported as an
        unknown variable (a typo), with the closest variable names, not as a missing file.
        """
        ns = self.shell.user_ns
        head, _, rest = name.partition(".")
        if head.isidentifier() and head in ns:
            obj = ns[head]
            for attr in rest.split(".") if rest else []:
                if not hasattr(obj, attr):
                    raise WorkbenchMagicError("UsageError", f"'{name}': no attribute '{attr}'.")
                obj = getattr(obj, attr)
            return obj
        looks_like_variable = all(part.isidentifier() for part in name.split("."))
        if looks_like_variable and not os.path.exists(os.path.expanduser(name)):
            import difflib

            names = [k for k in ns if k.isidentifier() and not k.startswith("_")]
            close = difflib.get_close_matches(head, names, n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise WorkbenchMagicError(
                "NameError",
                f"'{head}' is not a variable of this notebook, nor a file or folder.{hint}",
            )
        return name

    @line_magic
    def mounts(self, line: str):
        """List the workbench mounts with their local paths and URLs."""
        from . import mounts

        try:
            rows = mounts.list_mounts()
        except WorkbenchError as e:
            raise WorkbenchMagicError.from_error(e) from None
        if not rows:
            print("No mounts. Add one from the Workbench sidebar or `jupyter workbench mount add`.")
            return None
        from .storage import workdir

        view = workdir.active()
        for m in rows:
            flags = " (read-only)" if m.get("read_only") else ""
            folder = mounts.local_folder(m["name"])
            if view is not None and view.name == m["name"]:
                where = f"{view.root} (this kernel's synced view: files opened here come from the mount, files written here go to it when a cell ends)"  # noqa: E501
            elif folder is not None:
                where = str(folder)
            else:
                where = f"no local folder here (FUSE does not serve it): use mounts.filesystem({m['name']!r}), or open a notebook inside {m.get('path') or 'the mount folder'}"  # noqa: E501
            print(f"{m['name']}: {m['url']} -> {where}{flags}")
        return None


def load_ipython_extension(ipython) -> None:
    ipython.register_magics(WorkbenchMagics)
    from .storage.workdir import activate_from_environment

    # A kernel opened inside a mount that FUSE does not serve works in a synced local view of
    # that folder (relative paths reach the mount's files); nothing happens elsewhere.
    activate_from_environment(ipython)
    quiet_tensorflow_import()  # TensorFlow's startup notices stay out of the cells
    from .storage import register_fsspec_oss

    # pandas.read_csv("oss://...") and fsspec.open in the kernel get the fixed ossfs.
    register_fsspec_oss()
    from .session.magics import register as register_background

    register_background(ipython)  # %%background
