"""`devloop demo`: the bundled sample project, spec and scripted replies, and the logic that
runs the whole loop on them offline (demo.py). The files here ship in the wheel as package
data and are read through importlib.resources, so the demo works from any install.

May import: loop, reports, git, sim and the leaf modules; only cli imports it."""
