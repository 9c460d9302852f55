"""devloop.agent."""
