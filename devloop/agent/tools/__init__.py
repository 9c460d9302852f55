"""devloop.agent.tools."""
