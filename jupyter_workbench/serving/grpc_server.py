"""The gRPC front end: ``tensorflow.serving.PredictionService`` and ``ModelService`` from the
official protos (``tensorflow-serving-api``), so the official client works unchanged."""

from __future__ import annotations

import logging
from concurrent import futures

import grpc

from .status import RequestError

log = logging.getLogger("jupyter_workbench.serving")

_CODES = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "UNIMPLEMENTED": grpc.StatusCode.UNIMPLEMENTED,
}


def _call(context, fn, request):
    try:
        return fn(request)
    except RequestError as err:
        context.abort(_CODES.get(err.code, grpc.StatusCode.UNKNOWN), str(err))
    except (ValueError, TypeError) as err:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
    except Exception as err:
        log.exception("gRPC request failed")
        context.abort(grpc.StatusCode.INTERNAL, f"{type(err).__name__}: {err}")


def bind(host: str, port: int, workers: int = 16):
    """A gRPC server bound to ``host:port`` (not started); ``OSError`` if the port is taken.

    ``workers`` threads answer requests; concurrent Predict calls wait in the signature's
    batcher and run as one TensorFlow call, so more workers than clients means bigger batches.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        # no SO_REUSEPORT: a second server on the same port must fail, not share it
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", 256 << 20),
            ("grpc.max_send_message_length", 256 << 20),
        ],
    )
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as err:
        raise OSError(f"cannot bind {address}: {err}") from None
    if not bound:
        raise OSError(f"cannot bind {address}")
    return server, bound


def attach(server, core) -> None:
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            return _call(context, core.grpc_predict, request)

        def Classify(self, request, context):
            return _call(context, core.grpc_classify, request)

        def Regress(self, request, context):
            return _call(context, core.grpc_regress, request)

        def GetModelMetadata(self, request, context):
            return _call(context, core.grpc_metadata, request)

    class Models(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):
            return _call(context, core.grpc_status, request)

    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Prediction(), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(Models(), server)
