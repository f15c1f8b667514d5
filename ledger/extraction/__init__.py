"""The extraction assistant: candidate claims from the text of a source, by rules.

Pure text in, candidates out: no I/O, no database, no model download. The known actors
and topics come in as plain data (``KnownActor``, ``KnownTopic``); ``api/`` wires it to
the ledger (``claims extract``, the GraphQL ``extractionCandidates`` query) and
``bench/speaker_attribution.py`` to the SpkAtt-2023 benchmark.
"""

from ledger.extraction.candidates import Candidate, KnownActor, KnownRole, KnownTopic, extract
from ledger.extraction.speech import Statement, find_statements

__all__ = ["Candidate", "KnownActor", "KnownRole", "KnownTopic", "Statement", "extract", "find_statements"]
