"""GraphiQL's browser assets, copied from node_modules into ``api/static/vendor/``.

The API serves GraphiQL from these local files only (never from a CDN: users run
offline). They are third-party code, so they are not committed: ``npm ci``
fetches them, and this module copies the few files the page needs (with their
licences) into the package, where the wheel picks them up as package data::

    npm ci && python -m api.assets          # or: python -m api.assets --check
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
VENDOR_DIR = STATIC_DIR / "vendor"
REPO_ROOT = Path(__file__).resolve().parent.parent

# served name -> path under node_modules
VENDOR_FILES = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}
LICENSES = {
    "LICENSE.react.txt": "react/LICENSE",
    "LICENSE.react-dom.txt": "react-dom/LICENSE",
    "LICENSE.graphiql.txt": "graphiql/LICENSE",
}
INSTALL_HINT = "run `npm ci` and then `python -m api.assets` in the repository (scripts/test and scripts/serve do both)"


def missing() -> list[str]:
    """Names of vendor files the GraphiQL page needs that are not installed."""
    return [name for name in VENDOR_FILES if not (VENDOR_DIR / name).is_file()]


def install(node_modules: Path) -> list[Path]:
    """Copy the vendor files out of ``node_modules``; returns the files written."""
    absent = [rel for rel in (*VENDOR_FILES.values(), *LICENSES.values()) if not (node_modules / rel).is_file()]
    if absent:
        raise FileNotFoundError(f"not in {node_modules}: {', '.join(absent)}; run `npm ci` first")
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rel in {**VENDOR_FILES, **LICENSES}.items():
        target = VENDOR_DIR / name
        shutil.copyfile(node_modules / rel, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-modules", type=Path, default=REPO_ROOT / "node_modules")
    parser.add_argument("--check", action="store_true", help="only report whether the assets are installed")
    args = parser.parse_args(argv)
    if args.check:
        absent = missing()
        if absent:
            print(f"GraphiQL assets missing: {', '.join(absent)}; {INSTALL_HINT}", file=sys.stderr)
            return 1
        print(f"GraphiQL assets installed in {VENDOR_DIR}")
        return 0
    try:
        written = install(args.node_modules)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"copied {len(written)} GraphiQL asset files into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
