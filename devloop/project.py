"""`devloop init`: write a repository's devloop.toml, ROUTING.md and .gitignore entries,
with the commands of the ecosystems it finds (the table: ecosystems.py), saying what it
found, what it left out and why.

May import: config, ecosystems, errors, money (and routing, to render ROUTING.md).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from devloop import config as config_mod
from devloop import ecosystems as eco
from devloop.errors import UsageError
from devloop.manifests import NESTED_MAX_DIRS
from devloop.money import usd
from devloop.state import check_writable

IGNORE_LINE = ".devloop/"
NESTED_SHOWN = 10  # nested projects named one by one; the rest are counted

# What `init` writes: a modest ceiling per feature (a run stops before a call that could
# cross it; the demo's whole feature costs about $0.35), changed in devloop.toml or per run.
INIT_FEATURE_USD = Decimal(10)


def ignore_lines(detection: eco.Detection) -> list[str]:
    """The .gitignore lines `init` makes sure of: .devloop/ and the by-products of the
    ecosystems found (their builds and test runs leave them in the tree; devloop's own
    commit never stages them either: runfiles.py)."""
    return [IGNORE_LINE, *(line for line in detection.ignore_lines() if line != IGNORE_LINE)]


def describe(cfg: config_mod.Config, detection: eco.Detection) -> list[str]:
    """What init says about what it found, the commands it wrote and left out, the projects
    below the root it did not cover, and the ceiling it wrote."""
    lines = []
    if detection.found:
        found = ", ".join(f"{e.title} ({manifest})" for e, manifest in detection.found)
        lines.append(f"  found: {found}")
    else:
        lines.append(
            "  found: no manifest of an ecosystem devloop knows at the root (the README lists them)"
        )
    chosen = [f"{k} = {v!r}" for k, v in vars(cfg.commands).items() if isinstance(v, str) and v]
    if chosen:
        lines.append("  detected commands: " + ", ".join(chosen))
    lines += _left_out(detection)
    lines += [f"  {e.title}: {note}" for e, note in detection.notes()]
    lines += _not_covered(cfg, detection)
    if not chosen and not detection.left_out:
        lines.append(
            f"  no lint/test commands detected; set them under [commands] in "
            f"{config_mod.CONFIG_FILE}"
        )
    ceiling = cfg.budget.feature_usd
    lines.append(
        f"  spending ceiling: [budget] feature_usd = {ceiling}: a feature stops before a call "
        f"that could take its spend past {usd(ceiling, 2)}; change it there, or per run with "
        "--budget"
    )
    return lines


def _left_out(detection: eco.Detection) -> list[str]:
    """Not on PATH, grouped by program; on PATH but not configured, grouped by what it
    needs; then how to add one."""
    by_program: dict[str, list[eco.LeftOut]] = {}
    by_need: dict[str, list[eco.LeftOut]] = {}
    lines = []
    for item in detection.left_out:
        key = eco.key_label(item.candidate.key)
        if item.shadowed:
            setting = eco.config_key(item.candidate.key)
            both = f"{getattr(detection.commands, setting)} && {item.command}"
            lines.append(
                f"  left out {key} {item.command!r}: {key} is {item.instead!r} ({item.shadowed}) "
                f'already; to run both, chain them: {setting} = "{both}"'
            )
        elif item.instead:
            lines.append(
                f"  left out {key} {item.command!r}: {eco.unresolved(item.missing)}; "
                f"wrote {item.instead!r} in its place"
            )
        elif item.missing:
            by_program.setdefault(item.missing, []).append(item)
        else:
            by_need.setdefault(item.candidate.when.needs, []).append(item)
    for program, items in by_program.items():
        keys = ", ".join(dict.fromkeys(eco.key_label(i.candidate.key) for i in items))
        lines.append(f"  left out {keys}: {eco.unresolved(program)}")
    for needs, items in by_need.items():
        keys = ", ".join(dict.fromkeys(eco.key_label(i.candidate.key) for i in items))
        lines.append(f"  left out {keys} ({items[0].command}): not configured: it needs {needs}")
    if by_program:
        example = next(iter(by_program.values()))[0]
        lines.append(
            "  to add one: install the tool, then set it under [commands] in "
            f"{config_mod.CONFIG_FILE}, e.g. {eco.config_key(example.candidate.key)} = "
            f'"{example.command}"'
        )
    return lines


def _not_covered(cfg: config_mod.Config, detection: eco.Detection) -> list[str]:
    lines = []
    if detection.nested:
        lines.append(
            "  not covered: projects below the root, which [commands] (run at the root) do "
            "not reach:"
        )
        for item in detection.nested[:NESTED_SHOWN]:
            test = f'test would be "{item.test}"' if item.test else f"no test: {item.why_none}"
            lines.append(f"    {item.directory} ({item.ecosystem.title}): {test}")
        if len(detection.nested) > NESTED_SHOWN:
            lines.append(f"    ... and {len(detection.nested) - NESTED_SHOWN} more")
        example = next((n for n in detection.nested if n.test), None)
        if example is not None:
            part = f"(cd {example.directory.rstrip('/')} && {example.test})"
            whole = f"{cfg.commands.test} && {part}" if cfg.commands.test else part
            lines.append(
                f'  to include one, chain it into [commands] by hand, e.g. test = "{whole}"'
            )
    if detection.nested_reached:
        reached = ", ".join(detection.nested_reached[:NESTED_SHOWN])
        more = len(detection.nested_reached) - NESTED_SHOWN
        lines.append(
            f"  reached through the root's workspace: {reached}"
            + (f" and {more} more" if more > 0 else "")
        )
    if detection.nested_stopped:
        lines.append(
            "  (the search for projects below the root stopped after "
            f"{NESTED_MAX_DIRS:,} directories)"
        )
    return lines


def _is_generated_routing(text: str) -> bool:
    return "`devloop routing --markdown`" in text


def init_repo(start: Path, *, force: bool = False) -> list[str]:
    """Set devloop up in the repository at or above `start`; returns what it did."""
    import tomli_w

    from devloop import routing

    root = config_mod.find_root(start)
    config_path = root / config_mod.CONFIG_FILE
    routing_path = root / routing.ROUTING_DOC
    if not force:
        if config_path.exists():
            raise UsageError(
                f"{config_path} already exists; not overwriting it. "
                "Use `devloop init --force` to replace it."
            )
        if config_mod.is_configured(root):
            raise UsageError(
                f"{root / config_mod.PYPROJECT} already has a [tool.devloop] config; a new "
                "devloop.toml would override it. Use `devloop init --force` to write one anyway."
            )
        if routing_path.exists() and not _is_generated_routing(
            routing_path.read_text(errors="replace")
        ):
            raise UsageError(
                f"{routing_path} exists and was not generated by devloop; not overwriting it. "
                "Move it aside or use `devloop init --force`."
            )

    check_writable(root, "the repository root")  # refuse before the first file is written
    cfg = config_mod.Config()
    detection = eco.detect(root)
    cfg.commands = detection.commands
    cfg.sandbox.read = detection.sandbox_read()
    cfg.budget.feature_usd = INIT_FEATURE_USD
    config_path.write_text(tomli_w.dumps(config_mod.to_dict(cfg)), encoding="utf-8")
    done = [f"wrote {config_path}", *describe(cfg, detection)]

    cfg = config_mod.load(root)  # render from what was written, exactly as later runs will
    routing_path.write_text(routing.render_markdown(cfg), encoding="utf-8")
    done.append(f"wrote {routing_path}")

    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in ignore_lines(detection) if line not in present]
    if missing:
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        gitignore.write_text(existing + prefix + "\n".join(missing) + "\n", encoding="utf-8")
        done.append(f"added {', '.join(missing)} to {gitignore}")
    return done
