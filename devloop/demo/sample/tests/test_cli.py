"""The command line, run in-process on temporary files."""

import contextlib
import io
import os
import tempfile
import unittest

from tally.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    """Run `tally ARGV`; return the exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exc:  # argparse exits on usage errors
            status = exc.code
    return status, out.getvalue(), err.getvalue()


class CliTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir.name, name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def test_most_frequent_words_first(self) -> None:
        path = self.write("a.txt", "the cat and the hat\n")
        self.assertEqual(run(path, "--top", "2"), (0, "the  2\nand  1\n", ""))

    def test_counts_across_files(self) -> None:
        first = self.write("a.txt", "cat\n")
        second = self.write("b.txt", "cat hat\n")
        self.assertEqual(run(first, second), (0, "cat  2\nhat  1\n", ""))

    def test_unreadable_file_exits_2(self) -> None:
        missing = os.path.join(self.dir.name, "missing.txt")
        status, out, err = run(missing)
        self.assertEqual((status, out), (2, ""))
        self.assertEqual(err, f"tally: cannot read {missing}: No such file or directory\n")

    def test_top_below_one_exits_2(self) -> None:
        path = self.write("a.txt", "cat\n")
        self.assertEqual(run(path, "--top", "0"), (2, "", "tally: --top must be at least 1\n"))
