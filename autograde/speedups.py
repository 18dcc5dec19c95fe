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


def prepare_once(work: Path) -> None:
    """What the grading process sets up once: nbgrader's metadata schemas checked once, and no disk
    flush on the gradebook's working copy at ``work`` (it is thrown away on a crash; each submission's
    grades reach the real gradebook in one flushed transaction: ``autograde/store.py``)."""
    from nbgrader.nbgraderformat import common
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not isinstance(common.jsonschema, PreparedSchemas):
        common.jsonschema = PreparedSchemas()

    @event.listens_for(Engine, "connect")
    def _no_flush(connection, _):
        if isinstance(connection, sqlite3.Connection):
            files = [row[2] for row in connection.execute("PRAGMA database_list")]
            if str(work) in files:
                connection.execute("PRAGMA synchronous = OFF")
