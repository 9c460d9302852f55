"""Spec parsing: title, front matter, slug, and every way a spec file can be unusable."""

from __future__ import annotations

import pytest

from devloop import spec as spec_mod
from devloop.errors import EXIT_USAGE
from devloop.spec import SpecError, parse, slugify


def test_title_slug_and_defaults():
    spec = parse(b"# Add a logout button\n\nUsers can log out.\n")
    assert spec.title == "Add a logout button"
    assert spec.slug == "add-a-logout-button"
    assert spec.type == "feat" and spec.scope is None
    assert spec.text.startswith("# Add a logout button")


def test_toml_front_matter_sets_type_scope_slug():
    data = b'+++\ntype = "fix"\nscope = "auth"\nslug = "login-timeout"\n+++\n# Log out idle users\n'
    spec = parse(data)
    assert (spec.type, spec.scope, spec.slug) == ("fix", "auth", "login-timeout")
    assert spec.text == "# Log out idle users\n"  # the front matter is not part of the text


def test_dashes_also_delimit_toml_front_matter():
    spec = parse(b'---\ntype = "refactor"\n---\n# Split the parser\n')
    assert spec.type == "refactor"


def test_first_heading_wins_and_code_fences_are_skipped():
    data = b"Intro line.\n\n```md\n# not a title\n```\n\n## The real title ##\n# Later\n"
    assert parse(data).title == "The real title"


def test_setext_heading_is_a_title():
    assert parse(b"Make it faster\n==============\n\nbody\n").title == "Make it faster"


def test_bom_and_crlf_are_tolerated():
    spec = parse("\ufeff# Title here\r\n\r\nbody\r\n".encode())
    assert spec.title == "Title here" and "\r" not in spec.text


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"  \n\n", "empty"),
        (b"# Title\n\x00\x01binary", "binary"),
        (b"# Caf\xe9\n", "not valid UTF-8"),
        (b"Just some text, no heading.\n", "no title"),
        (b"#\n\nempty heading only\n", "no title"),
        (b'+++\ntype = "feat"\n# never closed\n', "never closed"),
        (b"+++\ntype: feat\n+++\n# T\n", "not valid TOML"),
        (b'+++\nkind = "feat"\n+++\n# T\n', "unknown front matter key 'kind'"),
        (b'+++\ntype = "feature"\n+++\n# T\n', "not an allowed commit type"),
        (b'+++\nslug = "Bad Slug"\n+++\n# T\n', "slug 'Bad Slug'"),
        (b'+++\nscope = "two words"\n+++\n# T\n', "scope 'two words'"),
        (b"+++\nslug = 3\n+++\n# T\n", "must be a string"),
    ],
)
def test_bad_specs_are_usage_errors(data, expected):
    with pytest.raises(SpecError) as info:
        parse(data, commit_types=["feat", "fix"])
    assert expected in info.value.message
    assert info.value.exit_code == EXIT_USAGE


def test_size_limit_and_file_problems(tmp_path):
    big = tmp_path / "big.md"
    big.write_text("# Big\n" + "x" * 500)
    with pytest.raises(SpecError, match="larger than the 100-byte limit"):
        spec_mod.load(big, max_bytes=100)
    with pytest.raises(SpecError, match="no such file"):
        spec_mod.load(tmp_path / "missing.md", max_bytes=100)
    with pytest.raises(SpecError, match="is a directory"):
        spec_mod.load(tmp_path, max_bytes=100)


def test_slugify():
    assert slugify("Crème brûlée: the API!") == "creme-brulee-the-api"
    assert len(slugify("word " * 40)) <= spec_mod.SLUG_MAX
    assert not slugify("word " * 40).endswith("-")
    assert slugify("日本語").startswith("feature-")  # no ASCII at all: stable hash slug
