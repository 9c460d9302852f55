"""One file's tags: its definitions (with their signature lines) and the identifiers it
references, read from a tree-sitter syntax tree.

tree-sitter and its grammars (tree-sitter-language-pack) are imported here, on first use:
never on the `--help` or hook path. `parse` returns None for a file the map cannot parse
(no grammar for its suffix, the library missing, or a tree that is all errors); the map
then falls back to the file's layout line and an excerpt.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from devloop.codemap.languages import CONTAINERS, Grammar, grammar_for

if TYPE_CHECKING:
    from tree_sitter import Node

SIGNATURE_CHARS = 200  # a longer signature is cut
SIGNATURE_LINES = 4  # a signature spread over more lines (long parameter lists) is cut
NAME_TYPES = frozenset(
    {
        "identifier", "type_identifier", "field_identifier", "property_identifier",
        "simple_identifier", "constant", "name", "namespace_identifier", "destructor_name",
        "operator_name", "private_property_identifier",
    }
)  # fmt: skip
UNNAMED = {"companion_object": "Companion", "init_declaration": "init"}  # no name node
BODY_TYPES = frozenset({"class_body", "function_body", "enum_class_body"})  # Kotlin's, unnamed
_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_CONSTANT_NAME = re.compile(r"_*[A-Z][A-Z0-9_]*")
_ENDS_STATEMENT = re.compile(rb"[{};]")


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str  # class, function, method, struct, interface, impl, const, type, ...
    line: int  # 1-based line of the definition's first line
    depth: int  # enclosing classes, impls, namespaces ...
    signature: str  # its declaration line(s), whitespace collapsed


@dataclass(frozen=True)
class FileTags:
    language: str
    defs: tuple[Definition, ...]
    refs: tuple[tuple[str, int], ...]  # (identifier, times referenced), sorted by identifier

    def to_json(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "defs": [[d.name, d.kind, d.line, d.depth, d.signature] for d in self.defs],
            "refs": [[name, count] for name, count in self.refs],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileTags:
        return cls(
            str(data["language"]),
            tuple(
                Definition(str(n), str(k), int(line), int(d), str(s))
                for n, k, line, d, s in data["defs"]
            ),
            tuple((str(name), int(count)) for name, count in data["refs"]),
        )


def available() -> bool:
    """Whether tree-sitter and its grammars can be imported here."""
    try:
        import tree_sitter  # noqa: F401
        import tree_sitter_language_pack  # noqa: F401
    except ImportError:
        return False
    return True


def library_version() -> str:
    """The grammars' version: a parse cached under another one is parsed again."""
    from importlib import metadata

    try:
        return metadata.version("tree-sitter-language-pack")
    except metadata.PackageNotFoundError:
        return "none"


_PARSERS = threading.local()  # a parser is not safe to share: one per thread and grammar


def _parser(name: str) -> Any:
    parsers = _PARSERS.__dict__.setdefault("by_name", {})
    if name not in parsers:
        from tree_sitter_language_pack import get_parser

        parsers[name] = get_parser(name)  # type: ignore[arg-type]
    return parsers[name]


@cache
def _ref_query(name: str, types: tuple[str, ...]) -> Any:
    from tree_sitter import Query
    from tree_sitter_language_pack import get_language

    language = get_language(name)  # type: ignore[arg-type]
    known = [t for t in types if language.id_for_node_kind(t, True) is not None]
    return Query(language, "[" + " ".join(f"({t})" for t in known) + "] @ref")


def parse(path: str, data: bytes) -> FileTags | None:
    """The tags of the file at `path` (relative, for its suffix) holding `data`; None when
    the map cannot parse it (see the module docstring)."""
    grammar = grammar_for(path)
    if grammar is None or not available():
        return None
    from tree_sitter import QueryCursor

    tree = _parser(grammar.name).parse(data)
    root = tree.root_node
    found: list[Definition] = []
    name_spans: set[int] = set()
    _collect(root, grammar, data, 0, None, found, name_spans)
    if root.has_error and not found:
        return None  # not this language, or too broken to outline: excerpt it instead
    captured = QueryCursor(_ref_query(grammar.name, grammar.refs)).captures(root)
    refs: Counter[str] = Counter()
    for node in captured.get("ref", []):
        if node.start_byte not in name_spans:
            refs[data[node.start_byte : node.end_byte].decode("utf-8", "replace")] += 1
    return FileTags(grammar.name, tuple(found), tuple(sorted(refs.items())))


