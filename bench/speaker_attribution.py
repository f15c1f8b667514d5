"""The extraction assistant on SpkAtt-2023 (GermEval 2023, Task 2): speaker attribution in German news.

    python bench/speaker_attribution.py --input ../shared/spkatt/train --output /tmp/spkatt-pred
    python bench/speaker_attribution.py --input ../shared/spkatt/train --output /tmp/spkatt-pred \\
        --split heldout --score ../shared/spkatt/eval        # also run the official scorer
    python bench/speaker_attribution.py ... --score ../shared/spkatt/eval --write   # both splits into RESULTS.md

Reads every SpkAtt JSON document in ``--input`` (sentences of tokens; gold annotations
are ignored), joins its tokens into plain text (spaces between tokens, none before
closing punctuation), runs ``ledger.extraction.extract`` on it — the code path of
``claims extract`` — and writes one JSON document per input into ``--output``: same
name, same format, with the predicted ``Annotations`` (Cue, Source, Message, Frame,
Form; token references ``"sentence:token"``).

``--split`` picks a fixed part of the documents by a hash of the file name:
``heldout`` is 20% (sha256 of the name mod 5 == 0), never looked at while writing the
rules; ``dev`` is the rest. The data is CC BY-NC-SA 4.0: it is read from where it
lies and never copied into the repository.

``--seeds`` also reports, on the demo corpus's five seed articles, the share of the
corpus's claims whose passage overlaps a candidate with the right speaker, and
``--speed`` times a 10,000-word article.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import claims_demo
from ledger.extraction import Candidate, extract

# Guillemets are left spaced: German »…« and Swiss «…» point either way.
NO_SPACE_BEFORE = {".", ",", ";", ":", "!", "?", ")", "]", "“", "%", "'", "’", "…"}
NO_SPACE_AFTER = {"(", "[", "„", "‚"}


def in_split(name: str, split: str) -> bool:
    heldout = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % 5 == 0
    return split == "all" or (split == "heldout") == heldout


def join_tokens(sentences: list[list[str]]) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text of tokenised sentences, and each token's (start, end, "s:t")."""
    parts: list[str] = []
    spans: list[tuple[int, int, str]] = []
    at = 0
    previous = ""
    for s, tokens in enumerate(sentences):
        for t, token in enumerate(tokens):
            if parts and token not in NO_SPACE_BEFORE and previous not in NO_SPACE_AFTER:
                parts.append(" ")
                at += 1
            spans.append((at, at + len(token), f"{s}:{t}"))
            parts.append(token)
            at += len(token)
            previous = token
    return "".join(parts), spans


def refs(spans: list[tuple[int, int, str]], start: int, end: int, exclude: tuple[int, int] | None = None) -> list[str]:
    out = []
    for s, e, ref in spans:
        if s < end and start < e and not (exclude and exclude[0] <= s and e <= exclude[1]):
            out.append(ref)
    return out


def published_of(name: str) -> date:
    m = re.search(r"\((\d{4}-\d{2}-\d{2})\)", name)
    return date.fromisoformat(m.group(1)) if m else date.today()


def annotate(document: dict[str, Any], name: str) -> tuple[dict[str, Any], float]:
    sentences = [s["Tokens"] for s in document["Sentences"]]
    text, spans = join_tokens(sentences)
    started = time.perf_counter()
    candidates = extract(text, published_of(name), lang="de")
    seconds = time.perf_counter() - started
    annotations = []
    for cand in candidates:
        cue = [r for s, e in cand.cue_spans for r in refs(spans, s, e)]
        source = refs(spans, *cand.speaker_span) if cand.speaker_span else []
        # a message that contains its own attribution phrase ("will nach eigenen Angaben ...") leaves it out
        message = [r for r in refs(spans, *cand.message) if r not in cue and r not in source]
        if not message:
            continue
        frame = [r for r in refs(spans, *cand.frame, exclude=cand.message) if r not in message]
        annotations.append(
            {
                "Addr": [], "Cue": cue, "Form": cand.form, "Frame": frame, "HasNested": False, "IsNested": False,
                "Message": message, "STWR": "Speech", "Source": source,
            }
        )  # fmt: skip
    return {**document, "Annotations": annotations}, seconds


def naive(text: str) -> list[dict[str, Any]]:
    """The naive baseline of the task description: quotations plus a list of speech verbs. Every
    quotation of three words or more whose sentence has a speech verb is a Direct message; the
    capitalised word next to the verb is its source."""
    from ledger.extraction.lexicon import DE_SPEECH_VERBS
    from ledger.extraction.text import quotations, sentences, tokenize

    tokens = tokenize(text)
    spans = [(s.start, s.end, s.tokens) for s in sentences(text, tokens)]
    out = []
    for qs, qe in quotations(text):
        if len(text[qs:qe].split()) < 3:
            continue
        sentence = next((t for s, e, t in spans if s <= qs < e), ())
        verbs = [i for i, t in enumerate(sentence) if t.lower in DE_SPEECH_VERBS and not qs <= t.start < qe]
        if not verbs:
            continue
        i = verbs[0]
        near = [t for t in sentence[max(0, i - 1) : i + 2] if t.is_capitalised and not qs <= t.start < qe]
        source = (near[0].start, near[0].end) if near else None
        out.append({"message": (qs, qe), "cue": [(sentence[i].start, sentence[i].end)], "source": source})
    return out


