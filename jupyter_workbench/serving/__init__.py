"""Serving SavedModels the way TF Serving does: its REST and gRPC APIs, version policies, hot
reload and warmup, in a process of its own.

TF Serving's binary is not installable from PyPI or Debian, so the workbench speaks its protocol
itself. The server runs with the tf2 environment's interpreter (``python -m
jupyter_workbench.serving``); importing this package never imports TensorFlow:

>>> from jupyter_workbench.serving import start_server
>>> server = start_server("models/mnist", port=0, grpc_port=0)
>>> server.url                       # http://127.0.0.1:PORT/v1/models/mnist
>>> server.predict([[0.1, 0.2, 0.3, 0.4]])
>>> server.stop()

Modules: :mod:`.options` (the CLI/magic parser), :mod:`.discovery` (versions under a base, no
TensorFlow), :mod:`.launcher` (the child process), and in the server process :mod:`.model`
(loaded versions, the poller), :mod:`.service` (requests), :mod:`.codec` (TF Serving's JSON),
:mod:`.rest` and :mod:`.grpc_server` (front ends).
"""

from .errors import ServingError
from .launcher import ModelServer, start_server

__all__ = ["ModelServer", "ServingError", "start_server"]
