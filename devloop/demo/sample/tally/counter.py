"""Count words and rank them."""

from collections import Counter
from collections.abc import Iterable


def count_words(words: Iterable[str]) -> Counter[str]:
    """How often each word occurs."""
    return Counter(words)


def top(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    """The `n` most frequent words, most frequent first; ties in alphabetical order."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:n]
