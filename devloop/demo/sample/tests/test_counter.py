import unittest
from collections import Counter

from tally.counter import count_words, top


class CountWordsTest(unittest.TestCase):
    def test_counts_each_word(self) -> None:
        self.assertEqual(count_words(["a", "b", "a"]), Counter({"a": 2, "b": 1}))


class TopTest(unittest.TestCase):
    def test_most_frequent_first_then_alphabetical(self) -> None:
        counts = Counter({"hat": 1, "the": 2, "cat": 1})
        self.assertEqual(top(counts, 2), [("the", 2), ("cat", 1)])

    def test_n_below_one_is_refused(self) -> None:
        with self.assertRaises(ValueError):
            top(Counter(), 0)
