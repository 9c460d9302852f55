"""Benchmark: wall time of `devloop --help` (and other fast paths) next to `python -c pass`.

Run by hand: `python tests/bench/bench_help.py [runs]`. Target: `devloop --help` at most 5x
the bare interpreter start, for its slowest run (max) as well as its median; both are
against the median of `python -c pass`, measured interleaved with it so both see the
same machine load. Also reports whether anthropic, rich, git or tree_sitter got imported.

Like the bytecode (compiled first, as `pip install` does), `devloop --help`'s cached text
(devloop/cli/helpcache.py) is warmed by one untimed run: the first `--help` after an
install or an edit goes through click.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def once(argv: list[str], cwd: str) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def interleaved(commands: dict[str, list[str]], runs: int, cwd: str) -> dict[str, list[float]]:
    """Each command `runs` times, taking turns, after one untimed warm-up run each."""
    for argv in commands.values():
        once(argv, cwd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(once(argv, cwd))
    return times


def heavy_imports(args: list[str], cwd: str) -> list[str]:
    code = (
        "import sys, runpy; sys.argv = ['devloop', *sys.argv[1:]]\n"
        "try:\n    runpy.run_module('devloop', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "print('HEAVY:' + ' '.join(m for m in ('anthropic', 'rich', 'git', 'tree_sitter') if m in sys.modules), file=sys.stderr)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    marked = [line for line in proc.stderr.splitlines() if line.startswith("HEAVY:")]
    return [marked[-1].removeprefix("HEAVY:")] if marked else []


def compile_package() -> None:
    """Write devloop's bytecode first, as `pip install` does: with PYTHONDONTWRITEBYTECODE
    set (as in some shells and CI), every run would otherwise recompile from source."""
    import compileall

    import devloop

    compileall.compile_dir(Path(devloop.__file__).parent, quiet=1)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    compile_package()
    with tempfile.TemporaryDirectory() as cwd:
        # The installed console script, as a user runs it; `python -m devloop` otherwise.
        script = shutil.which("devloop", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "devloop"]
        print(f"running {' '.join(command)}, {runs} runs each, interleaved")
        commands = {"python -c pass": [sys.executable, "-c", "pass"]}
        for args in (["--help"], ["routing"], ["cost", "--all"]):
            commands[f"devloop {' '.join(args)}"] = [*command, *args]
        times = interleaved(commands, runs, cwd)
        base = statistics.median(times["python -c pass"])
        for name, ts in times.items():
            median, worst = statistics.median(ts), max(ts)
            line = f"{name:22s} median {median * 1000:6.1f} ms  max {worst * 1000:6.1f} ms"
            if name != "python -c pass":
                args = name.split()[1:]
                heavy = heavy_imports(args, cwd)
                line += (
                    f"  ratio median {median / base:4.1f}x  max {worst / base:4.1f}x"
                    f"  heavy imports: {heavy[0] if heavy and heavy[0] else 'none'}"
                )
            print(line)
        help_max = max(times["devloop --help"]) / base
        verdict = "meets" if help_max <= 5 else "MISSES"
        print(f"devloop --help, slowest run: {help_max:.1f}x ({verdict} the <= 5x target)")


if __name__ == "__main__":
    main()
