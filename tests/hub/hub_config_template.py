# The test hub's jupyterhub_config.py (conftest.write_config prepends ``S``: ports, paths,
# tokens). Not collected by pytest: it is run by JupyterHub with ``c`` defined.
# ruff: noqa: F821
c.JupyterHub.bind_url = f"http://127.0.0.1:{S['ports']['public']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{S['ports']['hub']}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{S['ports']['proxy_api']}"
c.ConfigurableHTTPProxy.command = [S["chp"]]
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "hub-test-password"
c.Authenticator.allowed_users = {"alice", "bob"}
if S["unix_users"]:
    # Real Unix users: hub user alice is Unix user wbhub<run>-alice (conftest.UNIX_USERS); the rest
    # is JupyterHub's LocalProcessSpawner (setuid to the user, their HOME, their shell).
    import pwd

    from jupyterhub.spawner import LocalProcessSpawner

    class UnixUserSpawner(LocalProcessSpawner):
        def make_preexec_fn(self, name):
            return super().make_preexec_fn(S["unix_users"][name])

        def user_env(self, env):
            pw = pwd.getpwnam(S["unix_users"][self.user.name])
            env.update(USER=pw.pw_name, HOME=pw.pw_dir, SHELL=pw.pw_shell)
            return env

    c.JupyterHub.spawner_class = UnixUserSpawner
else:
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = S["homes"] + "/{username}"
c.Spawner.cmd = [S["python"], S["singleuser"]]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {
    "PYTHONPATH": S["repo"],
    # The user's Jupyter dirs (this checkout's frontend) before the virtualenv's (jupyter_core
    # prefers the environment's inside a virtualenv).
    "JUPYTER_PREFER_ENV_PATH": "0",
    "PATH": S["path"],
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "JUPYTERHUB_ACTIVITY_INTERVAL": str(S["activity_interval"]),
    "WORKBENCH_TEST_LINK_ORDER": lambda spawner: S["link_order"][spawner.user.name],
}
# The proxy's per-route activity is read this often (the hub's default is 300 s).
c.JupyterHub.last_activity_interval = S["activity_interval"]
c.JupyterHub.log_level = "INFO"


def _pre_spawn(spawner):
    spawner.args = list(S["user_args"][spawner.user.name])


c.Spawner.pre_spawn_hook = _pre_spawn
c.JupyterHub.services = [
    {"name": "workbench-tests", "api_token": S["admin_token"]},
    {"name": "idle-culler", "api_token": S["culler_token"]},
]
c.JupyterHub.load_roles = [
    {
        "name": "workbench-tests",
        "scopes": ["admin:users", "admin:servers", "tokens", "read:users:activity"],
        "services": ["workbench-tests"],
    },
    {
        # What jupyterhub-idle-culler's README asks for.
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