def _collect(
    node: Node,
    grammar: Grammar,
    src: bytes,
    depth: int,
    container: str | None,
    out: list[Definition],
    name_spans: set[int],
) -> None:
    """Definitions among `node`'s children, walking through wrappers and into the bodies
    of classes, impls and namespaces, never into function bodies."""
    for child in node.named_children:
        kind = grammar.defs.get(child.type)
        if kind is not None:
            kind = _refine(grammar, child, kind, container, src)
        if kind is None:
            if child.type in grammar.walk:
                _collect(child, grammar, src, depth, container, out, name_spans)
            continue
        name_node = _name_node(grammar, child)
        if name_node is None:
            if child.type not in UNNAMED:
                continue
            name = UNNAMED[child.type]
        else:
            name = src[name_node.start_byte : name_node.end_byte].decode("utf-8", "replace")
            name_spans.add(name_node.start_byte)
        if kind == "function" and _is_member(grammar, child, container):
            kind = "method"
        line = child.start_point[0] + 1
        out.append(Definition(name, kind, line, depth, _signature(child, src)))
        if kind in CONTAINERS:
            _collect(_members(child), grammar, src, depth + 1, kind, out, name_spans)


def _is_member(grammar: Grammar, node: Node, container: str | None) -> bool:
    """A function inside a class, struct, impl, trait ... is a method; one inside a
    namespace or a Rust module is not. C++'s `void Store::load()` is one, defined outside."""
    if container is not None and container != "namespace":
        return not (container == "module" and grammar.name == "rust")
    if grammar.name == "cpp" and node.type == "function_definition":
        named, _ = _declarator(node)
        return named is not None and named.type == "qualified_identifier"
    return False


def _text(node: Node | None, src: bytes) -> str:
    return "" if node is None else src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _keywords(node: Node) -> set[str]:
    """The unnamed tokens of a declaration: `interface`, `enum`, `class` ..."""
    return {c.type for c in node.children if not c.is_named}


def _modifier_text(node: Node, src: bytes) -> str:
    return " ".join(
        _text(c, src)
        for c in node.children
        if c.type in ("modifiers", "modifier", "storage_class_specifier", "type_qualifier")
    )


def _refine(
    grammar: Grammar, node: Node, kind: str, container: str | None, src: bytes
) -> str | None:
    """The kind of definition `node` is, or None when it is not one the outline shows
    (a plain variable, a field, a struct only used, a declaration without a function)."""
    lang, t = grammar.name, node.type
    if t == "assignment":  # Python and Ruby: constants only
        left = node.child_by_field_name("left")
        if left is None:
            return None
        if lang == "ruby":
            return "const" if left.type == "constant" else None
        return (
            "const"
            if left.type == "identifier" and _CONSTANT_NAME.fullmatch(_text(left, src))
            else None
        )
    if t == "variable_declarator" and lang in ("javascript", "typescript", "tsx"):
        value = node.child_by_field_name("value")
        if value is not None and value.type in _FUNCTION_VALUES:
            return "function"
        if value is not None and value.type == "class":
            return "class"
        declaration = node.parent
        exported = (
            declaration is not None
            and declaration.parent is not None
            and (declaration.parent.type == "export_statement")
        )
        is_const = declaration is not None and declaration.children[0].type == "const"
        name = _text(node.child_by_field_name("name"), src)
        return "const" if is_const and (exported or _CONSTANT_NAME.fullmatch(name)) else None
    if t == "variable_declarator":  # Java, C#: constants, not fields
        holder = node.parent
        while holder is not None and holder.type not in (
            "field_declaration",
            "constant_declaration",
        ):
            holder = holder.parent
        if holder is None:
            return None
        if holder.type == "constant_declaration":
            return "const"
        words = _modifier_text(holder, src).split()
        constant = "const" in words or (
            "static" in words and ("final" in words or "readonly" in words)
        )
        return "const" if constant else None
    if lang == "go":
        if t == "type_spec":
            shape = node.child_by_field_name("type")
            return {"struct_type": "struct", "interface_type": "interface"}.get(
                shape.type if shape is not None else "", "type"
            )
        if t == "var_spec":
            name = _text(node.child_by_field_name("name"), src)
            return "var" if name[:1].isupper() else None
        return kind
    if lang == "kotlin":
        if t == "class_declaration":
            words = _keywords(node) | set(_modifier_text(node, src).split())
            return "interface" if "interface" in words else "enum" if "enum" in words else "class"
        if t == "property_declaration":
            words = set(_modifier_text(node, src).split())
            return "const" if "const" in words or container is None else None
        return kind
    if lang == "swift":
        if t == "class_declaration":
            declared = node.child_by_field_name("declaration_kind")
            word = declared.type if declared is not None else "class"
            return {"struct": "struct", "enum": "enum", "extension": "extension"}.get(word, "class")
        if t == "property_declaration":
            return (
                "const"
                if container is None and _text(node, src).startswith(("let", "public let"))
                else None
            )
        return kind
    if lang in ("c", "cpp"):
        if t in ("struct_specifier", "union_specifier", "enum_specifier", "class_specifier"):
            return kind if node.child_by_field_name("body") is not None else None
        if t in ("declaration", "field_declaration"):
            _, is_function = _declarator(node)
            if is_function:
                return "function"
            words = _modifier_text(node, src).split()
            at_top = container in (None, "namespace")
            constant = t == "declaration" and at_top and ("const" in words or "constexpr" in words)
            return "const" if constant else None
        return kind
    return kind


