"""cli: the `devloop` command line; it parses and renders, the work is done elsewhere.

- app.py: the command group and config loading; main.py: the entry, errors to exit codes;
- one module per command family: setup (init, hooks, models), feature (feature, resume,
  status, demo), cost (cost, metrics), routes (routing, explain, calibrate, suggest),
  checks (check ...), ab, simcmd (sim serve);
- options.py: option types and parsers (steps, paths, money, stop points);
- render.py: tables (terminal, plain, Markdown, CSV); progress.py: the run's progress view;
- fast.py: the two hook commands without click; helpcache.py: `devloop --help` without it.

May import anything in devloop; nothing imports it except devloop.entry.
"""
