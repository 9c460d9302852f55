import unittest

from tally.tokenize import words


class WordsTest(unittest.TestCase):
    def test_lower_cases_and_splits_on_punctuation(self) -> None:
        self.assertEqual(words("The cat, the HAT."), ["the", "cat", "the", "hat"])

    def test_keeps_apostrophes_inside_words(self) -> None:
        self.assertEqual(words("Don't stop"), ["don't", "stop"])

    def test_digits_are_words(self) -> None:
        self.assertEqual(words("route 66"), ["route", "66"])

    def test_empty_text_has_no_words(self) -> None:
        self.assertEqual(words("  \n\t"), [])
