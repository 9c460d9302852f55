"""Lay out the ranked words for the terminal."""


def format_table(rows: list[tuple[str, int]]) -> str:
    """One line per row: the word, padded, then its count right-aligned."""
    if not rows:
        return ""
    width = max(len(word) for word, _ in rows)
    digits = max(len(str(count)) for _, count in rows)
    return "".join(f"{word:<{width}}  {count:>{digits}}\n" for word, count in rows)
