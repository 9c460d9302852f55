"""devloop.model."""
