"""The API extension."""
