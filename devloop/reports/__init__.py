"""devloop.reports."""
