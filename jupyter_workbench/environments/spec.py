"""The py3 and tf2 environment definitions, where they live, and GPU visibility.

Everything here is cheap: no subprocess except ``nvidia-smi -L`` (cached), no Jupyter import.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import WorkbenchEnvError

#: Environment variable overriding the environments directory (any process: server, CLI, tests).
ENVS_DIR_ENV = "JUPYTER_WORKBENCH_ENVS_DIR"
#: ``1``/``0`` forces GPU visibility on/off (default: ask ``nvidia-smi -L``).
GPU_ENV = "JUPYTER_WORKBENCH_GPU"
#: Written last, only after a successful install and verification.
MARKER_NAME = ".workbench-ready.json"
#: Bumped when the marker's layout or the provisioning contract changes.
MARKER_FORMAT = 1

TENSORFLOW_VERSION = "2.21.0"

# What the workbench package needs inside a kernel: the magics and mounts
# (``jupyter_workbench.mounts.filesystem(...)``) read object storage through fsspec.
KERNEL_SIDE_REQUIREMENTS = (
    "ipykernel>=6.29",
    "fsspec>=2024.6",
    "ossfs>=2025.5",
    "s3fs>=2024.6",
    "tqdm>=4.60",
)


@dataclass(frozen=True)
class EnvironmentSpec:
    """One provisionable environment.

    ``requirements`` are installed with one ``pip install`` (resolved together);
    ``nodeps_requirements`` afterwards with ``pip install --no-deps`` (tf_keras: a plain install
    would pull the full ``tensorflow`` wheel over ``tensorflow-cpu``). ``gpu_requirements`` replace
    ``requirements`` entries by name when a GPU is visible. ``conflicts`` maps the build in use to
    distributions that must be uninstalled first (switching between the CPU and GPU TensorFlow
    wheels, which install the same files).
    """

    name: str
    display_name: str
    description: str
    requirements: tuple[str, ...]
    nodeps_requirements: tuple[str, ...] = ()
    gpu_requirements: dict[str, str] = field(default_factory=dict)
    key_packages: tuple[str, ...] = ()
    import_checks: tuple[str, ...] = ()
    gpu_aware: bool = False
    conflicts_cpu: tuple[str, ...] = ()
    conflicts_gpu: tuple[str, ...] = ()

    @property
    def kernel_name(self) -> str:
        return self.name

    def plan(self, gpu: bool = False) -> dict:
        """The concrete install plan for this machine (``gpu`` only matters for gpu-aware specs)."""
        use_gpu = bool(gpu and self.gpu_aware)
        reqs = []
        for req in self.requirements:
            key = _req_name(req)
            reqs.append(self.gpu_requirements.get(key, req) if use_gpu else req)
        plan = {
            "requirements": reqs,
            "nodeps_requirements": list(self.nodeps_requirements),
            "uninstall_first": list(self.conflicts_gpu if use_gpu else self.conflicts_cpu),
            "gpu_build": use_gpu if self.gpu_aware else None,
        }
        return plan

    def fingerprint(self, gpu: bool = False) -> str:
        """Identifies what an environment built from this spec contains (stale markers differ)."""
        blob = json.dumps(
            {"format": MARKER_FORMAT, "name": self.name, "plan": self.plan(gpu)}, sort_keys=True
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _req_name(req: str) -> str:
    """``tensorflow-cpu==2.21.0`` -> ``tensorflow-cpu``; ``pkg[extra]>=1`` -> ``pkg``."""
    out = []
    for ch in req:
        if ch in "<>=!~[ ;@":
            break
        out.append(ch)
    return "".join(out).strip().lower().replace("_", "-")


PY3 = EnvironmentSpec(
    name="py3",
    display_name="Python 3 (py3)",
    description="Light Python 3: ipykernel and the workbench's kernel-side helpers "
    "(%savedmodel, %mounts, fsspec/ossfs/s3fs).",
    requirements=KERNEL_SIDE_REQUIREMENTS,
    key_packages=("ipykernel", "fsspec", "ossfs", "s3fs", "tqdm"),
    import_checks=("ipykernel", "fsspec", "jupyter_workbench"),
)

TF2 = EnvironmentSpec(
    name="tf2",
    display_name="TensorFlow 2 (tf2)",
    description=f"TensorFlow {TENSORFLOW_VERSION} (Keras 3, tf_keras for legacy .h5), numpy, "
    "pandas, the TF Serving API (model server) and the workbench's kernel-side helpers.",
    requirements=(
        f"tensorflow-cpu=={TENSORFLOW_VERSION}",
        "numpy",
        "pandas",
        # the model server's JSON (REST predict bodies; ~10x faster than the json module)
        "orjson>=3.9",
        # the model server's gRPC front end: HTTP/2 header (HPACK) decoding, pure Python
        "hpack>=4",
        *KERNEL_SIDE_REQUIREMENTS,
    ),
    # Same version as TensorFlow; --no-deps so the second TensorFlow wheel is not dragged in.
    # tensorflow-serving-api: the model server's protos (grpcio comes with TensorFlow).
    nodeps_requirements=(
        f"tf_keras=={TENSORFLOW_VERSION}",
        f"tensorflow-serving-api=={TENSORFLOW_VERSION}",
    ),
    gpu_requirements={"tensorflow-cpu": f"tensorflow[and-cuda]=={TENSORFLOW_VERSION}"},
    key_packages=(
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "tf_keras",
        "tensorflow-serving-api",
        "grpcio",
        "numpy",
        "pandas",
        "ipykernel",
        "fsspec",
        "ossfs",
        "s3fs",
        "tqdm",
    ),
    import_checks=(
        "ipykernel",
        "jupyter_workbench",
        "tensorflow",
        "tf_keras",
        "pandas",
        "grpc",
        "hpack",
        "tensorflow_serving.apis.prediction_service_pb2_grpc",
    ),
    gpu_aware=True,
    conflicts_cpu=("tensorflow",),
    conflicts_gpu=("tensorflow-cpu",),
)

SPECS: dict[str, EnvironmentSpec] = {s.name: s for s in (PY3, TF2)}


def environment_names() -> list[str]:
    return list(SPECS)


def get_spec(name: str) -> EnvironmentSpec:
    """The spec named ``name``; a clear :class:`WorkbenchEnvError` for anything else."""
    spec = SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        known = ", ".join(SPECS)
        raise WorkbenchEnvError(
            f"Unknown environment {name!r}: the workbench provides {known}.",
            environment=name if isinstance(name, str) else None,
            kind="unknown",
        )
    return spec


def default_environments_dir() -> Path:
    """``$JUPYTER_WORKBENCH_ENVS_DIR``, else ``<jupyter data dir>/workbench/envs``."""
    override = os.environ.get(ENVS_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "workbench" / "envs"


def resolve_environments_dir(environments_dir: str | os.PathLike | None = None) -> Path:
    """An explicit directory wins, then the environment variable, then the default."""
    if environments_dir:
        return Path(environments_dir).expanduser().absolute()
    return default_environments_dir().absolute()


_GPU_CACHE: dict[str, tuple[float, bool]] = {}
_GPU_LOCK = threading.Lock()
_GPU_TTL_S = 60.0


def gpu_visible(refresh: bool = False) -> bool:
    """Whether an NVIDIA GPU is visible to processes started from here.

    ``JUPYTER_WORKBENCH_GPU=1|0`` forces the answer; ``CUDA_VISIBLE_DEVICES`` set to ``""`` or
    ``-1`` hides GPUs; otherwise ``nvidia-smi -L`` must list at least one ``GPU``. Cached for a
    minute (discovery is called on every environments request).
    """
    forced = os.environ.get(GPU_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip() in ("", "-1"):
        return False
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    now = time.monotonic()
    with _GPU_LOCK:
        hit = _GPU_CACHE.get(exe)
        if hit and not refresh and now - hit[0] < _GPU_TTL_S:
            return hit[1]
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=15, check=False)
        found = out.returncode == 0 and any(
            line.strip().startswith("GPU ") for line in out.stdout.splitlines()
        )
    except (OSError, subprocess.SubprocessError):
        found = False
    with _GPU_LOCK:
        _GPU_CACHE[exe] = (now, found)
    return found
