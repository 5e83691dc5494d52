"""jupyter-workbench: a data-science workbench for JupyterLab 4.

Extension points live here and stay cheap: importing this package imports neither
TensorFlow nor jupyter_server. Heavy parts are imported on first use.
"""

from ._version import __version__

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension"]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-workbench"}]


def _jupyter_server_extension_points():
    from .app import Workbench

    return [{"module": "jupyter_workbench.app", "app": Workbench}]


def load_ipython_extension(ipython):
    """``%load_ext jupyter_workbench``: registers %savedmodel and %mounts."""
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):
    pass
