"""A wheel built from a clean clone carries GraphiQL and the web frontend, and serves both.

The clone is the committed tree (git clone of this repository); node_modules is linked from the
working copy so the test does not reach the npm registry (the build runs `npm ci` itself when
node_modules is absent). The wheel is installed into a fresh virtualenv and its app is asked for
the pages; its dependencies come from the test environment on PYTHONPATH, so the project itself
can only be imported from the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from api_support import REPO_ROOT

CHECK = """
import sys, tempfile
from pathlib import Path
import api
assert Path(api.__file__).is_relative_to(Path(sys.prefix)), api.__file__
from starlette.testclient import TestClient
from api.web.app import create_app
from api.settings import Settings
url = f"sqlite:///{tempfile.mkdtemp()}/ledger.db"
with TestClient(create_app(Settings.from_env({}, database_url=url))) as client:
    page = client.get("/")
    assert page.status_code == 200 and "/assets/app.js" in page.text, page.text
    assert client.get("/assets/app.js").status_code == 200
    graphiql = client.get("/graphql", headers={"Accept": "text/html"})
    assert graphiql.status_code == 200 and "not installed" not in graphiql.text, graphiql.text
    assert client.get("/static/vendor/graphiql.min.js").status_code == 200
print("served from", api.__file__)
"""


def run(command: list[str], cwd: Path, **env: str) -> str:
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ, **env}, timeout=300
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel_from_a_clean_clone_serves_graphiql_and_the_frontend(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], tmp_path)
    assert not (clone / "api" / "web" / "static" / "app.js").exists()  # built, never committed
    (clone / "node_modules").symlink_to(REPO_ROOT / "node_modules", target_is_directory=True)
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(dist),
         str(clone)], tmp_path)  # fmt: skip
    (wheel,) = dist.glob("claims_ledger-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in ("api/web/graphiql_assets/vendor/graphiql.min.js", "api/web/graphiql_assets/vendor/react.production.min.js",
                     "api/web/graphiql_assets/graphiql-init.js", "api/web/static/app.js", "api/web/static/app.css",
                     "api/web/static/LICENSE.preact.txt", "api/graphql/schema.graphql"):  # fmt: skip
        assert expected in names, f"{expected} is not in {wheel.name}"

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)], tmp_path)
    # Dependencies from the test environment; the project itself only from the wheel.
    out = run([str(python), "-c", CHECK], tmp_path, PYTHONPATH=sysconfig.get_paths()["purelib"])
    assert "served from" in out and str(venv) in out