def annotate_naive(document: dict[str, Any]) -> tuple[dict[str, Any], float]:
    text, spans = join_tokens([s["Tokens"] for s in document["Sentences"]])
    started = time.perf_counter()
    found = naive(text)
    seconds = time.perf_counter() - started
    annotations = [
        {
            "Addr": [], "Cue": [r for s, e in f["cue"] for r in refs(spans, s, e)], "Form": "Direct", "Frame": [],
            "HasNested": False, "IsNested": False, "Message": refs(spans, *f["message"]), "STWR": "Speech",
            "Source": refs(spans, *f["source"]) if f["source"] else [],
        }
        for f in found
    ]  # fmt: skip
    return {**document, "Annotations": annotations}, seconds


def run(input_dir: Path, output_dir: Path, split: str, baseline: bool = False) -> tuple[list[str], float, int]:
    output_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(n for n in os.listdir(input_dir) if n.endswith(".json") and in_split(n, split))
    total = 0.0
    words = 0
    for name in names:
        document = json.loads((input_dir / name).read_text("utf-8"))
        predicted, seconds = annotate_naive(document) if baseline else annotate(document, name)
        total += seconds
        words += sum(len(s["Tokens"]) for s in document["Sentences"])
        (output_dir / name).write_text(json.dumps(predicted, ensure_ascii=False), encoding="utf-8")
    return names, total, words


def score(input_dir: Path, output_dir: Path, names: list[str], scorer: Path) -> dict[str, float]:
    """The official scorer on these documents: gold in ref/, predictions in res/ (symlinks, no copies)."""
    with tempfile.TemporaryDirectory() as tmp:
        ref, res, out = Path(tmp, "ref"), Path(tmp, "res"), Path(tmp, "out")
        ref.mkdir()
        res.mkdir()
        for name in names:
            (ref / name).symlink_to((input_dir / name).resolve())
            (res / name).symlink_to((output_dir / name).resolve())
        subprocess.run(
            [sys.executable, "score.py", tmp, str(out)], cwd=scorer, check=True, capture_output=True, text=True
        )
        scores = {}
        for line in (out / "scores.txt").read_text().splitlines():
            key, _, value = line.partition(":")
            if value.strip():
                scores[key.strip()] = float(value)
        return scores


