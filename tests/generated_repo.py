"""Generated Python projects of any size, for the project-map tests and benchmark."""

from __future__ import annotations

from pathlib import Path

MODULE = '''"""Module {i}: records for area {area}, kept in memory and saved as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


class RecordError(Exception):
    """A record that cannot be stored or read back."""


@dataclass
class Record{i}:
    key: str
    value: str
    tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {{"key": self.key, "value": self.value, "tags": list(self.tags)}}

    @classmethod
    def from_dict(cls, data: dict) -> Record{i}:
        if "key" not in data or "value" not in data:
            raise RecordError(f"record without key or value: {{data!r}}")
        return cls(data["key"], data["value"], list(data.get("tags", [])))


class Store{i}:
    """Keeps the records of area {area} by key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.items: dict[str, Record{i}] = {{}}

    def put(self, record: Record{i}) -> None:
        self.items[record.key] = record

    def get(self, key: str) -> Record{i} | None:
        return self.items.get(key)

    def remove(self, key: str) -> bool:
        return self.items.pop(key, None) is not None

    def tagged(self, tag: str) -> list[Record{i}]:
        return [r for r in self.items.values() if tag in r.tags]

    def load(self) -> int:
        if not self.path.exists():
            return 0
        data = json.loads(self.path.read_text(encoding="utf-8"))
        for item in data:
            self.put(Record{i}.from_dict(item))
        return len(data)

    def save(self) -> None:
        rows = [r.to_dict() for r in sorted(self.items.values(), key=lambda r: r.key)]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        tmp.replace(self.path)


def merge_{i}(left: Store{i}, right: Store{i}) -> Store{i}:
    """A store holding both; on a clash the right-hand record wins."""
    merged = Store{i}(left.path)
    for record in [*left.items.values(), *right.items.values()]:
        merged.put(record)
    return merged


def summary_{i}(store: Store{i}) -> dict[str, int]:
    """How many records carry each tag."""
    counts: dict[str, int] = {{}}
    for record in store.items.values():
        for tag in record.tags:
            counts[tag] = counts.get(tag, 0) + 1
    return counts


def export_{i}(store: Store{i}, target: Path) -> int:
    """Write the records as JSON lines; returns how many."""
    lines = [json.dumps(r.to_dict()) for r in store.items.values()]
    target.write_text("\\n".join(lines) + "\\n", encoding="utf-8")
    return len(lines)
'''


def write_modules(root: Path, count: int) -> None:
    """`count` Python modules under root/src: flat for a small project, nested for a big one."""
    for i in range(count):
        area = i % 25
        if count <= 20:
            path = root / "src" / f"mod{i:04d}.py"
        else:
            path = root / "src" / f"area{area:02d}" / f"part{i // 25 % 4}" / f"mod{i:04d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(MODULE.format(i=i, area=area))
