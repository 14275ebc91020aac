"""Wizard: the uDOS server for networked services (FastAPI)."""
