"""``claims extract``: a draft import file of candidate claims from a source (registered by ``api/cli/main.py``)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from api.cli.args import url as database_url
from api.extraction import DRAFT_HEADER, candidates_for, draft
from ledger.dates import PartialDate
from ledger.errors import BadInput
from projections.projector import Projector
from projections.queries import open_read_model


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract",
        help="propose candidate claims from a source as a draft import file to review",
        description="Reads a registered source (by key or id) or, with --published, a UTF-8 text file, and writes a "
        "draft import file: every reported statement found, with its passage, speaker, date, channel, topic "
        "suggestions and a `review: pending` marker. Edit it, then `claims import` it.",
    )
    p.add_argument("source", metavar="SOURCE", help="a registered source's key or id, or a text file with --published")
    p.add_argument("--lang", choices=["de", "en"], help="the text's language (default: the source's, else de)")
    p.add_argument("--out", metavar="FILE", help="write the draft here (default: standard output)")
    p.add_argument("--published", metavar="YYYY-MM-DD", help="publication date of a text file (makes SOURCE a file)")
    p.add_argument("--key", help="key for the new source of a text file (default: from the file name)")
    p.add_argument("--keywords", metavar="FILE", help="YAML mapping of topic key to extra keywords for suggestions")
    p.set_defaults(func=cmd_extract)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "source"


def cmd_extract(args: argparse.Namespace) -> int:
    url = database_url(args)
    keywords = _keywords(args.keywords)
    source_record: dict[str, Any] | None = None
    if args.published:
        path = Path(args.source)
        text = path.read_bytes().decode("utf-8")
        published = PartialDate.from_dict(args.published, "--published")
        lang = args.lang or "de"
        day = published.latest
        source_key = args.key or _slug(path.stem)
        out_dir = Path(args.out).resolve().parent if args.out else Path.cwd()
        title = next((line.strip() for line in text.splitlines() if line.strip()), path.stem)[:500]
        source_record = {
            "key": source_key, "title": title, "published": args.published, "language": lang, "genre": "NEWS",
            "text_file": os.path.relpath(path.resolve(), out_dir),
        }  # fmt: skip
    projector = Projector(url)
    try:
        projector.catch_up()  # the source, actors and topics as recorded, even without a running projector
    finally:
        projector.close()
    read_model = open_read_model(url)
    try:
        if source_record is None:
            found = read_model.source_by_ref(args.source)
            if found is None:
                raise BadInput("SOURCE", f"unknown source {args.source!r}")
            text = read_model.source_texts([found.id])[0] or ""
            source_key, day = found.key, found.published.latest
            lang = args.lang or found.language or "de"
        actors, topics = read_model.actors(None), read_model.topics()
    finally:
        read_model.close()
    if lang not in ("de", "en"):
        raise BadInput("--lang", f"the assistant reads German (de) and English (en), not {lang!r}")
    started = time.perf_counter()
    candidates = candidates_for(text, day, lang, actors, topics, keywords)
    seconds = time.perf_counter() - started
    document = draft(text, candidates, source_key=source_key, lang=lang, source_record=source_record)
    body = DRAFT_HEADER + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    if args.out:
        Path(args.out).write_text(body, encoding="utf-8")
        proposed = len(document.get("actors", []))
        print(
            f"{args.out}: {len(candidates)} candidates ({proposed} new actors proposed) in {seconds * 1000:.0f} ms; "
            f"review them, then: claims import {args.out}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(body)
    return 0


def _keywords(path: str | None) -> dict[str, list[str]]:
    if not path:
        return {}
    data = yaml.safe_load(Path(path).read_text("utf-8")) or {}
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise BadInput("--keywords", "must be a YAML mapping of topic key to a list of words")
    return {str(k): [str(w) for w in v] for k, v in data.items()}