def _declarator(node: Node) -> tuple[Node | None, bool]:
    """The name node at the end of a C/C++ declarator chain, and whether a function
    declarator was on the way (`int *name(void)` is a function, `int *name` is not)."""
    current = node.child_by_field_name("declarator")
    is_function = False
    while current is not None:
        if current.type == "function_declarator":
            is_function = True
        if current.type in NAME_TYPES or current.type in ("qualified_identifier", "primitive_type"):
            return current, is_function
        following = current.child_by_field_name("declarator")
        if following is None:
            following = next(
                (
                    c
                    for c in current.named_children
                    if c.type not in ("attribute_specifier", "type_qualifier")
                ),
                None,
            )
        current = following
    return None, is_function


def _name_node(grammar: Grammar, node: Node) -> Node | None:
    """The node holding the definition's name."""
    t = node.type
    if t == "impl_item":
        named = node.child_by_field_name("type")
    elif grammar.name in ("c", "cpp") and t in (
        "function_definition",
        "declaration",
        "field_declaration",
        "type_definition",
    ):
        named, _ = _declarator(node)
    elif t == "assignment":
        named = node.child_by_field_name("left")
    elif t == "property_declaration" and grammar.name == "kotlin":
        holder = next((c for c in node.named_children if c.type == "variable_declaration"), None)
        named = holder.named_children[0] if holder is not None and holder.named_children else None
    else:
        named = node.child_by_field_name("name")
        if named is None:
            named = next((c for c in node.named_children if c.type in NAME_TYPES), None)
    while named is not None and named.type == "qualified_identifier":
        named = named.child_by_field_name("name")  # Store::load -> load
    if named is None or named.type in NAME_TYPES:
        return named
    return _first_name(named)


def _first_name(node: Node) -> Node | None:
    """The first identifier under `node` (a pattern, a generic type, a variable name)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in NAME_TYPES and current.child_count == 0:
            return current
        if current.type in NAME_TYPES and current.named_child_count == 0:
            return current
        stack.extend(reversed(current.named_children))
    return None


def _body(node: Node) -> Node | None:
    """The block a definition's signature ends at (its body), when it has one."""
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    value = node.child_by_field_name("value")
    if value is not None and value.type in _FUNCTION_VALUES:
        return value.child_by_field_name("body")
    return next((c for c in node.named_children if c.type in BODY_TYPES), None)


def _members(node: Node) -> Node:
    """Where a container's members are: its body, a Go interface's method list, else the
    container node itself (a Kotlin class's class_body is among its children)."""
    if node.type == "type_spec":
        shape = node.child_by_field_name("type")
        return shape if shape is not None else node
    return _body(node) or node


def _signature(node: Node, src: bytes) -> str:
    """The definition's declaration as one line: from the start of its line (so `export`,
    `pub`, `public static` are kept) to its body, whitespace collapsed, cut when long."""
    start = node.start_byte
    line_start = src.rfind(b"\n", 0, start) + 1
    if not _ENDS_STATEMENT.search(src, line_start, start):
        start = line_start
    body = _body(node)
    if body is not None and body.start_byte > node.start_byte:
        text = src[start : body.start_byte].decode("utf-8", "replace")
        lines = text.splitlines()[:SIGNATURE_LINES]
    else:
        end = src.find(b"\n", node.start_byte)
        end = node.end_byte if end == -1 else min(end, node.end_byte)
        if node.type == "type_spec":  # Go: `type Store struct {` ends at the brace
            brace = src.find(b"{", node.start_byte, end)
            end = end if brace == -1 else brace
        lines = [src[start:end].decode("utf-8", "replace")]
    signature = " ".join(" ".join(lines).split()).rstrip("{ ")
    if len(signature) > SIGNATURE_CHARS:
        signature = signature[: SIGNATURE_CHARS - 3].rstrip() + "..."
    return signature
