"""The frontend's translations are complete and compiled (scripts/translations.py --check)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "jupyter_workbench" / "locale" / "zh_CN" / "LC_MESSAGES" / "jupyter_workbench.json"


def test_every_frontend_string_has_a_zh_cn_translation_and_the_json_is_current():
    # When the check runs over the TypeScript sources and the settings schema
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "translations.py"), "--check"],
        capture_output=True,
        text=True,
    )
    # Then nothing is untranslated, unused or stale
    assert result.returncode == 0, result.stderr


def test_the_package_ships_the_domain_jupyterlab_server_loads():
    # Given the compiled catalogue in the package
    data = json.loads(LOCALE.read_text(encoding="utf-8"))
    # Then it names the labextension's gettext domain and translates its strings
    assert data[""]["domain"] == "jupyter_workbench"
    assert data["Mounts"] == ["挂载"]
    # and pyproject registers it under the entry point jupyterlab_server reads
    assert 'jupyter_workbench = "jupyter_workbench"' in (ROOT / "pyproject.toml").read_text()
