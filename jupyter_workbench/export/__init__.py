"""The shared SavedModel export library: ``export_savedmodel`` and ``inspect_savedmodel``.

No Jupyter imports and no TensorFlow at import time (TensorFlow is imported inside the
functions), so scripts, the ``%savedmodel`` magic, ``jupyter workbench export`` and the server
(through ``python -m jupyter_workbench.export.worker``) share this one implementation.

>>> from jupyter_workbench.export import export_savedmodel, inspect_savedmodel
>>> r = export_savedmodel(model, "models/mnist", inputs="image", outputs="scores",
...                       signature_name="predict_images")
>>> r.path, r.version, r.signatures, r.size_bytes, r.max_abs_diff
"""

from .api import export_savedmodel
from .errors import ExportError
from .inspect import SavedModelInfo, inspect_savedmodel
from .result import ExportResult

__all__ = [
    "ExportError",
    "ExportResult",
    "SavedModelInfo",
    "export_savedmodel",
    "inspect_savedmodel",
]
