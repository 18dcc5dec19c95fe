"""Faster nbgrader in the fast grader's process: the same checks and writes, without repeated work.

Nothing here changes what nbgrader computes or stores; see each function for what it saves.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


class PreparedSchemas:
    """nbgrader validates every graded cell's metadata with ``jsonschema.validate``, which checks its
    own (constant) schema again on each call: most of nbgrader's time per submission once execution is
    fast. The same validation with the schema checked once (installed by :func:`prepare_once`)."""

    def __init__(self):
        import jsonschema

        self._jsonschema, self._validators = jsonschema, {}

    def __getattr__(self, name):
        return getattr(self._jsonschema, name)

    def validate(self, instance, schema):
        key = json.dumps(schema, sort_keys=True)
        validator = self._validators.get(key)
        if validator is None:
            cls = self._jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = self._validators[key] = cls(schema)
        error = self._jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error


class SharedEngines:
    """nbgrader opens the gradebook about ten times per submission (``Gradebook(db_url)``), each time
    with a new SQLAlchemy engine, whose cache of compiled SQL starts empty, and closes it again with
    ``Engine.dispose``, so the next opening connects again and checks every table once more: a third
    of the grading process's time per submission. For the working copy's URL (installed by
    :func:`prepare_once`) one engine serves the whole batch and keeps its connection between
    openings, until :meth:`release` (the end of the batch); every other URL gets a new engine as
    before. The queries and writes are nbgrader's own, unchanged."""

    def __init__(self, create_engine, urls: set[str]):
        self._create, self.urls, self._engines = create_engine, urls, {}

    def __call__(self, url, *args, **kwargs):
        if str(url) not in self.urls:
            return self._create(url, *args, **kwargs)
        key = (str(url), args, tuple(sorted(kwargs.items())))
        if key not in self._engines:
            engine = self._create(url, *args, **kwargs)
            self._engines[key] = (engine, engine.dispose)
            engine.dispose = lambda *_, **__: None  # Gradebook.close: keep the connection for the next opening
        return self._engines[key][0]

    def release(self) -> None:
        """Close the shared engines' connections and forget them."""
        for _, dispose in self._engines.values():
            dispose()
        self._engines.clear()
        self.urls.clear()


_UNFLUSHED: set[str] = set()
"""The working copies of this process's running batches, whose connections skip disk flushes."""


def _no_flush(connection, _) -> None:
    """SQLAlchemy's "connect" hook: no disk flush on a connection to a batch's working copy."""
    if _UNFLUSHED and isinstance(connection, sqlite3.Connection):
        files = [row[2] for row in connection.execute("PRAGMA database_list")]
        if _UNFLUSHED.intersection(files):
            connection.execute("PRAGMA synchronous = OFF")


def prepare_once(work: Path) -> None:
    """What the grading process sets up once: nbgrader's metadata schemas checked once, one SQLAlchemy
    engine for the gradebook's working copy at ``work``, and no disk flush on that copy (it is thrown
    away on a crash; each submission's grades reach the real gradebook in one flushed transaction:
    ``autograde/store.py``)."""
    from nbgrader import api as nbgrader_api
    from nbgrader.nbgraderformat import common
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not isinstance(common.jsonschema, PreparedSchemas):
        common.jsonschema = PreparedSchemas()
    if not isinstance(nbgrader_api.create_engine, SharedEngines):
        nbgrader_api.create_engine = SharedEngines(nbgrader_api.create_engine, set())
    nbgrader_api.create_engine.urls.add(f"sqlite:///{work}")
    _UNFLUSHED.add(str(work))
    if not event.contains(Engine, "connect", _no_flush):  # once per process, not once per batch
        event.listen(Engine, "connect", _no_flush)


def release() -> None:
    """Undo what :func:`prepare_once` holds open for a batch (the working copy's engine)."""
    from nbgrader import api as nbgrader_api

    if isinstance(nbgrader_api.create_engine, SharedEngines):
        nbgrader_api.create_engine.release()
    _UNFLUSHED.clear()
