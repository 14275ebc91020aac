"""The Wizard's task store (SQLite), opened once per process."""

from .sqlite_store import SQLiteWizardStore

_STORES = {}


def get_wizard_store(path=":memory:"):
    if path not in _STORES:
        _STORES[path] = SQLiteWizardStore(path)
    return _STORES[path]
