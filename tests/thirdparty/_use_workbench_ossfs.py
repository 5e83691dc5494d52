"""pytest plugin (``-p``): ossfs's own tests run against the workbench's fixed OSS filesystem.

Loaded before ossfs's conftest imports ``from ossfs import OSSFileSystem, AioOSSFileSystem``,
so every test gets :class:`~jupyter_workbench.storage.ossfix.WorkbenchOSSFileSystem`: the
workbench has one OSS class, and the suite's ``async`` variants then check the same behaviour a
second time through it (ossfs's own ``AioOSSFileSystem`` cannot be instantiated with the
fsspec installed here).
"""

import ossfs

from jupyter_workbench.storage import register_fsspec_oss
from jupyter_workbench.storage.ossfix import WorkbenchOSSFileSystem


class WorkbenchOSSFileSystemAsyncVariant(WorkbenchOSSFileSystem):
    """The same class under another name: ossfs's tests put each variant's files under a path
    named after the class, so the ``async`` run must not see the ``sync`` run's leftovers."""


ossfs.OSSFileSystem = WorkbenchOSSFileSystem
ossfs.AioOSSFileSystem = WorkbenchOSSFileSystemAsyncVariant
register_fsspec_oss()
