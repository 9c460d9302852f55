"""The model tiers, cheapest last; "script" is not a model tier: a plain program does the
step. One definition, read by the step table, the config and the reports (a module of its
own so the config, on the hook path, need not load the step table)."""

TIERS: tuple[str, ...] = ("frontier", "mid", "light")
FRONTIER, MID, LIGHT = TIERS
SCRIPT = "script"
