"""The command line: tally FILE... [--top N]."""

import argparse
import sys

from tally import __version__
from tally.counter import count_words, top
from tally.report import format_table
from tally.tokenize import words


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tally", description="Count the words in text files and show the most frequent."
    )
    parser.add_argument(
        "files", nargs="+", metavar="FILE", help="UTF-8 text files to read ('-' for stdin)"
    )
    parser.add_argument(
        "--top", type=int, default=10, metavar="N", help="show the N most frequent words"
    )
    parser.add_argument("--version", action="version", version=f"tally {__version__}")
    return parser


def read_text(name: str) -> str:
    if name == "-":
        return sys.stdin.read()
    with open(name, encoding="utf-8") as handle:
        return handle.read()


def main(argv: list[str] | None = None) -> int:
    """Run tally; returns the exit status (0 ok, 2 bad usage or an unreadable file)."""
    args = build_parser().parse_args(argv)
    if args.top < 1:
        print("tally: --top must be at least 1", file=sys.stderr)
        return 2
    all_words: list[str] = []
    for name in args.files:
        try:
            all_words += words(read_text(name))
        except OSError as exc:
            print(f"tally: cannot read {name}: {exc.strerror}", file=sys.stderr)
            return 2
    sys.stdout.write(format_table(top(count_words(all_words), args.top)))
    return 0
