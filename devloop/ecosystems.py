"""The ecosystems `devloop init` knows and the [commands] it writes for each: one table.

An ecosystem is found by its manifests at the repository root. Each of its candidates is a
[commands] entry written only when the project configures or defines what it needs (its
condition: a tool config, a package.json script, a Makefile target) and every program it
starts resolves on PATH; the first candidate that qualifies for a key wins. What is left out
is said, with why: not on PATH, or on PATH but not configured in the project. Manifests
below the root (a monorepo's other projects) are named, with the command they would get,
because [commands] run at the root do not reach them.

To support another ecosystem: a row in ECOSYSTEMS, its rows in CANDIDATES, and the facts
its conditions read in `manifests.py`. The README's ecosystem table is rendered from these
(`reference_markdown`) and a test compares the two.

May import: config, manifests.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from devloop import config as config_mod
from devloop.manifests import CMAKE_BUILD, Project, nested, read

# devloop's [commands] has no key of its own for a type check: it runs as part of lint.
TYPECHECK = "typecheck"
PYTHON_BYPRODUCTS = ("__pycache__/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/")


@dataclass(frozen=True)
class Ecosystem:
    name: str
    title: str  # what init and the README call it
    manifests: tuple[str, ...]  # glob patterns at the root; any match means the project is one
    # Weaker signs, counted only when no ecosystem's manifest is at the root: a Go repository
    # with a helper script gen.py is not a Python project.
    loose_files: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()  # its build and test by-products, for .gitignore
    # Nested manifests it reaches from the root (a workspace), so they are not reported.
    reaches_nested: Callable[[Project], bool] = lambda project: False
    note: str = ""  # said when one of its commands is written: what it needs to run
    sandbox_read: tuple[str, ...] = ()  # [sandbox] read entries its commands need
    # Its source files, written as the <key>_files of its lint and format commands, so the
    # hooks and the agent hand a check only the files it checks (and skip it otherwise).
    source_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """What the project must configure or define for a candidate to apply."""

    holds: Callable[[Project], bool]
    needs: str = ""  # what it needs, for init's messages and the README ("" for ALWAYS)
    # A fallback or an alternative: when it does not hold, init says nothing about it.
    quiet: bool = False


ALWAYS = Condition(lambda project: True)


@dataclass(frozen=True)
class Candidate:
    """A [commands] entry `init` may write for a project of `ecosystem`. `command` and
    `programs` may name facts of the project (`facts`): {pm}, {pm_test}, {cmake_build},
    {make_target}, {unittest_start}, {mypy_target}."""

    ecosystem: str
    key: str  # the [commands] key, or TYPECHECK (joined to lint)
    command: str
    programs: tuple[str, ...]  # each must resolve: on PATH, or a path in the repository
    when: Condition = ALWAYS


def _script(name: str) -> Condition:
    return Condition(lambda project: project.has_script(name), f'a "{name}" script in package.json')


RUFF = Condition(
    lambda p: p.ruff, "a ruff config ([tool.ruff] in pyproject.toml, ruff.toml or .ruff.toml)"
)
FLAKE8 = Condition(
    lambda p: p.flake8, "a flake8 config (.flake8, or [flake8] in setup.cfg or tox.ini)"
)
BLACK = Condition(lambda p: p.black, "a black config ([tool.black] in pyproject.toml)")
MYPY = Condition(
    lambda p: p.mypy, "a mypy config (mypy.ini, .mypy.ini, [tool.mypy], or [mypy] in setup.cfg)"
)
# No Python linter configured: ruff's default rules (syntax errors, undefined names, unused
# imports) still catch real mistakes; its formatter is a style choice, so never by default.
NO_PYTHON_LINTER = Condition(
    lambda p: not (p.ruff or p.flake8), "no ruff or flake8 config: ruff's default rules", True
)
UNITTEST = Condition(
    lambda p: bool(p.unittest_start),
    "tests importing unittest (in tests/, test/ or the root) and no sign of pytest",
    True,
)
GOLANGCI = Condition(
    lambda p: p.golangci, "a golangci-lint config (.golangci.yml, .yaml, .toml or .json)"
)
CMAKE_TESTS = Condition(
    lambda p: p.cmake_tests,
    "tests in CMakeLists.txt (enable_testing(), include(CTest) or add_test())",
)
MAKE_TARGET = Condition(
    lambda p: bool(p.make_target),
    "a test or check target in the Makefile (`make check` when it has only that)",
)
GRADLE_WRAPPER = Condition(lambda p: (p.root / "gradlew").is_file(), "a gradlew script", True)
NO_GRADLE_WRAPPER = Condition(
    lambda p: not (p.root / "gradlew").is_file(), "no gradlew script", True
)
RSPEC = Condition(lambda p: p.rspec, "a Gemfile and a spec/ directory")
BUNDLED_RAKE_TEST = Condition(
    lambda p: p.gemfile and p.rake_test, "a Gemfile and a test task in the Rakefile"
)
PLAIN_RAKE_TEST = Condition(
    lambda p: not p.gemfile and p.rake_test, "a test task in the Rakefile, no Gemfile", True
)

_NO_NETWORK = "the sandbox has no network unless [sandbox] network = true"

# To detect another ecosystem, add it here and its commands below (first match per key wins).
ECOSYSTEMS = (
    Ecosystem(
        "python",
        "Python",
        ("pyproject.toml", "setup.py", "setup.cfg"),
        loose_files=("*.py",),
        ignored=PYTHON_BYPRODUCTS,
        reaches_nested=lambda p: p.python_workspace,
        source_files=("*.py", "*.pyi"),
    ),
    Ecosystem(
        "node",
        "JavaScript/TypeScript",
        ("package.json",),
        ignored=("node_modules/",),
        reaches_nested=lambda p: p.node_workspace,
        note="the scripts run what is installed in node_modules: install it first "
        f"(`{{pm}} install`); {_NO_NETWORK}",
        source_files=("*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.mts", "*.cts"),
    ),
    Ecosystem(
        "go",
        "Go",
        ("go.mod",),
        reaches_nested=lambda p: p.go_workspace,
        note="go downloads modules missing from its module cache; " + _NO_NETWORK,
        source_files=("*.go",),
    ),
    Ecosystem(
        "rust",
        "Rust",
        ("Cargo.toml",),
        ignored=("target/",),
        reaches_nested=lambda p: p.cargo_workspace,
        note="cargo downloads crates missing from ~/.cargo on a first build (cargo fetch); "
        + _NO_NETWORK,
        source_files=("*.rs",),
    ),
    Ecosystem(
        "maven",
        "Java/Kotlin (Maven)",
        ("pom.xml",),
        ignored=("target/",),
        reaches_nested=lambda p: p.maven_modules,
        note="mvn -o runs offline (the sandbox has no network), so the dependencies must "
        "already be in ~/.m2/repository (run `mvn -q test` once outside devloop); init shows "
        'that directory read-only in the sandbox ([sandbox] read = ["~/.m2/repository"]; never '
        "~/.m2 itself, whose settings.xml may hold credentials)",
        sandbox_read=("~/.m2/repository",),
    ),
    Ecosystem(
        "gradle",
        "Java/Kotlin (Gradle)",
        ("build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts"),
        ignored=(".gradle/", "build/"),
        reaches_nested=lambda p: p.gradle_includes,
        note="Gradle downloads itself (the wrapper) and the dependencies into ~/.gradle; in "
        "the sandbox the home is empty and there is no network, so the tests run there only "
        "with [sandbox] network = true, downloading again each run",
    ),
    Ecosystem(
        "cmake",
        "C/C++ (CMake)",
        ("CMakeLists.txt",),
        ignored=("{cmake_build}/",),
        reaches_nested=lambda p: True,  # add_subdirectory(): one build from the root
        note="the test command configures and builds into {cmake_build}/ first{cmake_build_why}, "
        "then runs ctest (never on a stale build)",
    ),
    Ecosystem("make", "C/C++ (Make)", ("GNUmakefile", "makefile", "Makefile")),
    Ecosystem(
        "ruby",
        "Ruby",
        ("Gemfile", "gems.rb", "Rakefile", "*.gemspec"),
        note="bundle exec runs the gems installed for the project (bundle install first); "
        + _NO_NETWORK,
    ),
)

CANDIDATES = (
    # Python
    Candidate("python", "lint", "ruff check .", ("ruff",), RUFF),
    Candidate("python", "lint", "flake8 .", ("flake8",), FLAKE8),
    Candidate("python", "lint", "ruff check .", ("ruff",), NO_PYTHON_LINTER),
    Candidate("python", TYPECHECK, "mypy{mypy_target}", ("mypy",), MYPY),
    Candidate("python", "format", "ruff format --check .", ("ruff",), RUFF),
    Candidate("python", "format_fix", "ruff format .", ("ruff",), RUFF),
    Candidate("python", "format", "black --check .", ("black",), BLACK),
    Candidate("python", "format_fix", "black .", ("black",), BLACK),
    Candidate("python", "test", "pytest -q", ("pytest",)),
    Candidate(
        "python", "test", "python3 -m unittest discover -s {unittest_start}", ("python3",), UNITTEST
    ),
    # JavaScript/TypeScript: the package manager of the lock file
    Candidate("node", "lint", "{pm} run lint", ("{pm}",), _script("lint")),
    Candidate("node", TYPECHECK, "{pm} run typecheck", ("{pm}",), _script("typecheck")),
    Candidate("node", "test", "{pm_test}", ("{pm}",), _script("test")),
    # Go
    Candidate("go", "lint", "golangci-lint run", ("golangci-lint",), GOLANGCI),
    Candidate("go", "lint", "go vet ./...", ("go",)),
    Candidate("go", "test", "go test ./...", ("go",)),
    # Rust: clippy's warnings fail the check, as a linter's findings do
    Candidate(
        "rust",
        "lint",
        "cargo clippy --all-targets -- -D warnings",
        ("cargo", "cargo-clippy"),
    ),
    Candidate("rust", "format", "cargo fmt --check", ("cargo", "cargo-fmt")),
    Candidate("rust", "format_fix", "cargo fmt", ("cargo", "cargo-fmt")),
    Candidate("rust", "test", "cargo test", ("cargo",)),
    # Java/Kotlin
    Candidate("maven", "test", "mvn -o -q test", ("mvn",)),
    Candidate("gradle", "test", "./gradlew test", ("./gradlew",), GRADLE_WRAPPER),
    Candidate("gradle", "test", "gradle test", ("gradle",), NO_GRADLE_WRAPPER),
    # C/C++: ctest on a fresh build of the code as it is, never on a stale one
    Candidate(
        "cmake",
        "test",
        "cmake -S . -B {cmake_build} && cmake --build {cmake_build} && "
        "ctest --test-dir {cmake_build} --output-on-failure",
        ("cmake", "ctest"),
        CMAKE_TESTS,
    ),
    Candidate("make", "test", "make {make_target}", ("make",), MAKE_TARGET),
    # Ruby
    Candidate("ruby", "test", "bundle exec rspec", ("bundle",), RSPEC),
    Candidate("ruby", "test", "bundle exec rake test", ("bundle",), BUNDLED_RAKE_TEST),
    Candidate("ruby", "test", "rake test", ("rake",), PLAIN_RAKE_TEST),
)


# ------------------------------------------------------------------ detection


@dataclass(frozen=True)
class LeftOut:
    """A candidate that applies to the project but was not written, and why: its program
    does not resolve (`missing`), the project does not configure what it needs (neither
    set), or another ecosystem's command has its key (`shadowed`)."""

    candidate: Candidate
    command: str  # as it would have been written
    missing: str = ""  # the program that does not resolve
    instead: str = ""  # the command written for its key
    shadowed: str = ""  # the title of the ecosystem whose command has its key


