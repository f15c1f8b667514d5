"""The browser assets: GraphiQL's, and the web frontend's bundle.

The API serves GraphiQL and the frontend from local files only (never from a
CDN: users run offline). They are built from npm packages, so they are not
committed: ``npm ci`` fetches the packages, and this module copies the few
GraphiQL files the page needs (with their licences) into ``api/web/graphiql_assets/vendor/``
and bundles the frontend (``api/web/src/``, with Preact, htm and graphql-ws)
with esbuild into ``api/web/static/app.js``, where the wheel picks them up as
package data. ``setup.py`` runs the same step when a wheel is built::

    npm ci && python -m api.web.assets          # or: python -m api.web.assets --check
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("graphiql_assets")  # GraphiQL's files, served at /static
VENDOR_DIR = STATIC_DIR / "vendor"
REPO_ROOT = Path(__file__).resolve().parents[2]

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
INSTALL_HINT = (
    "run `npm ci` and then `python -m api.web.assets` in the repository (scripts/test and scripts/serve do both)"
)

WEB_DIR = Path(__file__).resolve().parent
FRONTEND_ENTRY = WEB_DIR / "src" / "main.js"
FRONTEND_BUNDLE = WEB_DIR / "static" / "app.js"
# Licences of the libraries bundled into app.js, served beside it.
FRONTEND_LICENSES = {
    "LICENSE.preact.txt": "preact/LICENSE",
    "LICENSE.htm.txt": "htm/LICENSE",
    "LICENSE.graphql-ws.txt": "graphql-ws/LICENSE.md",
}


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


def build_frontend(node_modules: Path) -> list[Path]:
    """Bundle the frontend with esbuild (ES modules in, one minified ES module out)."""
    esbuild = node_modules / "esbuild" / "bin" / "esbuild"
    absent = [rel for rel in FRONTEND_LICENSES.values() if not (node_modules / rel).is_file()]
    if not esbuild.is_file() or absent:
        raise FileNotFoundError(f"esbuild or the frontend's libraries are not in {node_modules}; run `npm ci` first")
    # bin/esbuild is the native binary once npm's install script ran, a node launcher otherwise: run it as is.
    command = [str(esbuild), str(FRONTEND_ENTRY), "--bundle", "--format=esm", "--minify",
               "--target=es2020", "--legal-comments=none", "--log-level=warning", f"--outfile={FRONTEND_BUNDLE}"]  # fmt: skip
    try:
        run = subprocess.run(command, cwd=node_modules.parent, capture_output=True, text=True, check=False)
    except OSError as error:
        raise RuntimeError(
            f"could not run esbuild ({error}); it needs Node.js >= 18 unless npm installed its binary"
        ) from error
    if run.returncode != 0:
        raise RuntimeError(f"esbuild failed:\n{run.stderr}")
    written = [FRONTEND_BUNDLE]
    for name, rel in FRONTEND_LICENSES.items():
        target = FRONTEND_BUNDLE.with_name(name)
        shutil.copyfile(node_modules / rel, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.web.assets", description=__doc__.split("\n\n")[0])
    parser.add_argument("--node-modules", type=Path, default=REPO_ROOT / "node_modules")
    parser.add_argument("--check", action="store_true", help="only report whether the assets are installed")
    args = parser.parse_args(argv)
    if args.check:
        absent = missing() + ([] if FRONTEND_BUNDLE.is_file() else [FRONTEND_BUNDLE.name])
        if absent:
            print(f"GraphiQL assets missing: {', '.join(absent)}; {INSTALL_HINT}", file=sys.stderr)
            return 1
        print(f"GraphiQL assets installed in {VENDOR_DIR}")
        return 0
    try:
        written = install(args.node_modules)
        bundled = build_frontend(args.node_modules)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"copied {len(written)} GraphiQL asset files into {VENDOR_DIR}; bundled the frontend into {bundled[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
