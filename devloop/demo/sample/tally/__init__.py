"""tally: count the words in text files and show the most frequent ones."""

__version__ = "0.3.0"