@dataclass(frozen=True)
class Nested:
    """A project below the root that [commands] run at the root do not reach."""

    directory: str  # relative, with a trailing slash
    ecosystem: Ecosystem
    test: str  # the test command it would get there, or ""
    why_none: str  # why it would get none


@dataclass
class Detection:
    found: list[tuple[Ecosystem, str]]  # each ecosystem with the manifest that showed it
    commands: config_mod.CommandsConfig
    left_out: list[LeftOut]
    facts: dict[str, str]
    written: list[Ecosystem]  # the ecosystems at least one of whose commands was written
    nested: list[Nested] = field(default_factory=list)
    nested_reached: list[str] = field(default_factory=list)  # manifests a root workspace reaches
    nested_stopped: bool = False  # the search for nested projects stopped at its limit

    def ignore_lines(self) -> list[str]:
        """The by-products of the ecosystems found, for .gitignore."""
        lines = [i.format(**self.facts) for e, _ in self.found for i in e.ignored]
        return list(dict.fromkeys(lines))

    def sandbox_read(self) -> list[str]:
        return list(dict.fromkeys(p for e in self.written for p in e.sandbox_read))

    def notes(self) -> list[tuple[Ecosystem, str]]:
        """What the written commands need to run (a first download, an install)."""
        return [(e, e.note.format(**self.facts)) for e in self.written if e.note]


