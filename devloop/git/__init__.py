"""devloop.git."""
