"""``jupyterhub-singleuser`` for the test hub, with a chosen extension link order.

jupyter_server links extensions in sorted order (``jupyter_workbench`` before
``jupyterhub.singleuser``). ``WORKBENCH_TEST_LINK_ORDER=reversed`` links them the other way,
so the tests see the workbench's behaviour under JupyterHub for both orders. Also records
the server's pid in ``$HOME/singleuser.pid`` so the tests can clean up whatever is left.
"""

import os
import sys
from pathlib import Path

if os.environ.get("WORKBENCH_TEST_LINK_ORDER") == "reversed":
    from jupyter_server.extension.manager import ExtensionManager

    ExtensionManager.sorted_extensions = property(
        lambda self: dict(sorted(self.extensions.items(), reverse=True))
    )

Path(os.environ["HOME"], "singleuser.pid").write_text(str(os.getpid()))
from jupyterhub.singleuser import main  # noqa: E402

sys.exit(main())
