"""uDOS core."""