def facts(project: Project) -> dict[str, str]:
    """The values `{name}` in a candidate's command and programs stand for."""
    return {
        "pm": project.package_manager,
        "pm_test": project.pm_test,
        "cmake_build": project.cmake_build,
        "cmake_build_why": (
            ""
            if project.cmake_build == CMAKE_BUILD
            else f" ({CMAKE_BUILD}/ holds files that are not a CMake build)"
        ),
        "make_target": project.make_target,
        "unittest_start": project.unittest_start,
        "mypy_target": "" if project.mypy_files else " .",  # the config's `files`, else all
    }


def found_at(root: Path) -> list[tuple[Ecosystem, str]]:
    """The ecosystems whose manifests are at `root` (else those whose loose files are), in
    ECOSYSTEMS order, each with the first file that showed it."""
    by_manifest = [(e, _first(root, e.manifests)) for e in ECOSYSTEMS]
    found = [(e, name) for e, name in by_manifest if name]
    if found:
        return found
    by_loose_files = [(e, _first(root, e.loose_files)) for e in ECOSYSTEMS]
    return [(e, name) for e, name in by_loose_files if name]


def _first(root: Path, patterns: tuple[str, ...]) -> str:
    for pattern in patterns:
        match = next((m for m in sorted(root.glob(pattern)) if m.is_file()), None)
        if match is not None:
            return match.name
    return ""


