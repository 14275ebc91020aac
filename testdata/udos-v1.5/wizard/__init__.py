"""The Wizard server."""
