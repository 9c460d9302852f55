"""devloop.cli."""