def detect(root: Path, path: str | None = None, *, look_below: bool = True) -> Detection:
    """The lint, format and test commands for the project at `root` whose programs resolve
    on `path` (default: PATH), what was left out and why, and (`look_below`) the projects
    nested below the root that those commands do not reach."""
    found = found_at(root)
    project = read(root)
    values = facts(project)
    names = {e.name for e, _ in found}
    chosen: dict[str, tuple[Candidate, str]] = {}  # key -> the candidate and its command
    left_out: list[LeftOut] = []
    for candidate in CANDIDATES:
        if candidate.ecosystem not in names:
            continue
        taken = chosen.get(candidate.key)
        if taken is not None and (
            taken[0].ecosystem == candidate.ecosystem
            or any(i.shadowed and i.candidate.key == candidate.key for i in left_out)
        ):
            continue
        command = candidate.command.format(**values)
        programs = [p.format(**values) for p in candidate.programs]
        missing = next((p for p in programs if not resolves(p, root, path)), None)
        holds = candidate.when.holds(project)
        if taken is not None:  # another ecosystem's command has the key: say so if this applies
            if holds and missing is None:
                title = next(e.title for e, _ in found if e.name == taken[0].ecosystem)
                left_out.append(LeftOut(candidate, command, instead=taken[1], shadowed=title))
            continue
        if not holds:
            if missing is None and not candidate.when.quiet:  # installed, not configured
                example = candidate.command.format(**{**values, **_example_facts(values)})
                left_out.append(LeftOut(candidate, example))
            continue
        if missing is not None:
            left_out.append(LeftOut(candidate, command, missing))
            continue
        chosen[candidate.key] = (candidate, command)

    commands = config_mod.CommandsConfig()
    for key, (_, command) in chosen.items():
        if key != TYPECHECK:
            setattr(commands, key, command)
    if TYPECHECK in chosen:
        commands.lint = " && ".join(c for c in (commands.lint, chosen[TYPECHECK][1]) if c)
    by_name = {e.name: e for e in ECOSYSTEMS}
    for key in ("lint", "format"):
        owners = [
            chosen[k][0].ecosystem for k in (key, TYPECHECK if key == "lint" else "") if k in chosen
        ]
        patterns = [p for name in dict.fromkeys(owners) for p in by_name[name].source_files]
        setattr(commands, f"{key}_files", patterns)
    kept = []
    for item in left_out:
        if item.shadowed or item.candidate.key not in chosen:
            kept.append(item)
        elif item.missing and item.candidate.when.needs and not item.candidate.when.quiet:
            # The project configures this tool, but it is not installed: say so, even though
            # a fallback took its place.
            kept.append(dataclasses.replace(item, instead=chosen[item.candidate.key][1]))
    written = {candidate.ecosystem for candidate, _ in chosen.values()}
    detection = Detection(found, commands, kept, values, [e for e, _ in found if e.name in written])
    if look_below:
        _look_below(detection, root, project, path)
    return detection


def _example_facts(values: dict[str, str]) -> dict[str, str]:
    """Stand-ins for the facts a project lacks, to show a command it did not get."""
    stand_ins = {"make_target": "test", "unittest_start": "tests"}
    return {k: v for k, v in stand_ins.items() if not values.get(k)}


