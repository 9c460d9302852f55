"""Which language a file is in, and what counts as a definition or a reference in it.

One `Grammar` per language the map parses with tree-sitter: the syntax node types that are
definitions (with the kind the map prints), the node types walked through to find them
(module bodies, class bodies, export and decorator wrappers, namespaces), and the
identifier node types counted as references. Function bodies are never walked: a local
helper is not part of a file's outline. Plain data, no tree-sitter import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class Grammar:
    name: str  # the grammar's name in tree-sitter-language-pack
    defs: dict[str, str]  # syntax node type -> kind of definition
    walk: frozenset[str]  # node types whose children may hold definitions
    refs: tuple[str, ...]  # identifier node types counted as references


# Kinds whose body holds members: a function inside one of them is a method.
CONTAINERS = frozenset(
    {
        "class", "interface", "struct", "enum", "trait", "impl", "module", "namespace",
        "object", "protocol", "extension", "record", "union",
    }
)  # fmt: skip

_PY = Grammar(
    "python",
    {"class_definition": "class", "function_definition": "function", "assignment": "const"},
    frozenset(
        {
            "module", "block", "decorated_definition", "expression_statement", "if_statement",
            "else_clause", "elif_clause", "try_statement", "except_clause", "finally_clause",
        }
    ),
    ("identifier",),
)  # fmt: skip

_JS_DEFS = {
    "class_declaration": "class",
    "abstract_class_declaration": "class",
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "method_definition": "function",
    "method_signature": "function",
    "abstract_method_signature": "function",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
    "internal_module": "namespace",
    "module": "namespace",
    "variable_declarator": "const",
}
_JS_WALK = frozenset(
    {
        "program", "export_statement", "class_body", "interface_body", "object_type",
        "lexical_declaration", "variable_declaration", "statement_block", "ambient_declaration",
        "expression_statement",
    }
)  # fmt: skip
_JS_REFS = (
    "identifier", "property_identifier", "shorthand_property_identifier", "type_identifier",
)  # fmt: skip
_JS = Grammar("javascript", _JS_DEFS, _JS_WALK, _JS_REFS)
_TS = Grammar("typescript", _JS_DEFS, _JS_WALK, _JS_REFS)
_TSX = Grammar("tsx", _JS_DEFS, _JS_WALK, _JS_REFS)

_GO = Grammar(
    "go",
    {
        "function_declaration": "function",
        "method_declaration": "method",
        "type_spec": "type",
        "type_alias": "type",
        "const_spec": "const",
        "var_spec": "var",
        "method_elem": "function",
    },
    frozenset(
        {"source_file", "type_declaration", "const_declaration", "var_declaration", "var_spec_list"}
    ),
    ("identifier", "type_identifier", "field_identifier"),
)

_RUST = Grammar(
    "rust",
    {
        "function_item": "function",
        "function_signature_item": "function",
        "struct_item": "struct",
        "enum_item": "enum",
        "union_item": "union",
        "trait_item": "trait",
        "impl_item": "impl",
        "mod_item": "module",
        "const_item": "const",
        "static_item": "const",
        "type_item": "type",
        "macro_definition": "macro",
    },
    frozenset({"source_file", "declaration_list"}),
    ("identifier", "type_identifier", "field_identifier"),
)

_JAVA = Grammar(
    "java",
    {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "annotation_type_declaration": "interface",
        "method_declaration": "function",
        "constructor_declaration": "constructor",
        "compact_constructor_declaration": "constructor",
        "variable_declarator": "const",
    },
    frozenset(
        {
            "program", "class_body", "interface_body", "enum_body", "enum_body_declarations",
            "annotation_type_body", "field_declaration", "constant_declaration",
        }
    ),
    ("identifier", "type_identifier"),
)  # fmt: skip

_KOTLIN = Grammar(
    "kotlin",
    {
        "class_declaration": "class",
        "object_declaration": "object",
        "companion_object": "object",
        "function_declaration": "function",
        "property_declaration": "const",
        "type_alias": "type",
    },
    frozenset({"source_file", "class_body", "enum_class_body"}),
    ("simple_identifier", "type_identifier"),
)

_C_DEFS = {
    "function_definition": "function",
    "declaration": "function",  # a prototype; a variable only when constant (see tags)
    "field_declaration": "function",  # a method declared in a class body (C++)
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
    "type_definition": "type",
    "preproc_def": "const",
    "preproc_function_def": "macro",
}
_C_WALK = frozenset(
    {
        "translation_unit", "preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif",
        "preproc_elifdef", "linkage_specification", "declaration_list",
    }
)  # fmt: skip
_C = Grammar("c", _C_DEFS, _C_WALK, ("identifier", "type_identifier", "field_identifier"))
_CPP = Grammar(
    "cpp",
    {
        **_C_DEFS,
        "class_specifier": "class",
        "namespace_definition": "namespace",
        "alias_declaration": "type",
        "concept_definition": "type",
    },
    _C_WALK | {"template_declaration", "field_declaration_list"},
    ("identifier", "type_identifier", "field_identifier", "namespace_identifier"),
)

_CSHARP = Grammar(
    "csharp",
    {
        "class_declaration": "class",
        "struct_declaration": "struct",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "namespace_declaration": "namespace",
        "file_scoped_namespace_declaration": "namespace",
        "method_declaration": "function",
        "constructor_declaration": "constructor",
        "property_declaration": "property",
        "delegate_declaration": "type",
        "variable_declarator": "const",
    },
    frozenset(
        {"compilation_unit", "declaration_list", "field_declaration", "variable_declaration"}
    ),
    ("identifier",),
)

_RUBY = Grammar(
    "ruby",
    {
        "class": "class",
        "module": "module",
        "method": "function",
        "singleton_method": "function",
        "assignment": "const",
    },
    frozenset({"program", "body_statement"}),
    ("identifier", "constant"),
)

_PHP = Grammar(
    "php",
    {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "trait_declaration": "trait",
        "enum_declaration": "enum",
        "function_definition": "function",
        "method_declaration": "function",
        "const_element": "const",
    },
    frozenset(
        {
            "program",
            "declaration_list",
            "namespace_definition",
            "compound_statement",
            "const_declaration",
        }
    ),
    ("name",),
)

_SWIFT = Grammar(
    "swift",
    {
        "class_declaration": "class",  # also struct, enum, extension, actor (see tags)
        "protocol_declaration": "protocol",
        "function_declaration": "function",
        "protocol_function_declaration": "function",
        "init_declaration": "constructor",
        "typealias_declaration": "type",
        "property_declaration": "const",
    },
    frozenset({"source_file", "class_body", "protocol_body", "enum_class_body"}),
    ("simple_identifier", "type_identifier"),
)

GRAMMARS: dict[str, Grammar] = {
    ".py": _PY,
    ".pyi": _PY,
    ".js": _JS,
    ".jsx": _JS,
    ".mjs": _JS,
    ".cjs": _JS,
    ".ts": _TS,
    ".mts": _TS,
    ".cts": _TS,
    ".tsx": _TSX,
    ".go": _GO,
    ".rs": _RUST,
    ".java": _JAVA,
    ".kt": _KOTLIN,
    ".kts": _KOTLIN,
    ".c": _C,
    ".h": _CPP,  # C++ parses C headers too, and a C++ header would fail as C
    ".cc": _CPP,
    ".cpp": _CPP,
    ".cxx": _CPP,
    ".hh": _CPP,
    ".hpp": _CPP,
    ".hxx": _CPP,
    ".cs": _CSHARP,
    ".rb": _RUBY,
    ".rake": _RUBY,
    ".php": _PHP,
    ".swift": _SWIFT,
}


def grammar_for(path: str) -> Grammar | None:
    """The grammar a file is parsed with, by its suffix; None: not parsed (the map falls
    back to its layout line and an excerpt)."""
    return GRAMMARS.get(PurePosixPath(path).suffix.lower())
