"""The witness side (c2sp.org/tlog-witness): ``claims witness`` and ``POST /witness/add-checkpoint``.

The rule is ``ledger.integrity.checkpoint.witness`` (pure); this module keeps the
witness's state, a JSON file of the latest checkpoint cosigned per log origin,
and answers with the status codes the spec prescribes. A new state is written
to a new file renamed over the old one, under a lock, before the cosignature is
returned: two concurrent requests cannot roll the recorded size back.

Server configuration: ``CLAIMS_WITNESS_KEY`` (a ``keygen --witness`` key file),
``CLAIMS_WITNESS_LOGS`` (comma-separated log verifier keys to trust) and
``CLAIMS_WITNESS_STATE`` (the state file).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from api.graphql.loaders import blocking
from ledger.integrity.checkpoint import Checkpoint, WitnessRefusal, WitnessRequest, witness
from ledger.integrity.note import NoteError, Signer, Verifier, parse

SIZE_MEDIA_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: str
    media_type: str = "text/plain; charset=utf-8"
    reason: str = ""  # for people (the 409 body is only a size)


class Witness:
    def __init__(self, signer: Signer, logs: list[Verifier], state_file: str | Path) -> None:
        self.signer = signer
        self.logs = logs
        self.state_file = Path(state_file)
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, key_file: str, logs: list[str], state_file: str) -> Witness:
        return cls(Signer.parse(Path(key_file).read_text("utf-8")), [Verifier.parse(v) for v in logs], state_file)

    def _state(self) -> dict[str, str]:
        if not self.state_file.exists():
            return {}
        state: dict[str, str] = json.loads(self.state_file.read_text("utf-8"))
        return state

    def add_checkpoint(self, body: str, now: int | None = None) -> Answer:
        try:
            request = WitnessRequest.parse(body)
            origin = Checkpoint.from_text(parse(request.checkpoint_note).text).origin
        except NoteError as error:
            return Answer(400, f"{error.message}\n")
        with self._lock:  # check the old size and record the new checkpoint atomically
            state = self._state()
            latest = Checkpoint.from_text(parse(state[origin]).text) if origin in state else None
            try:
                _, line = witness(request, self.logs, latest, self.signer, int(time.time()) if now is None else now)
            except WitnessRefusal as refusal:
                if refusal.status == 409 and refusal.latest_size is not None:
                    return Answer(409, f"{refusal.latest_size}\n", SIZE_MEDIA_TYPE, str(refusal))
                return Answer(refusal.status, f"{refusal}\n")
            state[origin] = request.checkpoint_note
            temporary = self.state_file.with_suffix(self.state_file.suffix + ".tmp")
            temporary.write_text(json.dumps(state, indent=2), "utf-8")
            temporary.replace(self.state_file)
        return Answer(200, line)


async def add_checkpoint_route(request: Request) -> Response:
    found: Witness | None = getattr(request.app.state, "witness", None)
    if found is None:
        return PlainTextResponse("this server is not a witness (CLAIMS_WITNESS_KEY is not set)\n", status_code=404)
    body = (await request.body()).decode("utf-8", errors="replace")
    answer = await blocking(found.add_checkpoint, body)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