def resolves(program: str, root: Path, path: str | None) -> bool:
    """A program name on `path`, or a path (./gradlew) to an executable in the repository."""
    if "/" in program:
        target = root / program
        return target.is_file() and os.access(target, os.X_OK)
    return shutil.which(program, path=path) is not None


def unresolved(program: str) -> str:
    """Why `program` does not resolve, for init's messages."""
    if "/" in program:
        return f"`{program}` is not an executable file (chmod +x {program.removeprefix('./')})"
    return f"`{program}` is not on PATH"


# Names that below the root are rarely a project of their own: a module called setup.py
# (a CLI's `setup` commands), a setup.cfg holding only a linter's settings, a helper
# Makefile (docs/Makefile).
NOT_NESTED_MANIFESTS = ("setup.py", "setup.cfg", "GNUmakefile", "makefile", "Makefile")


def _look_below(detection: Detection, root: Path, project: Project, path: str | None) -> None:
    """The projects below the root: reached from it (a workspace), or not (named, with the
    test command each would get in its own directory)."""
    by_manifest: dict[str, Ecosystem] = {}
    for ecosystem in ECOSYSTEMS:
        for manifest in ecosystem.manifests:
            if "*" not in manifest and manifest not in NOT_NESTED_MANIFESTS:
                by_manifest.setdefault(manifest, ecosystem)
    files, detection.nested_stopped = nested(root, set(by_manifest))
    at_root = {e.name for e, _ in detection.found}
    seen: set[tuple[str, str]] = set()
    for rel in sorted(files, key=lambda f: (f.count("/"), f)):  # outer projects first
        directory, _, name = rel.rpartition("/")
        ecosystem = by_manifest[name]
        if (directory, ecosystem.name) in seen:
            continue
        seen.add((directory, ecosystem.name))
        if ecosystem.name in at_root and ecosystem.reaches_nested(project):
            detection.nested_reached.append(rel)
            continue
        if any((directory + "/").startswith(n.directory) for n in detection.nested):
            continue  # inside a nested project already named
        below = detect(root / directory, path, look_below=False)
        test = below.commands.test if ecosystem in below.written else ""
        why = next(
            (
                unresolved(item.missing)
                if item.missing
                else f"it needs {item.candidate.when.needs}"
                for item in below.left_out
                if item.candidate.key == "test" and item.candidate.ecosystem == ecosystem.name
            ),
            "no test command detected",
        )
        detection.nested.append(Nested(directory + "/", ecosystem, test, "" if test else why))


# ------------------------------------------------------------------ the README's table


def reference_markdown() -> str:
    """The README's table of what `devloop init` detects and writes, and what the written
    commands need to run, rendered from ECOSYSTEMS and CANDIDATES."""
    lines = [
        "| ecosystem: found by (at the root) | key | command | programs on PATH | and when |",
        "|---|---|---|---|---|",
    ]
    for ecosystem in ECOSYSTEMS:
        manifests = ", ".join(f"`{m}`" for m in ecosystem.manifests)
        if ecosystem.loose_files:
            loose = ", ".join(f"`{m}`" for m in ecosystem.loose_files)
            manifests += f" (or {loose}, when no manifest of any ecosystem is)"
        first = f"{ecosystem.title}: {manifests}"
        for candidate in (c for c in CANDIDATES if c.ecosystem == ecosystem.name):
            programs = ", ".join(f"`{_generic(p)}`" for p in candidate.programs)
            needs = candidate.when.needs or "always"
            lines.append(
                f"| {first} | {key_label(candidate.key)} | `{_generic(candidate.command)}` "
                f"| {programs} | {needs} |"
            )
            first = ""
    lines += ["", "What the written commands need (init says so when it writes them):", ""]
    lines += [f"- {e.title}: {_generic(e.note)}." for e in ECOSYSTEMS if e.note]
    return "\n".join(lines) + "\n"


def config_key(key: str) -> str:
    """The [commands] key a candidate's command goes to."""
    return "lint" if key == TYPECHECK else key


def key_label(key: str) -> str:
    return "typecheck (part of lint)" if key == TYPECHECK else key


def _generic(command: str) -> str:
    """A command as the README shows it, for any project."""
    return command.format(
        pm="<pm>",
        pm_test="<pm> test",
        cmake_build="build",
        cmake_build_why="",
        make_target="test",
        unittest_start="tests",
        mypy_target=" .",
    )
