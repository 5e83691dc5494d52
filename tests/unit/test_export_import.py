"""Importing the export library stays cheap and Jupyter-free."""

import ast
import pathlib

try:
    from ._export_models import REPO, run_python
except ImportError:
    from _export_models import REPO, run_python


EXPORT_DIR = pathlib.Path(REPO, "jupyter_workbench", "export")


def test_import_does_not_load_tensorflow_or_keras():
    # Given a fresh interpreter
    code = """
    import sys
    import jupyter_workbench
    import jupyter_workbench.export
    from jupyter_workbench.export import (
        ExportError, ExportResult, export_savedmodel, inspect_savedmodel,
    )
    import jupyter_workbench.export.options, jupyter_workbench.export.worker
    heavy = ("tensorflow", "keras", "tf_keras", "numpy", "jupyter_server", "tornado", "IPython")
    print(sorted(m for m in sys.modules if m.split(".")[0] in heavy))
    """
    # When the package and the export library are imported
    proc = run_python(code)
    # Then none of TensorFlow, Keras, numpy or Jupyter got imported
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_export_package_never_imports_jupyter():
    # Given every module of jupyter_workbench/export
    forbidden = {"jupyter_server", "tornado", "IPython", "ipywidgets", "notebook"}
    found = []
    for path in EXPORT_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        # When their imports are listed (top level and inside functions)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            found += [(path.name, n) for n in names if n.split(".")[0] in forbidden]
    # Then none is a Jupyter package
    assert found == []


def test_without_tensorflow_the_error_says_which_interpreter(tmp_path):
    # Given an interpreter where TensorFlow cannot be imported
    code = """
    import sys
    sys.modules["tensorflow"] = None
    from jupyter_workbench.export import ExportError, export_savedmodel
    try:
        export_savedmodel(sys.argv[1] + "/m.keras", sys.argv[1] + "/models", progress=False)
    except ExportError as err:
        print(err)
    """
    # When an export is attempted
    proc = run_python(code, str(tmp_path))
    # Then the message names the interpreter and the tf2 environment
    assert proc.returncode == 0, proc.stderr
    assert "TensorFlow is not installed" in proc.stdout and "tf2" in proc.stdout
