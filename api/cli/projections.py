"""Read-model subcommands: ``claims rebuild`` and ``claims project [--follow]``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any

from api.cli.progress import progress_bar
from projections.projector import DEFAULT_BATCH, Projector


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "rebuild", help="rebuild the read model from the whole log beside the live one, then switch to it"
    )
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, metavar="N", help="events per transaction")
    p.set_defaults(func=cmd_rebuild)

    p = subparsers.add_parser(
        "project", help="bring the read model up to date; with --follow keep doing so (worker process)"
    )
    p.add_argument("--follow", action="store_true", help="keep following new events until interrupted")
    p.add_argument("--interval", type=float, default=1.0, metavar="SECONDS", help="poll interval when following")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH, metavar="N", help="events per transaction")
    p.set_defaults(func=cmd_project)


def cmd_rebuild(args: argparse.Namespace) -> int:
    projector = Projector(args.database, batch_size=args.batch_size)
    projector.on_wait = _say_waiting
    try:
        started = time.perf_counter()
        # Another process's rebuild (or upgrade) running: wait for it, as a deploy script would want to;
        # if it switched to a model of this version, that is the rebuild asked for.
        with progress_bar("rebuilding read model") as progress:
            events = projector.rebuild(progress)
        if events is None:
            print(
                f"another process rebuilt the read model meanwhile (log position {projector.position()}): nothing to do"
            )
        else:
            _report("rebuilt", events, time.perf_counter() - started, projector.position())
    finally:
        projector.close()
    return 0


def _say_waiting() -> None:
    print("another process is rebuilding the read model: waiting for it to finish", file=sys.stderr)


def cmd_project(args: argparse.Namespace) -> int:
    projector = Projector(args.database, batch_size=args.batch_size)
    projector.on_wait = _say_waiting  # (an upgrade another process runs: waited for, then found done)
    try:
        if projector.rebuilt:  # (an upgrade waits for another process's under way, then finds it done)
            print(
                "read-model schema changed (or was missing): building it from the start"
                " (beside the old one, which readers of the old version keep until the switch)",
                file=sys.stderr,
            )
        started = time.perf_counter()
        with progress_bar("projecting") as progress:
            events = projector.catch_up(progress)
        _report("projected", events, time.perf_counter() - started, projector.position())
        if args.follow:
            # The follower runs in a thread; the main thread only waits for it, so a signal (raised there as
            # KeyboardInterrupt) never lands inside the follower while it holds a lock the stop needs.
            # Waited for by an Event, not Thread.join: a join interrupted by KeyboardInterrupt marks a running
            # thread as stopped (CPython 3.11), and the connections were then closed under the follower.
            stop, ended = threading.Event(), threading.Event()

            def follow() -> None:
                try:
                    projector.follow(stop, args.interval)
                finally:
                    ended.set()

            follower = threading.Thread(target=follow, name="claims-follow", daemon=True)
            signal.signal(signal.SIGTERM, _interrupt)
            position = projector.position()  # (read before the follower uses the connection)
            try:  # (a signal from here on, even while the thread starts, stops it)
                follower.start()
                print(f"following the ledger (position {position}); Ctrl-C stops", file=sys.stderr)
                ended.wait()
            except KeyboardInterrupt:
                pass
            finally:
                stop.set()
                projector.hub.request()  # (the follower waits in poll(): woken, it sees the stop at once)
                if follower.ident is not None:  # (started)
                    ended.wait()
    finally:
        projector.close()
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # SIGTERM as Ctrl-C: the follower stops the same way


def _report(verb: str, events: int, seconds: float, position: int) -> None:
    rate = f", {events / seconds:,.0f} events/s" if events and seconds > 0 else ""
    print(f"{verb} {events} events in {seconds:.1f}s{rate}; read model at log position {position}")
