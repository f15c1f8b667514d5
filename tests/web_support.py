"""Helpers for the browser tests: Debian's Chromium driven by Playwright, a demo ledger served live."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from api_support import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"


def chromium_path() -> str:
    """Debian's chromium (scripts/_setup.sh installs it); Playwright never downloads a browser here."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("the browser tests need Chromium: apt-get install chromium (scripts/test does, as root)")


def load_demo(url: str) -> None:
    claims = Path(sys.executable).with_name("claims")
    run = subprocess.run([str(claims), "--database", url, "demo"], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
