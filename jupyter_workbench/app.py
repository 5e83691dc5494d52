"""The jupyter-workbench server extension: configuration (``c.Workbench``) and handler registration.

Heavy parts (TensorFlow, fsspec backends) are never imported here; the REST handlers in
``jupyter_workbench.api`` call into the Jupyter-free libraries (``export``, ``storage``,
``environments``, ``session``).
"""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, List, Unicode, default

from ._version import __version__
from .session.activity import SessionPolicy


class Workbench(ExtensionApp):
    """Data-science workbench for JupyterLab: mounts, environments, sessions, SavedModel export."""

    name = "jupyter_workbench"
    description = __doc__
    # Config lives on ``c.Workbench`` (DESIGN.md); the extension is loaded by jpserver_extensions.
    load_other_extensions = True

    # The core objects, one per server (set in initialize_settings).
    mounts = None  # storage.service.MountService
    exports = None  # export.service.ExportService
    environments = None  # environments.service.EnvironmentService
    jobs = None  # session.jobs.JobManager
    session = None  # session.activity.SessionPolicy
    serving = None  # serving.manager.ServingService

    session_absolute_timeout = Int(
        SessionPolicy.absolute_timeout,
        config=True,
        help="Seconds from login until a browser session expires (PAI-DSW: 3 h). 0 = never.",
    )
    session_idle_timeout = Int(
        SessionPolicy.idle_timeout,
        config=True,
        help="Seconds without user activity until a browser session expires. 0 = off.",
    )
    session_warning = Int(
        SessionPolicy.warning,
        config=True,
        help="Seconds before expiry at which the frontend warns the user.",
    )
    mount_dir = Unicode(
        "mnt", config=True, help="Folder under the server root where mounts appear (mnt/<name>)."
    )
    allowed_local_roots = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Local directories (e.g. NAS mount points) that file:// mounts may expose.",
    )
    fuse_mounts = Bool(
        True,
        config=True,
        help="Also show each mount as a real directory through FUSE where /dev/fuse is usable, "
        "so plain open() works in kernels.",
    )
    listing_page_size = Int(
        1000,
        config=True,
        help="Entries asked of the store per listing request (ListObjects max-keys, 1..1000).",
    )
    listing_limit = Int(
        10_000,
        config=True,
        help="Entries the file browser lists of one mount folder. A larger folder shows a "
        "banner saying so, with a button that loads the next listing_limit entries.",
    )
    environments_dir = Unicode(
        config=True,
        help="Where the py3/tf2 virtual environments live "
        "(default: <jupyter data dir>/workbench/envs, or $JUPYTER_WORKBENCH_ENVS_DIR).",
    )
    default_kernel = Unicode(
        "py3",
        config=True,
        help="Environment (py3, tf2) or kernel name that new notebooks and consoles start with, "
        "when it is ready at server start; empty keeps Jupyter's default (python3).",
    )
    export_python = Unicode(
        "",
        config=True,
        help="Python interpreter for server-side exports. Default: the tf2 environment's when it "
        "is ready, else the server's own interpreter if it has TensorFlow.",
    )
    serving_python = Unicode(
        "",
        config=True,
        help="Python interpreter for model servers started from the sidebar (needs TensorFlow "
        "and tensorflow-serving-api). Default: export_python, else the tf2 environment's.",
    )
    job_interpreters = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Interpreter paths a background job may name as its environment besides the "
        "workbench environments and Python kernels (none by default: no /bin/sh).",
    )
    job_retention_days = Float(
        7.0,
        config=True,
        help="Days a finished background job (notebook, script, export, environment creation) "
        "is kept with its log; older ones are removed at server start and every hour. "
        "0 keeps every job. Files a job wrote outside its record (a notebook's executed copy, "
        "an exported model) are never removed.",
    )
    max_body_size = Int(
        1 << 20,
        config=True,
        help="Largest request body (bytes) a workbench endpoint accepts; larger ones are "
        "answered 413 before they are read.",
    )
    serving_max_body_size = Int(
        64 << 20,
        config=True,
        help="Largest request body (bytes) the proxy of a model server's REST API "
        "(workbench/api/serving/NAME/v1/...) passes on, e.g. a batch of images to predict; "
        "every other workbench endpoint keeps max_body_size.",
    )
    export_url_protocols = List(
        Unicode(),
        config=True,
        help="URL protocols a server-side export may publish to besides the server root and "
        "mounts (never local ones such as file:// outside the root, memory:// or '::' chains).",
    )
    export_timeout = Int(
        3600, config=True, help="Seconds after which a server-side export is stopped."
    )

    @default("export_url_protocols")
    def _default_export_url_protocols(self):
        from .confine import DEFAULT_URL_PROTOCOLS

        return list(DEFAULT_URL_PROTOCOLS)

    @default("environments_dir")
    def _default_environments_dir(self):
        env = os.environ.get("JUPYTER_WORKBENCH_ENVS_DIR")
        if env:
            return env
        from jupyter_core.paths import jupyter_data_dir

        return os.path.join(jupyter_data_dir(), "workbench", "envs")

    @property
    def root_dir(self) -> str:
        """The server's contents root (absolute)."""
        root = getattr(self.serverapp, "root_dir", None) or os.getcwd()
        return os.path.abspath(os.path.expanduser(root))

    def features(self) -> dict[str, bool]:
        """What this server offers; the frontend shows only these sections."""
        from .api import available_features

        return available_features()

    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)  # reads the traits from the config
        # The session policy is needed before initialize_settings: the identity provider that
        # applies it is created (and logs it) first. Built here, once, from the traits, and
        # handed to that provider when the server creates it.
        self.session = self._session_policy()
        serverapp.observe(self._hand_session_policy, names="identity_provider")
        # Files in jupyter_server_config.d only enable extensions, so the server's managers are
        # chosen here: the extension is linked before ServerApp creates them. A class the user
        # configured is kept.
        _use_class(
            serverapp,
            "contents_manager_class",
            "jupyter_workbench.contents",
            "WorkbenchContentsManager",
        )
        _use_class(
            serverapp,
            "kernel_spec_manager_class",
            "jupyter_workbench.environments.kernelspecs",
            "WorkbenchKernelSpecManager",
        )
        if not _gateway_enabled(serverapp):  # remote kernels have no local working folder
            _use_class(
                serverapp,
                "kernel_manager_class",
                "jupyter_workbench.contents.kernels",
                "WorkbenchKernelManager",
            )
        from .session.identity import enable_session_expiry

        # Also under jupyterhub-singleuser, linked before or after us (the trait is watched).
        enable_session_expiry(serverapp)

    def initialize_settings(self):
        self.settings["workbench"] = self
        from .environments.kernelspecs import attach_to_server, set_default_kernel

        # The py3/tf2 kernelspecs come from the environments themselves (no writes to the
        # user's Jupyter dirs); needs ServerApp.kernel_spec_manager_class from our config file.
        attach_to_server(self.serverapp, self.environments_dir)
        set_default_kernel(self.serverapp, self.default_kernel)
        # The core objects: built once from the traits (read here, once; the session policy
        # when linked) and handed to the handlers through the tornado settings
        # (``api.base.WorkbenchHandler.<capability>``).
        self.mounts = self._mount_service()
        # One background-task model: exports and environment creations are jobs of this
        # manager (detached, on disk), and their REST APIs are views of those jobs.
        self.jobs = self.job_manager()
        self.jobs.start_retention()  # old finished jobs go now and every hour, off the loop
        self.exports = self._export_service()
        self.environments = self._environment_service()
        from .serving.manager import ServingService

        self.serving = ServingService(
            self.root_dir,
            python=self.serving_python or self.export_python,
            environments_dir=self.environments_dir,
        )
        self.settings.update(
            workbench_serving=self.serving,
            workbench_mounts=self.mounts,
            workbench_exports=self.exports,
            workbench_environments=self.environments,
            workbench_jobs=self.jobs,
            workbench_session=self.session,
        )
        from .session.identity import check_session_expiry, keep_token_out_of_pages

        if check_session_expiry(self.serverapp):  # else one warning: cannot be enforced
            keep_token_out_of_pages(self.serverapp)  # no long-lived credential in any page
        from .session import usage

        # last_activity (what JupyterHub is told) = use: user actions, busy kernels, jobs.
        usage.install(self.serverapp, jobs_running=self._jobs_running)
        self.log.info("jupyter-workbench %s loaded (root %s)", __version__, self.root_dir)

    def _session_policy(self) -> SessionPolicy:
        return SessionPolicy(
            self.session_absolute_timeout, self.session_idle_timeout, self.session_warning
        )

    def _hand_session_policy(self, change) -> None:
        """Give a workbench identity provider this extension's policy as the server creates it."""
        from .session.identity import enforces_expiry

        if enforces_expiry(change["new"]):
            change["new"].workbench_policy = self.session

    def _export_service(self):
        from .export.service import ExportService

        return ExportService(
            self.root_dir,
            self.jobs,
            export_python=self.export_python,
            environments_dir=self.environments_dir,
            timeout=self.export_timeout,
            url_protocols=self.export_url_protocols,
            logger=self.log,
        )

    def _environment_service(self):
        from .environments.service import EnvironmentService

        return EnvironmentService(self.environments_dir, self.jobs, logger=self.log)

    def _jobs_running(self) -> bool:
        return any(not job.finished for job in self.jobs.list())

    def job_manager(self):
        """A ``JobManager`` over the server's root and environments (jobs live on disk, so a
        new one finds every job an earlier one started)."""
        from .session.jobs import JobManager

        mounts = self.mounts
        retention = self.job_retention_days
        if retention < 0:
            self.log.error("job_retention_days must be 0 (keep) or more; using 7.")
            retention = 7.0
        return JobManager(
            root_dir=self.root_dir,
            environments_dir=self.environments_dir,
            allowed_interpreters=self.job_interpreters,
            # what a job shows never holds a mount's secret (a job may print its options)
            secrets=mounts.registry.credentials.values if mounts is not None else None,
            retention_days=retention,
            logger=self.log,
        )

    def _mount_service(self):
        """The server's ``MountService``: records mount_dir and the allowed roots for kernels
        and the CLI, serves the contents bridge, mounts FUSE directories in the background."""
        from .contents import WorkbenchContentsManager
        from .storage import StorageError
        from .storage.service import MountService, resolve_mount_dir

        try:
            mount_dir = resolve_mount_dir(self.mount_dir, self.root_dir)
        except StorageError as e:
            self.log.error("Invalid mount setting (%s); using mount_dir='mnt'.", e.message)
            mount_dir = "mnt"
        page_size = self.listing_page_size
        if not 1 <= page_size <= 1000:
            self.log.error("listing_page_size must be between 1 and 1000; using 1000.")
            page_size = 1000
        listing_limit = self.listing_limit
        if listing_limit < 1:
            self.log.error("listing_limit must be at least 1; using 10000.")
            listing_limit = 10_000
        cm = self.serverapp.contents_manager
        bridged = isinstance(cm, WorkbenchContentsManager)
        service = MountService(
            mount_dir=mount_dir,
            root_dir=self.root_dir,
            allowed_local_roots=self.allowed_local_roots,
            listing_page_size=page_size,
            listing_limit=listing_limit,
            fuse=self.fuse_mounts,
            in_file_browser=bridged,
            logger=self.log,
        )
        if bridged:
            cm.mount_service = service
        else:
            self.log.warning(
                "Mounts will not appear in the file browser: the contents manager is %s; set "
                "ServerApp.contents_manager_class = "
                "'jupyter_workbench.contents.WorkbenchContentsManager'.",
                type(cm).__name__,
            )
        try:
            service.record_settings()
        except OSError as e:
            self.log.warning(
                "Could not record mount settings in %s: %s", service.registry.state_dir, e
            )
        service.start()
        return service

    def initialize_handlers(self):
        from .api import collect_handlers

        self.handlers.extend(collect_handlers())
        from .contents import WorkbenchContentsManager

        if isinstance(self.serverapp.contents_manager, WorkbenchContentsManager):
            from .contents.handlers import MountContentsHandler, handler_pattern

            # Big mount listings are encoded off the event loop (routes of extensions win).
            pattern = handler_pattern(self.serverapp.contents_manager.mount_dir)
            self.handlers.append((pattern, MountContentsHandler))

    async def stop_extension(self):
        # Model servers and mounts are stopped (they live with this process); jobs (notebooks,
        # scripts, exports, environment creations) outlive it.
        if self.jobs is not None:
            self.jobs.stop_retention()
        if self.serving is not None:
            self.serving.stop_all()
        if self.mounts is not None:
            await self.mounts.stop()


def _gateway_enabled(serverapp) -> bool:
    try:
        return bool(serverapp.gateway_config.gateway_enabled)
    except Exception:  # noqa: BLE001 - no gateway configuration: local kernels
        return False


def _use_class(serverapp, trait: str, module: str, name: str) -> None:
    """Set ``ServerApp.<trait>`` to the workbench class unless the user configured one."""
    if trait in serverapp.config.get("ServerApp", {}):
        serverapp.log.warning(
            "jupyter-workbench: ServerApp.%s is configured, so %s.%s is not used; subclass it "
            "to combine both.",
            trait,
            module,
            name,
        )
        return
    import importlib

    setattr(serverapp, trait, getattr(importlib.import_module(module), name))
