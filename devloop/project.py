"""`devloop init`: write a repository's devloop.toml, ROUTING.md and .gitignore entries."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from devloop import config as config_mod
from devloop.errors import UsageError
from devloop.money import usd
from devloop.state import check_writable

IGNORE_LINE = ".devloop/"
# What each ecosystem's builds and test runs leave in the tree: ignored so no commit takes
# them (devloop's own commit never stages them either; runfiles.py).
PYTHON_BYPRODUCTS = ("__pycache__/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/")
BYPRODUCTS = {
    "package.json": ("node_modules/",),
    "Cargo.toml": ("target/",),
    "pom.xml": ("target/",),
    "build.gradle": (".gradle/", "build/"),
    "build.gradle.kts": (".gradle/", "build/"),
}


# What `init` writes: a modest ceiling per feature (a run stops before a call that could
# cross it; the demo's whole feature costs about $0.35), changed in devloop.toml or per run.
INIT_FEATURE_USD = Decimal(10)


@dataclass(frozen=True)
class Ecosystem:
    name: str
    manifests: tuple[str, ...]  # glob patterns at the root; any match means the project is one


@dataclass(frozen=True)
class Candidate:
    """A [commands] entry `init` may write for a project of `ecosystem`: only when
    `executable` resolves on PATH (and, for package.json, when it defines `script`)."""

    ecosystem: str
    key: str  # the [commands] key
    command: str
    executable: str
    script: str = ""


# To detect another ecosystem, add it here and its commands below (first match per key wins).
ECOSYSTEMS = (
    Ecosystem("python", ("pyproject.toml", "setup.py", "setup.cfg", "*.py")),
    Ecosystem("node", ("package.json",)),
)
CANDIDATES = (
    Candidate("python", "lint", "ruff check .", "ruff"),
    Candidate("python", "format", "ruff format --check .", "ruff"),
    Candidate("python", "format_fix", "ruff format .", "ruff"),
    Candidate("python", "test", "pytest -q", "pytest"),
    Candidate("node", "lint", "npm run lint", "npm", script="lint"),
    Candidate("node", "test", "npm test", "npm", script="test"),
)


def ecosystems(root: Path) -> list[str]:
    """The ecosystems whose manifests are at `root`, in ECOSYSTEMS order."""
    return [e.name for e in ECOSYSTEMS if any(any(root.glob(m)) for m in e.manifests)]


def ignore_lines(root: Path) -> list[str]:
    """The .gitignore lines `init` makes sure of: .devloop/ and the by-products of the
    ecosystems found at `root`."""
    lines = [IGNORE_LINE]
    if "python" in ecosystems(root):
        lines += PYTHON_BYPRODUCTS
    for marker, ignored in BYPRODUCTS.items():
        if (root / marker).is_file():
            lines += [line for line in ignored if line not in lines]
    return lines


@dataclass
class Detected:
    commands: config_mod.CommandsConfig
    left_out: list[Candidate]  # they apply, but their program is not on PATH


def detect_commands(root: Path, path: str | None = None) -> Detected:
    """Lint, format and test commands for the project at `root` whose programs resolve on
    `path` (default: PATH); the ones that would apply but do not resolve are left out."""
    commands = config_mod.CommandsConfig()
    found = ecosystems(root)
    scripts = _npm_scripts(root) if "node" in found else {}
    missing: list[Candidate] = []
    for candidate in CANDIDATES:
        if candidate.ecosystem not in found or getattr(commands, candidate.key):
            continue
        if candidate.script and candidate.script not in scripts:
            continue
        if shutil.which(candidate.executable, path=path) is None:
            missing.append(candidate)
            continue
        setattr(commands, candidate.key, candidate.command)
    return Detected(commands, [c for c in missing if not getattr(commands, c.key)])


def _npm_scripts(root: Path) -> dict:
    try:
        scripts = json.loads((root / "package.json").read_text(encoding="utf-8")).get("scripts")
    except (ValueError, OSError, AttributeError):
        return {}
    return scripts if isinstance(scripts, dict) else {}


def _describe(cfg: config_mod.Config, detected: Detected) -> list[str]:
    """What init says about the commands and the ceiling it wrote."""
    lines = []
    chosen = [f"{k} = {v!r}" for k, v in vars(cfg.commands).items() if isinstance(v, str) and v]
    if chosen:
        lines.append("  detected commands: " + ", ".join(chosen))
    by_program: dict[str, list[Candidate]] = {}
    for candidate in detected.left_out:
        by_program.setdefault(candidate.executable, []).append(candidate)
    for program, left in by_program.items():
        keys = ", ".join(c.key for c in left)
        lines.append(f"  left out {keys}: `{program}` is not on PATH")
    if by_program:
        example = detected.left_out[0]
        lines.append(
            "  to add one: install the tool, then set it under [commands] in "
            f'{config_mod.CONFIG_FILE}, e.g. {example.key} = "{example.command}"'
        )
    elif not chosen:
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
    detected = detect_commands(root)
    cfg.commands = detected.commands
    cfg.budget.feature_usd = INIT_FEATURE_USD
    config_path.write_text(tomli_w.dumps(config_mod.to_dict(cfg)), encoding="utf-8")
    done = [f"wrote {config_path}", *_describe(cfg, detected)]

    cfg = config_mod.load(root)  # render from what was written, exactly as later runs will
    routing_path.write_text(routing.render_markdown(cfg), encoding="utf-8")
    done.append(f"wrote {routing_path}")

    gitignore = root / ".gitignore"
    existing = gitignore.read_text(encoding="utf-8") if gitignore.is_file() else ""
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in ignore_lines(root) if line not in present]
    if missing:
        prefix = "" if not existing or existing.endswith("\n") else "\n"
        gitignore.write_text(existing + prefix + "\n".join(missing) + "\n", encoding="utf-8")
        done.append(f"added {', '.join(missing)} to {gitignore}")
    return done
