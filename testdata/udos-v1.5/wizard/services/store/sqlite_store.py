"""SQLite store; its schema is a data file beside the code, as in the real tree."""

import sqlite3
from pathlib import Path

_SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
_TASK_SCHEMA_PATH = _SCHEMA_DIR / "task_schema.sql"


class SQLiteWizardStore:
    def __init__(self, path):
        if not _TASK_SCHEMA_PATH.exists():
            raise FileNotFoundError(f"Task schema file missing: {_TASK_SCHEMA_PATH}")
        self.db = sqlite3.connect(path)
        self.db.executescript(_TASK_SCHEMA_PATH.read_text())

    def tables(self):
        rows = self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [r[0] for r in rows]
