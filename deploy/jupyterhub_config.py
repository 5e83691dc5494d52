# jupyterhub_config.py: the workbench for a team on one machine (JupyterHub 6, local spawner).
#   pip install jupyterhub==6.1.1 jupyterhub-idle-culler jupyter-workbench
#   npm install -g configurable-http-proxy@5      (or any prefix on PATH)
#   jupyterhub -f jupyterhub_config.py
# Every user is a Unix account (PAM login, the default authenticator); each single-user server
# runs as that user, so mounts, credentials (mode 0600) and jobs stay in the user's home.
#
# One py3/tf2 for the whole team, created once by the admin (root) into a directory users can
# read but not write, from a Python every user can run (not one under /root; umask 022):
#   export JUPYTER_WORKBENCH_ENVS_DIR=/opt/workbench/envs
#   sudo -E jupyter workbench env create py3 --no-kernelspec
#   sudo -E jupyter workbench env create tf2 --no-kernelspec
# Each user's kernels then run from it; %pip install / !pip install in a kernel go into the
# user's own overlay of that environment (~/.local/share/jupyter/workbench/overlays/<env>).
import sys

c = get_config()  # noqa: F821

c.JupyterHub.bind_url = "http://:8000"
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Authenticator.allowed_users = {"alice", "bob"}
c.Spawner.default_url = "/lab"

# Login expiry (PAI-DSW's 3 h) and an idle logout: once an idle login expires the page sends
# nothing, so the hub and the culler see the server idle even with the tab still open.
c.Spawner.args = [
    "--Workbench.session_absolute_timeout=10800",
    "--Workbench.session_idle_timeout=1800",
    "--Workbench.environments_dir=/opt/workbench/envs",
]
# How often servers report activity (jobs, busy kernels, user input) and the hub reads the
# proxy's: small enough for the culler's timeout below.
c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": "60"}
c.JupyterHub.last_activity_interval = 60

# Stop servers idle for an hour after the idle logout; servers with a running background job
# or a busy kernel report activity and are never culled.
c.JupyterHub.services = [
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }
]
