"""What the model steps see: the frozen prefix and the prompt templates.

Every model step of a feature sends one cached prefix: the system text, the project map
(devloop/codemap) and the spec, rendered once when the run starts and frozen in 00-*.md
(`freeze_prefix`), so it stays byte-identical across steps and resumes; the dry run renders
the same prefix with `prefix_texts`. Each step's own instructions and inputs go in messages.

Templates are `templates/<name>.md` (shipped) or `.devloop/templates/<name>.md` (a
repository's override): plain text with `{name}` placeholders. `{{name}}` writes a literal
`{name}`; other braces (JSON examples) are left alone. A step's template is its `template`
in the step table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from devloop import state as state_mod
from devloop.config import Config
from devloop.errors import UsageError
from devloop.resources import bundled_dir
from devloop.spec import Spec
from devloop.steps import Step

SYSTEM_TEMPLATE = "system"
REVISION_TEMPLATE = "revision"
OVERRIDE_DIR = ".devloop/templates"
CONTRACT_HEADING = "Integration Contract"  # the plan section the audit checks against
PREFIX_FILES = ("00-system.md", "00-project-map.md", "00-spec.md")
_PLACEHOLDER = re.compile(r"\{\{([a-z_][a-z0-9_]*)\}\}|\{([a-z_][a-z0-9_]*)\}")


# ------------------------------------------------------------ templates


class TemplateError(UsageError):
    """A prompt template that is missing or asks for a value the step does not have."""


def template_path(root: Path, name: str) -> Path:
    """The repository's override when there is one, else the shipped template."""
    override = Path(root) / OVERRIDE_DIR / f"{name}.md"
    if override.is_file():
        return override
    shipped = bundled_dir("templates") / f"{name}.md"
    if not shipped.is_file():
        raise TemplateError(
            f"no prompt template '{name}': neither {override} nor {shipped} exists. "
            "Reinstall devloop, or add the override."
        )
    return shipped


def load_template(root: Path, name: str) -> str:
    path = template_path(root, name)
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"prompt template {path}: cannot read it ({exc}).") from None


def placeholders(text: str) -> list[str]:
    return list(dict.fromkeys(m[2] for m in _PLACEHOLDER.finditer(text) if m[2]))


def render(text: str, values: Mapping[str, str], *, name: str = "template") -> str:
    """Fill `{name}` placeholders; a placeholder without a value is an error, naming both."""
    missing = [p for p in placeholders(text) if p not in values]
    if missing:
        raise TemplateError(
            f"prompt template '{name}' uses {', '.join('{' + m + '}' for m in missing)}, "
            f"which this step does not provide. It provides: "
            f"{', '.join('{' + k + '}' for k in values) or 'nothing'}."
        )

    def fill(match: re.Match[str]) -> str:
        if match[1]:
            return "{" + match[1] + "}"
        return str(values[match[2]])

    return _PLACEHOLDER.sub(fill, text)


def render_template(root: Path, name: str, values: Mapping[str, str]) -> str:
    return render(load_template(root, name), values, name=name).strip() + "\n"


def render_step_text(root: Path, step: Step, values: Mapping[str, str]) -> str:
    """All a step's prompt text: the part its tasks share (if any), then its own."""
    names = [n for n in (step.shared_template, step.template) if n]
    return "\n".join(render_template(root, name, values) for name in names)


def system_text(root: Path) -> str:
    """The one system text of every model step of a feature (part of the cached prefix)."""
    return load_template(root, SYSTEM_TEMPLATE).strip() + "\n"


def spec_block(title: str, text: str, slug: str) -> str:
    """The spec as it sits in the cached context. The slug makes each feature's cached
    prefix its own: the two arms of an A/B run see the same spec, and must not read each
    other's cache, or the second arm's cost would not be a run of its own."""
    return f"# Feature spec: {title}\n\nFeature: `{slug}`\n\n{text.strip()}\n"


def section(markdown: str, heading: str) -> str | None:
    """The body of the first heading whose text contains `heading` (case-insensitive), up
    to the next heading of the same or a higher level; None when there is no such heading."""
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"(#{1,6})\s+(.*)", line)
        if match and heading.lower() in match[2].lower():
            level = len(match[1])
            body = []
            for later in lines[i + 1 :]:
                other = re.match(r"(#{1,6})\s+", later)
                if other and len(other[1]) <= level:
                    break
                body.append(later)
            return "\n".join([line, *body]).strip() + "\n"
    return None


# ------------------------------------------------------------ the cached prefix


def prefix_texts(cfg: Config, spec: Spec) -> tuple[str, str, str]:
    """The system text, the project map and the spec block: the feature's cached prefix."""
    from devloop.codemap import project_map

    return (
        system_text(cfg.root),
        project_map(cfg.root, cfg.loop.project_map_tokens, hints=spec.text, leave_out=spec.path),
        spec_block(spec.title, spec.text, spec.slug),
    )


def freeze_prefix(cfg: Config, spec: Spec, directory: Path) -> None:
    """Render the feature's cached prefix once and keep it: what every model step of this
    feature sees, byte for byte."""
    for name, text in zip(PREFIX_FILES, prefix_texts(cfg, spec), strict=True):
        state_mod.atomic_write(directory / name, text)
