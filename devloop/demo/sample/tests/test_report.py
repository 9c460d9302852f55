import unittest

from tally.report import format_table


class FormatTableTest(unittest.TestCase):
    def test_aligns_words_and_counts(self) -> None:
        self.assertEqual(format_table([("the", 12), ("a", 3)]), "the  12\na     3\n")

    def test_no_rows_is_no_output(self) -> None:
        self.assertEqual(format_table([]), "")
