"""Find the files shipped next to the code: templates/ and hooks/.

In a wheel they are force-included under devloop/_bundled/; in a source checkout or an
editable install they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """The shipped folder `name` ("templates" or "hooks")."""
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"devloop's bundled '{name}' folder is missing from {_PACKAGE}; reinstall devloop."
    )