def seed_report() -> list[str]:
    """Share of the demo corpus's claims whose passage overlaps a candidate with the right speaker.

    The corpus is what ``claims demo`` loads: corpus.yaml and corrections.yaml, i.e. the
    claims of both, with revisions of actor, source or passage applied and retracted claims left out."""
    import yaml

    from api.extraction import known_actors
    from projections.views import ActorView, Role

    demo = Path(__file__).resolve().parent.parent / "claims_demo"
    corpus = yaml.safe_load((demo / "corpus.yaml").read_text("utf-8"))
    corrections = yaml.safe_load((demo / "corrections.yaml").read_text("utf-8"))
    by_key = {c["key"]: dict(c) for c in [*corpus["claims"], *(corrections.get("claims") or [])]}
    for revision in corrections.get("revisions") or []:
        claim = by_key.get(revision["claim"])
        if claim is not None:
            claim.update({k: v for k, v in revision["changes"].items() if k in ("actor", "source", "passage")})
    for retraction in corrections.get("retractions") or []:
        by_key.pop(retraction["claim"], None)
    all_claims = list(by_key.values())
    corpus["actors"] = [*corpus["actors"], *(corrections.get("actors") or [])]
    actors = known_actors(
        [
            ActorView(
                id=None, key=a["key"], name=a["name"], kind=a["kind"], aliases=a.get("aliases", []),  # type: ignore[arg-type]
                wikidata=None, roles=[Role(r["title"], None, None) for r in a.get("roles", [])],
            )
            for a in corpus["actors"]
        ]
    )  # fmt: skip
    lines = [
        "| article | corpus claims | found with right speaker | passage found, other speaker | candidates | candidates not in corpus |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    totals = [0, 0, 0, 0, 0]
    for source in corpus["sources"]:
        text = (demo / source["text_file"]).read_text("utf-8")
        published = _published(source["published"])
        cands: list[Candidate] = extract(text, published, lang=source.get("language", "de"), actors=actors)
        claims = [c for c in all_claims if c["source"] == source["key"]]
        right = other = 0
        matched: set[int] = set()
        for claim in claims:
            p = claim["passage"]
            s, e = p.get("start"), p.get("end")
            if s is None:
                s = text.index(p["exact"])
                e = s + len(p["exact"])
            hits = [i for i, c in enumerate(cands) if c.message[0] < e and s < c.message[1]]
            matched.update(hits)
            if any(cands[i].actor == claim["actor"] for i in hits):
                right += 1
            elif hits:
                other += 1
        extra = len(cands) - len(matched)
        row = [len(claims), right, other, len(cands), extra]
        totals = [a + b for a, b in zip(totals, row, strict=True)]
        lines.append(f"| {source['key']} | " + " | ".join(str(x) for x in row) + " |")
    lines.append("| **all** | " + " | ".join(f"**{x}**" for x in totals) + " |")
    lines.append("")
    lines.append(
        f"Claims whose passage overlaps a candidate with the right speaker: **{totals[1]}/{totals[0]} "
        f"= {totals[1] / max(1, totals[0]):.0%}**; candidates overlapping no corpus claim: **{totals[4]}** of {totals[3]}."
    )
    return lines


def _published(value: Any) -> date:
    raw = str(value["date"] if isinstance(value, dict) else value)
    parts = [int(x) for x in raw.split("-")]
    while len(parts) < 3:
        parts.append(28 if len(parts) == 2 else 12)
    return date(*parts)


def speed() -> tuple[float, float, int]:
    """Seconds to extract from a 10,000-word German article (the seed texts repeated), best of 3,
    for the rules and for the naive baseline."""
    demo = claims_demo.seeds_folder()
    base = "\n\n".join(p.read_text("utf-8") for p in sorted(demo.glob("*.txt")))
    text = base
    while len(text.split()) < 10_000:
        text += "\n\n" + base
    words = text.split()
    text = " ".join(words[:10_000])
    best = naive_best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        extract(text, date(2026, 1, 1), lang="de")
        best = min(best, time.perf_counter() - started)
        started = time.perf_counter()
        naive(text)
        naive_best = min(naive_best, time.perf_counter() - started)
    return best, naive_best, 10_000


SCORE_KEYS = [
    ("Messages(F1)", "Roles(F1)", "Joint(F1)"),
    ("SimplifiedMessages(F1)", "SimplifiedSource(F1)", "SimplifiedJoint(F1)"),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--split", choices=["all", "dev", "heldout"], default="all")
    parser.add_argument("--score", type=Path, metavar="EVAL_DIR", help="run the official scorer (needs numpy, scipy)")
    parser.add_argument("--seeds", action="store_true", help="also report on the demo corpus's seed articles")
    parser.add_argument("--speed", action="store_true", help="also time a 10,000-word article")
    parser.add_argument("--baseline", action="store_true", help="also run the naive baseline (quotes + verbs)")
    parser.add_argument("--write", action="store_true", help="score dev and heldout and write RESULTS.md")
    args = parser.parse_args()

    splits = ["dev", "heldout"] if args.write else [args.split]
    report = [
        f"Machine: {platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores), "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}. Run on {date.today()}.",
        "",
        "Command: `python bench/speaker_attribution.py --input ../shared/spkatt/train --output /tmp/spkatt-pred "
        "--score ../shared/spkatt/eval --seeds --speed --write`",
        "",
        "| split | documents | Messages F1 | Roles F1 | Joint F1 | Simplified Messages F1 | Simplified Source F1 | Simplified Joint F1 | extraction time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    systems = [(False, ""), (True, " (naive baseline)")] if args.baseline or args.write else [(False, "")]
    for split in splits:
        for baseline, label in systems:
            out = (args.output / split if args.write else args.output) / ("naive" if baseline else "rules")
            names, seconds, words = run(args.input, out, split, baseline)
            line = f"{split}{label}: {len(names)} documents, {words} tokens, extraction {seconds:.2f}s"
            if args.score:
                scores = score(args.input, out, names, args.score)
                figures = [scores.get(k, float("nan")) for group in SCORE_KEYS for k in group]
                line += " | " + " ".join(f"{k}={scores.get(k, float('nan')):.3f}" for g in SCORE_KEYS for k in g)
                report.append(
                    f"| {split}{label} | {len(names)} | " + " | ".join(f"{x:.3f}" for x in figures)
                    + f" | {seconds:.2f}s |"
                )  # fmt: skip
            print(line)
    if args.seeds:
        seeds = seed_report()
        print("\n".join(seeds))
        report += ["", "Seed articles (demo corpus, `claims_demo`):", "", *seeds]
    if args.speed:
        seconds, naive_seconds, words = speed()
        print(f"speed: {words} words in {seconds * 1000:.0f} ms (naive baseline {naive_seconds * 1000:.0f} ms)")
        report += [
            "",
            f"Speed: a {words:,}-word German article (seed texts repeated) in **{seconds * 1000:.0f} ms** "
            f"(best of 3; target < 1 s); the naive baseline takes {naive_seconds * 1000:.0f} ms on the same text "
            f"(ratio {seconds / naive_seconds:.1f}x).",
        ]
    if args.write:
        from results_file import write_section

        write_section(
            "speaker-attribution",
            "## Speaker attribution: SpkAtt-2023 (bench/speaker_attribution.py)\n\n" + "\n".join(report) + "\n",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
