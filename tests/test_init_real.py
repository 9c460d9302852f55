"""The commands `devloop init` writes, run for real: on a tiny generated project per
ecosystem whose toolchain is on this machine, init (PATH: git, devloop and that toolchain)
writes the commands, and they run in devloop's sandbox (bubblewrap, no network) as the
loop runs them: they pass on the project as written and fail once its code is broken.

A test is skipped only when its toolchain is absent.
"""

from __future__ import annotations

import os
import pwd
import shutil
from pathlib import Path

import pytest
from test_init import tool_bin

from devloop import config as config_mod
from devloop import sandbox
from devloop.checks.commands import run_format, run_lint, run_tests


def needs(*programs: str):
    missing = [p for p in programs if shutil.which(p) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


def write(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def init(repo: Path, tmp_path: Path, run_devloop, *programs: str) -> tuple[config_mod.Config, str]:
    """`devloop init` with git, devloop and the directories of the real `programs` on PATH;
    the config it wrote, and what it said."""
    dirs = dict.fromkeys(str(Path(shutil.which(p)).parent) for p in programs)
    path = os.pathsep.join([str(tool_bin(tmp_path / "path")), *dirs])
    proc = run_devloop(repo, "init", env={"PATH": path})
    assert proc.returncode == 0, proc.stderr
    return config_mod.load(repo), proc.stdout


def in_sandbox(cfg: config_mod.Config) -> sandbox.Runner:
    runner = sandbox.runner(cfg, required=True)
    assert runner.sandboxed
    return runner


@pytest.fixture
def real_home(monkeypatch) -> Path:
    """The user's real home: rustup's toolchains and Maven's local repository live there
    (the sandbox shows them read-only; the rest of the home stays hidden)."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    monkeypatch.setenv("HOME", str(home))
    return home


# ------------------------------------------------------------------ Rust

LIB_RS = """pub fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::add(2, 2), 4);
    }
}
"""


@needs("cargo", "cargo-clippy", "cargo-fmt")
def test_rust_commands_run_in_the_sandbox(git_repo, tmp_path, run_devloop, real_home):
    write(
        git_repo,
        {
            "Cargo.toml": '[package]\nname = "calc"\nversion = "0.1.0"\nedition = "2021"\n',
            "src/lib.rs": LIB_RS,
        },
    )
    cfg, said = init(git_repo, tmp_path, run_devloop, "cargo")
    assert cfg.commands.test == "cargo test"
    assert cfg.commands.lint == "cargo clippy --all-targets -- -D warnings"
    assert cfg.commands.format == "cargo fmt --check"
    box = in_sandbox(cfg)

    tests = run_tests(cfg, runner=box)
    assert tests.passed, tests.output
    assert "test tests::adds ... ok" in tests.output
    assert run_lint(cfg, runner=box).passed
    assert run_format(cfg, runner=box).passed

    (git_repo / "src" / "lib.rs").write_text(LIB_RS.replace("a + b", "a - b"))
    broken = run_tests(cfg, runner=box)
    assert not broken.passed
    assert "test tests::adds ... FAILED" in broken.output
    (git_repo / "src" / "lib.rs").write_text(LIB_RS.replace("    a + b", "a + b"))
    assert not run_format(cfg, runner=box).passed


# ------------------------------------------------------------------ Java (Maven)

# Plugin versions pinned to what the local repository holds: `mvn -o` never downloads.
POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId><artifactId>calc</artifactId><version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency><groupId>org.junit.jupiter</groupId><artifactId>junit-jupiter</artifactId>
      <version>5.10.2</version><scope>test</scope></dependency>
  </dependencies>
  <build><plugins>
    <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
    <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
    <plugin><artifactId>maven-surefire-plugin</artifactId><version>3.2.5</version></plugin>
  </plugins></build>
</project>
"""
MAVEN_CACHED = (
    "org/apache/maven/plugins/maven-resources-plugin/3.3.1",
    "org/apache/maven/plugins/maven-compiler-plugin/3.13.0",
    "org/apache/maven/plugins/maven-surefire-plugin/3.2.5",
    "org/junit/jupiter/junit-jupiter/5.10.2",
)
CALC_JAVA = "package calc;\n\npublic class Calc {\n  public static int add(int a, int b) {\n    return a + b;\n  }\n}\n"
CALC_TEST_JAVA = """package calc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CalcTest {
  @Test
  void adds() throws Exception {
    Files.writeString(Path.of("target", "calc-test-ran"), "yes");
    assertEquals(4, Calc.add(2, 2));
  }
}
"""


def _maven_cached() -> bool:
    repository = Path(pwd.getpwuid(os.getuid()).pw_dir) / ".m2" / "repository"
    return all((repository / p).is_dir() for p in MAVEN_CACHED)


