"""The read side: the ledger's event log turned into SQL tables and queried.

Where things are:

* ``schema.py``    every read-model table (``rm_*``) and its indexes, with comments;
* ``handlers.py``  what each ledger event does to those tables, batch by batch;
* ``projector.py`` ``Projector``: one transaction per batch, tracking included
                   (exactly-once), catch-up, rebuild, follow;
* ``runner.py``    the projector in a background thread (``claims serve``);
* ``signals.py``   wake-ups: LISTEN/NOTIFY, polling, in-process signals;
* ``queries.py``   ``ReadModel``: every query the API makes (asOf/knownAt);
* ``rows.py``      table rows to the view dataclasses of ``views.py``;
* ``db.py``        the thin sqlite3 / psycopg layer; ``values.py`` conversions.
"""
