"""Split text into words."""

import re

# A word is a run of letters and digits, with an optional apostrophe suffix ("don't").
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, in the order they appear."""
    return _WORD.findall(text.lower())