@needs("mvn", "java")
@pytest.mark.skipif(not _maven_cached(), reason="the JUnit/Maven plugins are not in ~/.m2")
def test_maven_test_runs_offline_in_the_sandbox(git_repo, tmp_path, run_devloop, real_home):
    write(
        git_repo,
        {
            "pom.xml": POM,
            "src/main/java/calc/Calc.java": CALC_JAVA,
            "src/test/java/calc/CalcTest.java": CALC_TEST_JAVA,
        },
    )
    cfg, said = init(git_repo, tmp_path, run_devloop, "mvn", "java")
    assert cfg.commands.test == "mvn -o -q test"
    assert cfg.sandbox.read == ["~/.m2/repository"]
    assert "mvn -o runs offline" in said

    result = run_tests(cfg, runner=in_sandbox(cfg))
    assert result.passed, result.output
    assert (git_repo / "target" / "calc-test-ran").read_text() == "yes"  # surefire ran it


# ------------------------------------------------------------------ C (CMake, Make)

CMAKE = """cmake_minimum_required(VERSION 3.13)
project(calc C)
enable_testing()
add_executable(calc_test calc_test.c)
add_test(NAME calc COMMAND calc_test)
"""
CALC_TEST_C = "static int add(int a, int b) { return a + b; }\nint main(void) { return add(2, 2) == 4 ? 0 : 1; }\n"


@needs("cmake", "ctest", "cc")
def test_cmake_builds_and_ctest_runs_in_the_sandbox(git_repo, tmp_path, run_devloop):
    write(git_repo, {"CMakeLists.txt": CMAKE, "calc_test.c": CALC_TEST_C})
    cfg, said = init(git_repo, tmp_path, run_devloop, "cmake", "ctest")
    assert cfg.commands.test.startswith("cmake -S . -B build && ")
    box = in_sandbox(cfg)

    result = run_tests(cfg, runner=box)
    assert result.passed, result.output
    assert "100% tests passed" in result.output

    (git_repo / "calc_test.c").write_text(CALC_TEST_C.replace("a + b", "a - b"))
    broken = run_tests(cfg, runner=box)  # rebuilt: never the stale binary
    assert not broken.passed
    assert "tests failed" in broken.output


MAKEFILE = (
    "calc_test: calc_test.c\n\tcc -o calc_test calc_test.c\n\ncheck: calc_test\n\t./calc_test\n"
)


@needs("make", "cc")
def test_make_check_runs_in_the_sandbox(git_repo, tmp_path, run_devloop):
    write(git_repo, {"Makefile": MAKEFILE, "calc_test.c": CALC_TEST_C})
    cfg, _ = init(git_repo, tmp_path, run_devloop, "make")
    assert cfg.commands.test == "make check"
    box = in_sandbox(cfg)
    assert run_tests(cfg, runner=box).passed

    (git_repo / "calc_test.c").write_text(CALC_TEST_C.replace("a + b", "a - b"))
    assert not run_tests(cfg, runner=box).passed


# ------------------------------------------------------------------ JavaScript (npm)


@needs("npm", "node")
def test_npm_test_script_runs_in_the_sandbox(git_repo, tmp_path, run_devloop):
    write(
        git_repo,
        {
            "package.json": '{"name": "calc", "version": "1.0.0", '
            '"scripts": {"test": "node test.js"}}\n',
            "package-lock.json": '{"name": "calc", "lockfileVersion": 3, "packages": {}}\n',
            "calc.js": "exports.add = (a, b) => a + b;\n",
            "test.js": "const assert = require('assert');\n"
            "assert.strictEqual(require('./calc').add(2, 2), 4);\nconsole.log('calc ok');\n",
        },
    )
    cfg, said = init(git_repo, tmp_path, run_devloop, "npm", "node")
    assert cfg.commands.test == "npm test"
    box = in_sandbox(cfg)
    result = run_tests(cfg, runner=box)
    assert result.passed, result.output
    assert "calc ok" in result.output

    (git_repo / "calc.js").write_text("exports.add = (a, b) => a - b;\n")
    assert not run_tests(cfg, runner=box).passed


# ------------------------------------------------------------------ Go


@needs("go")
def test_go_test_and_vet_run_in_the_sandbox(git_repo, tmp_path, run_devloop):
    write(
        git_repo,
        {
            "go.mod": "module example.com/calc\n\ngo 1.20\n",
            "calc.go": "package calc\n\nfunc Add(a, b int) int { return a + b }\n",
            "calc_test.go": 'package calc\n\nimport "testing"\n\n'
            "func TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(Add(2, 2))\n\t}\n}\n",
        },
    )
    cfg, _ = init(git_repo, tmp_path, run_devloop, "go")
    assert (cfg.commands.test, cfg.commands.lint) == ("go test ./...", "go vet ./...")
    box = in_sandbox(cfg)
    assert run_tests(cfg, runner=box).passed
    assert run_lint(cfg, runner=box).passed

    (git_repo / "calc.go").write_text("package calc\n\nfunc Add(a, b int) int { return a - b }\n")
    assert not run_tests(cfg, runner=box).passed
