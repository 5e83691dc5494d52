"""The contents bridge: mounts in JupyterLab's stock file browser.

``WorkbenchContentsManager`` is jupyter_server's ``AsyncLargeFileManager`` with one difference:
API paths under the mount directory (``c.Workbench.mount_dir``, default ``mnt``) that start with
a mount's name, ``mnt/<name>/...``, are served from that mount's fsspec filesystem; every other
path goes to the parent class unchanged. ``mnt`` itself lists the mounts as folders, merged with
whatever real files are there. Along jupyter_server's own seams:

=================  ===========================================================================
``manager``        the router (``WorkbenchContentsManager``) and moves/copies across owners
``mount``          ``MountContents``: get, save, delete, rename on one mount
``uploads``        chunked uploads streamed into one upload, committed with the last chunk
``checkpoints``    checkpoints of mount files in a local cache, never on the storage
``files``          ``/files/mnt/<name>/...`` streamed in ranged chunks (``MountFilesHandler``)
``handlers``       ``/api/contents/mnt/...``: big listings' JSON encoded off the event loop
``models``         contents models, times, content types
``kernels``        ``WorkbenchKernelManager``: a kernel opened in a mount folder works there
=================  ===========================================================================

How it behaves on a mount:

- Directory listings are ``storage.list_page`` calls (one ListObjects per
  ``c.Workbench.listing_page_size`` keys on OSS/S3, no HEAD per object) up to the folder's bound,
  ``c.Workbench.listing_limit`` (10,000) entries unless the user loaded more. A model that stops
  early carries ``"truncated": true`` and ``"next_marker"``; the stock file browser ignores both,
  so the labextension asks ``workbench/api/mounts/<name>/listing/more`` after each listing and
  shows a banner in the file browser with "Load the next N", which raises that folder's bound.
- Every call to the store runs on the mount's own bounded thread pool (``MountService.run``): a
  slow or unreachable store never blocks the server's event loop, other mounts or local files.
  So does the per-entry work of a listing (its models and JSON, ``MountService.run_cpu``), one
  thread of the process computing at a time (``storage.compute``).
- Missing files answer 404, existing targets 409, read-only mounts refuse writes with 403, store
  failures (unreachable, repeated 5xx) 502 and rejected credentials 400, each with a message that
  says what to do. Names are kept as they are (spaces included).
- Saves write to a temporary object or file that replaces the old one only once complete
  (``storage.writes``): a save that fails leaves the previous content and is reported as failed.
"""

from .checkpoints import WorkbenchCheckpoints
from .files import MountFilesHandler
from .manager import Route, WorkbenchContentsManager
from .mount import MountContents

__all__ = [
    "MountContents",
    "MountFilesHandler",
    "Route",
    "WorkbenchCheckpoints",
    "WorkbenchContentsManager",
]
