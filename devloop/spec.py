"""Feature specs: a Markdown file whose first heading is the title.

Optional TOML front matter, between `+++` lines (or `---` lines) at the very top, may set
`type` (a Conventional Commit type: feat, fix, refactor, ...), `scope` and `slug`:

    +++
    type = "fix"
    scope = "auth"
    slug = "login-timeout"
    +++
    # Log the user out after 30 minutes idle
    ...

Every problem is a UsageError (exit 2) saying what is wrong with which file and what to do.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from devloop.errors import UsageError, did_you_mean

FRONT_MATTER_KEYS = ("type", "scope", "slug")
DEFAULT_TYPE = "feat"
SLUG_MAX = 48
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_SCOPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


class SpecError(UsageError):
    """A spec file devloop cannot use."""


@dataclass(frozen=True)
class Spec:
    path: Path
    title: str
    slug: str
    type: str
    scope: str | None
    text: str  # the Markdown after the front matter: what the model steps see
    sha256: str  # of the file's bytes, to notice an edit between runs


def load(path: Path, *, max_bytes: int, commit_types: list[str] | None = None) -> Spec:
    """Read and check the spec at `path`; SpecError (exit 2) names the problem."""
    where = str(path)
    if not path.exists():
        raise SpecError(f"spec {where}: no such file. Give the path of a Markdown spec.")
    if path.is_dir():
        raise SpecError(f"spec {where}: is a directory; give the Markdown file inside it.")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SpecError(
                f"spec {where}: {size:,} bytes is larger than the {max_bytes:,}-byte limit "
                "([loop] spec_max_bytes). Shorten the spec or raise the limit."
            )
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"spec {where}: cannot read it: {exc.strerror}.") from None
    return parse(data, path=path, max_bytes=max_bytes, commit_types=commit_types)


def parse(
    data: bytes,
    *,
    path: Path = Path("<spec>"),
    max_bytes: int | None = None,
    commit_types: list[str] | None = None,
) -> Spec:
    where = str(path)
    if max_bytes is not None and len(data) > max_bytes:
        raise SpecError(
            f"spec {where}: {len(data):,} bytes is larger than the {max_bytes:,}-byte limit "
            "([loop] spec_max_bytes). Shorten the spec or raise the limit."
        )
    if not data.strip():
        raise SpecError(f"spec {where}: the file is empty. Write a '# Title' and what to build.")
    if b"\0" in data:
        raise SpecError(
            f"spec {where}: looks like a binary file (it contains NUL bytes). "
            "A spec is a Markdown text file."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"spec {where}: not valid UTF-8 (byte 0x{data[exc.start]:02x} on line {line}). "
            "Save it as UTF-8."
        ) from None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    meta, body, body_line = _front_matter(text, where)
    title = _title(body, where, body_line)
    kind = _type(meta, where, commit_types)
    scope = _scope(meta, where)
    slug = _slug(meta, title, where)
    return Spec(
        path=path,
        title=title,
        slug=slug,
        type=kind,
        scope=scope,
        text=body.strip("\n") + "\n",
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _front_matter(text: str, where: str) -> tuple[dict, str, int]:
    """(front matter, the rest, the line number the rest starts on)."""
    lines = text.split("\n")
    fence = lines[0].rstrip()
    if fence not in ("+++", "---"):
        return {}, text, 1
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].rstrip() == fence)
    except StopIteration:
        raise SpecError(
            f"spec {where}: the front matter opened with '{fence}' on line 1 is never closed. "
            f"End it with a '{fence}' line."
        ) from None
    source = "\n".join(lines[1:end])
    try:
        meta = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(
            f"spec {where}: the front matter is not valid TOML ({exc}); it starts on line 2. "
            'Write it as TOML: type = "fix", scope = "auth", slug = "login-timeout".'
        ) from None
    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            hint = did_you_mean(key, FRONT_MATTER_KEYS)
            raise SpecError(
                f"spec {where}: unknown front matter key '{key}'.{hint} "
                f"Known keys: {', '.join(FRONT_MATTER_KEYS)}."
            )
        if not isinstance(meta[key], str):
            raise SpecError(f"spec {where}: front matter '{key}' must be a string.")
    return meta, "\n".join(lines[end + 1 :]), end + 2


def _title(body: str, where: str, first_line: int) -> str:
    """The text of the first heading (ATX `# Title` or setext), outside code fences."""
    lines = body.split("\n")
    fence: str | None = None
    for i, line in enumerate(lines):
        if match := _FENCE.match(line):
            marker = match[1]
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
            continue
        if fence is not None:
            continue
        if (match := _ATX.fullmatch(line)) and (match["text"] or "").strip():
            return _clean_title(match["text"])
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith((" " * 4, "\t")) and _SETEXT.fullmatch(following):
            if following.strip().startswith("=") or not line.lstrip().startswith(("-", "*", "+")):
                return _clean_title(line)
    raise SpecError(
        f"spec {where}: no title. Start the spec with a heading, e.g. '# Add a logout button' "
        f"(looked from line {first_line})."
    )


def _clean_title(text: str) -> str:
    return " ".join(text.strip().split())


def _type(meta: dict, where: str, commit_types: list[str] | None) -> str:
    kind = meta.get("type", DEFAULT_TYPE).strip()
    allowed = commit_types or [DEFAULT_TYPE, "fix", "refactor", "docs", "test", "perf", "chore"]
    if kind.lower() not in {t.lower() for t in allowed}:
        hint = did_you_mean(kind, allowed)
        raise SpecError(
            f"spec {where}: type '{kind}' is not an allowed commit type.{hint} "
            f"Use one of: {', '.join(allowed)} ([git] commit_types)."
        )
    return kind.lower()


def _scope(meta: dict, where: str) -> str | None:
    scope = meta.get("scope", "").strip()
    if not scope:
        return None
    if not _SCOPE.fullmatch(scope):
        raise SpecError(
            f"spec {where}: scope '{scope}' must be one word (letters, digits, . _ / -), "
            "e.g. 'auth' or 'cli'."
        )
    return scope


def _slug(meta: dict, title: str, where: str) -> str:
    if "slug" in meta:
        slug = meta["slug"].strip()
        if not _SLUG.fullmatch(slug) or len(slug) > SLUG_MAX:
            raise SpecError(
                f"spec {where}: slug '{slug}' must be lower-case letters, digits and single "
                f"hyphens, at most {SLUG_MAX} characters, e.g. 'login-timeout'."
            )
        return slug
    return slugify(title)


def slugify(title: str) -> str:
    """A branch- and path-safe slug: ASCII lower case, digits, single hyphens."""
    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > SLUG_MAX:
        cut = slug[:SLUG_MAX]
        slug = cut.rsplit("-", 1)[0] if "-" in cut else cut
    if not slug:  # a title with no ASCII letters at all: a stable slug from its text
        slug = "feature-" + hashlib.sha256(title.encode()).hexdigest()[:8]
    return slug
