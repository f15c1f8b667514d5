"""The demo corpus: data, not code.

``claims demo`` imports ``corpus.yaml`` then ``corrections.yaml`` (curation rules in
``CURATION.md``). The five seed articles the passages are anchored in are third-party
texts and are not shipped: they are read from where they are kept, ``$CLAIMS_DEMO_SEEDS``
or else a ``shared/seeds`` folder beside the source tree, and staged with the two files
in a temporary folder for the import (whose ``text_file`` paths stay ``seeds/NAME``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

DEMO_FILES = ("corpus.yaml", "corrections.yaml")
SEEDS_ENV = "CLAIMS_DEMO_SEEDS"
# Where the seed articles are kept on a development machine: ``shared/seeds`` beside the
# checkout, and the machine's shared folder for clones made elsewhere (CI clones to /tmp).
_SEED_CANDIDATES = (Path(__file__).resolve().parents[2] / "shared" / "seeds", Path("/work/shared/seeds"))


class SeedsMissing(RuntimeError):
    """The seed articles are not where the demo looks for them."""


@lru_cache(maxsize=1)  # package data: read once, not again by staged() after seeds_folder()
def seed_names() -> tuple[str, ...]:
    """The seed files the corpus names (``text_file: seeds/NAME``), in corpus order."""
    corpus = yaml.safe_load(resources.files(__name__).joinpath("corpus.yaml").read_text("utf-8"))
    return tuple(str(s["text_file"]).removeprefix("seeds/") for s in corpus["sources"] if "text_file" in s)


def seeds_folder() -> Path:
    """The folder holding the seed articles: $CLAIMS_DEMO_SEEDS, else the first candidate that has them all."""
    names = seed_names()
    configured = os.environ.get(SEEDS_ENV)
    candidates = [Path(configured)] if configured else list(_SEED_CANDIDATES)
    for folder in candidates:
        if all((folder / name).is_file() for name in names):
            return folder
    where = f"${SEEDS_ENV}={configured}" if configured else " or ".join(str(c) for c in candidates)
    raise SeedsMissing(
        f"the demo's seed articles ({', '.join(names)}) are not in {where}; set {SEEDS_ENV} to the folder that holds them"
    )


@contextmanager
def staged(seeds: Path | None = None) -> Iterator[Path]:
    """A temporary folder with the demo's import files and a ``seeds/`` copy of the articles."""
    seeds = seeds or seeds_folder()
    with tempfile.TemporaryDirectory(prefix="claims-demo-") as tmp:
        folder = Path(tmp)
        for name in DEMO_FILES:
            (folder / name).write_bytes(resources.files(__name__).joinpath(name).read_bytes())
        (folder / "seeds").mkdir()
        for name in seed_names():
            shutil.copyfile(seeds / name, folder / "seeds" / name)
        yield folder
