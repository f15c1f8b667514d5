"""The read side: the ledger's event log turned into SQL tables and queried.

Where things are:

* ``views.py``     the shapes queries return; a table's view declares the table (``rm_*``);
* ``tables.py``    how: DDL, row -> view and payload -> row mappings from one declaration;
* ``schema.py``    every table and index, the schema version, (re)creating them;
* ``handlers.py``  what each ledger event does to those tables, batch by batch;
* ``projector.py`` ``Projector``: one transaction per batch, tracking included
                   (exactly-once), catch-up, rebuild, follow;
* ``runner.py``    the projector in a background thread (``claims serve``);
* ``signals.py``   wake-ups: LISTEN/NOTIFY, polling, in-process signals;
* ``queries.py``   ``ReadModel``: every query the API makes (asOf/knownAt);
* ``db.py``        the thin sqlite3 / psycopg layer; ``values.py`` conversions.
"""
