"""agent.tools: what the build agent's model can do to the repository.

- workspace.py: the tools as the API sees them (definitions) and their dispatch;
- editor.py: view, create and edit files inside the repository, private files refused.

The shell tool is a shell run by the sandbox's Runner: the operating system is the boundary.
May import: sandbox, git, config, errors, redaction.
"""
