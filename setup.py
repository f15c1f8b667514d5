"""Builds the browser assets into the package when a wheel is built.

Everything else is declared in pyproject.toml. GraphiQL's files and the web
frontend's bundle are built from npm packages (never committed, never loaded
from a CDN), so ``build_py`` first runs ``npm ci`` (when node_modules is
absent) and ``python -m api.web.assets``, and fails with the reason when it cannot.
Editable installs skip this: scripts/serve and scripts/test run the same step.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def build_browser_assets() -> None:
    if not (ROOT / "node_modules").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            sys.exit(
                "error: building claims-ledger needs its browser assets, built from npm packages: "
                "install Node.js >= 18 with npm (or run `npm ci` in the source tree first)"
            )
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, stdin=subprocess.DEVNULL)
    run = subprocess.run([sys.executable, "-m", "api.web.assets"], cwd=ROOT, check=False)
    if run.returncode != 0:
        sys.exit("error: `python -m api.web.assets` could not build GraphiQL's files and the web frontend (see above)")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            build_browser_assets()
            self.__dict__.pop("data_files", None)  # found before the assets existed: look again
        super().run()


setup(cmdclass={"build_py": BuildPyWithAssets})
