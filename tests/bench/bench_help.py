"""Benchmark: median wall time of `devloop --help` (and other fast paths) next to `python -c pass`.

Run by hand: `python tests/bench/bench_help.py [runs]`. Target: `devloop --help` at most 5x
the bare interpreter start. Also reports whether anthropic, rich, git or tree_sitter got imported.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_seconds(argv: list[str], runs: int, cwd: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
        base = median_seconds([sys.executable, "-c", "pass"], runs, cwd)
        print(f"python -c pass          median {base * 1000:7.1f} ms")
        # The installed console script, as a user runs it; `python -m devloop` otherwise.
        script = shutil.which("devloop", path=str(Path(sys.executable).parent))
        command = [script] if script else [sys.executable, "-m", "devloop"]
        print(f"running {' '.join(command)}")
        for args in (["--help"], ["routing"], ["cost", "--all"]):
            t = median_seconds([*command, *args], runs, cwd)
            heavy = heavy_imports(args, cwd)
            print(
                f"devloop {' '.join(args):15s} median {t * 1000:7.1f} ms  "
                f"ratio {t / base:4.1f}x  heavy imports: {heavy[0] if heavy and heavy[0] else 'none'}"
            )


if __name__ == "__main__":
    main()
