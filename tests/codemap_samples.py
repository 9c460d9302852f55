"""Small generated repositories in each language the project map parses.

Each has a ledger file defining a type with a method (`ident`, the name a spec will name),
two report files calling that method, a util file defining a formatter that every other
file calls (so without a spec it is the most referenced file), and filler files that only
call the formatter.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    language: str
    ident: str  # the ledger's method, which the spec names
    files: dict[str, str]  # path -> content; `_n` in a path and {n} in its text: the copy's number
    method_lines: tuple[str, ...]  # lines the map must show for the ledger file, in order
    ledger: str  # the ledger file's path
    util: str  # the util file's path


def _sample(
    language: str, ident: str, ledger: str, util: str, lines: tuple[str, ...], **files: str
):
    paths = {name.replace("__", "/").replace("_DOT_", "."): text for name, text in files.items()}
    return Sample(language, ident, paths, lines, ledger, util)


SAMPLES = [
    _sample(
        "python",
        "reconcileTotals",
        "app/ledger.py",
        "app/util.py",
        ("1: class Ledger:", "2:   def reconcileTotals(self, entries: list[int]) -> int:"),
        app__ledger_DOT_py="class Ledger:\n    def reconcileTotals(self, entries: list[int]) -> int:\n        return sum(entries)\n",
        app__report_n_DOT_py="from app.ledger import Ledger\nfrom app.util import formatAmount\n\n\ndef report{n}(entries):\n    return formatAmount(Ledger().reconcileTotals(entries))\n",
        app__util_DOT_py='def formatAmount(cents: int) -> str:\n    return f"{cents / 100:.2f}"\n',
        app__filler_n_DOT_py="from app.util import formatAmount\n\n\ndef filler{n}(x):\n    return formatAmount(x)\n",
    ),
    _sample(
        "javascript",
        "reconcileTotals",
        "src/ledger.js",
        "src/util.js",
        ("1: export class Ledger", "2:   reconcileTotals(entries)"),
        src__ledger_DOT_js="export class Ledger {\n  reconcileTotals(entries) {\n    return entries.reduce((a, b) => a + b, 0);\n  }\n}\n",
        src__report_n_DOT_js='import { Ledger } from "./ledger.js";\nimport { formatAmount } from "./util.js";\n\nexport function report{n}(entries) {\n  return formatAmount(new Ledger().reconcileTotals(entries));\n}\n',
        src__util_DOT_js="export function formatAmount(cents) {\n  return (cents / 100).toFixed(2);\n}\n",
        src__filler_n_DOT_js='import { formatAmount } from "./util.js";\n\nexport function filler{n}(x) {\n  return formatAmount(x);\n}\n',
    ),
    _sample(
        "typescript",
        "reconcileTotals",
        "src/ledger.ts",
        "src/util.ts",
        ("1: export class Ledger", "2:   public reconcileTotals(entries: number[]): number"),
        src__ledger_DOT_ts="export class Ledger {\n  public reconcileTotals(entries: number[]): number {\n    return entries.length;\n  }\n}\n",
        src__report_n_DOT_ts='import { Ledger } from "./ledger";\nimport { formatAmount } from "./util";\n\nexport function report{n}(entries: number[]): string {\n  return formatAmount(new Ledger().reconcileTotals(entries));\n}\n',
        src__util_DOT_ts="export function formatAmount(cents: number): string {\n  return (cents / 100).toFixed(2);\n}\n",
        src__filler_n_DOT_ts='import { formatAmount } from "./util";\n\nexport function filler{n}(x: number): string {\n  return formatAmount(x);\n}\n',
    ),
    _sample(
        "tsx",
        "reconcileTotals",
        "ui/Ledger.tsx",
        "ui/util.tsx",
        (
            "1: export class Ledger extends React.Component<Props>",
            "2:   reconcileTotals(entries: number[]): number",
        ),
        ui__Ledger_DOT_tsx="export class Ledger extends React.Component<Props> {\n  reconcileTotals(entries: number[]): number {\n    return entries.length;\n  }\n  render() {\n    return <div>{this.props.name}</div>;\n  }\n}\n",
        ui__Report_n_DOT_tsx="export function Report{n}({ entries }: { entries: number[] }) {\n  return <span>{formatAmount(new Ledger({}).reconcileTotals(entries))}</span>;\n}\n",
        ui__util_DOT_tsx="export const formatAmount = (cents: number): string => (cents / 100).toFixed(2);\n",
        ui__Filler_n_DOT_tsx="export function Filler{n}({ x }: { x: number }) {\n  return <b>{formatAmount(x)}</b>;\n}\n",
    ),
    _sample(
        "go",
        "ReconcileTotals",
        "ledger.go",
        "util.go",
        ("3: type Ledger struct", "7: func (l *Ledger) ReconcileTotals(entries []int) int"),
        ledger_DOT_go="package app\n\ntype Ledger struct {\n\ttotal int\n}\n\nfunc (l *Ledger) ReconcileTotals(entries []int) int {\n\treturn len(entries)\n}\n",
        report_n_DOT_go="package app\n\nfunc Report{n}(entries []int) string {\n\treturn FormatAmount((&Ledger{}).ReconcileTotals(entries))\n}\n",
        util_DOT_go='package app\n\nimport "fmt"\n\nfunc FormatAmount(cents int) string {\n\treturn fmt.Sprintf("%d", cents)\n}\n',
        filler_n_DOT_go="package app\n\nfunc Filler{n}(x int) string {\n\treturn FormatAmount(x)\n}\n",
    ),
    _sample(
        "rust",
        "reconcile_totals",
        "src/ledger.rs",
        "src/util.rs",
        ("5: impl Ledger", "6:   pub fn reconcile_totals(&self, entries: &[i64]) -> i64"),
        src__ledger_DOT_rs="pub struct Ledger {\n    pub total: i64,\n}\n\nimpl Ledger {\n    pub fn reconcile_totals(&self, entries: &[i64]) -> i64 {\n        entries.iter().sum()\n    }\n}\n",
        src__report_n_DOT_rs="use crate::ledger::Ledger;\nuse crate::util::format_amount;\n\npub fn report{n}(entries: &[i64]) -> String {\n    format_amount(Ledger { total: 0 }.reconcile_totals(entries))\n}\n",
        src__util_DOT_rs='pub fn format_amount(cents: i64) -> String {\n    format!("{}", cents)\n}\n',
        src__filler_n_DOT_rs="use crate::util::format_amount;\n\npub fn filler{n}(x: i64) -> String {\n    format_amount(x)\n}\n",
    ),
    _sample(
        "java",
        "reconcileTotals",
        "src/app/Ledger.java",
        "src/app/Util.java",
        ("3: public class Ledger", "4:   public int reconcileTotals(int[] entries)"),
        src__app__Ledger_DOT_java="package app;\n\npublic class Ledger {\n    public int reconcileTotals(int[] entries) {\n        return entries.length;\n    }\n}\n",
        src__app__Report_n_DOT_java="package app;\n\npublic class Report{n} {\n    public String run(int[] entries) {\n        return Util.formatAmount(new Ledger().reconcileTotals(entries));\n    }\n}\n",
        src__app__Util_DOT_java="package app;\n\npublic class Util {\n    public static String formatAmount(int cents) {\n        return String.valueOf(cents);\n    }\n}\n",
        src__app__Filler_n_DOT_java="package app;\n\npublic class Filler{n} {\n    public String run(int x) {\n        return Util.formatAmount(x);\n    }\n}\n",
    ),
    _sample(
        "kotlin",
        "reconcileTotals",
        "src/Ledger.kt",
        "src/Util.kt",
        ("1: class Ledger", "2:   fun reconcileTotals(entries: List<Int>): Int"),
        src__Ledger_DOT_kt="class Ledger {\n    fun reconcileTotals(entries: List<Int>): Int {\n        return entries.sum()\n    }\n}\n",
        src__Report_n_DOT_kt="fun report{n}(entries: List<Int>): String {\n    return formatAmount(Ledger().reconcileTotals(entries))\n}\n",
        src__Util_DOT_kt="fun formatAmount(cents: Int): String {\n    return cents.toString()\n}\n",
        src__Filler_n_DOT_kt="fun filler{n}(x: Int): String {\n    return formatAmount(x)\n}\n",
    ),
    _sample(
        "c",
        "reconcile_totals",
        "src/ledger.c",
        "src/util.c",
        (
            "1: struct ledger",
            "5: int reconcile_totals(struct ledger *l, const int *entries, int n)",
        ),
        src__ledger_DOT_c="struct ledger {\n    int total;\n};\n\nint reconcile_totals(struct ledger *l, const int *entries, int n) {\n    return n;\n}\n",
        src__report_n_DOT_c='#include "ledger.h"\n\nconst char *report{n}(struct ledger *l, const int *e, int n) {\n    return format_amount(reconcile_totals(l, e, n));\n}\n',
        src__util_DOT_c='const char *format_amount(int cents) {\n    return cents ? "x" : "0";\n}\n',
        src__filler_n_DOT_c="const char *filler{n}(int x) {\n    return format_amount(x);\n}\n",
    ),
    _sample(
        "cpp",
        "reconcileTotals",
        "src/ledger.cpp",
        "src/util.cpp",
        ("1: class Ledger", "3:   int reconcileTotals(const std::vector<int>& entries) const"),
        src__ledger_DOT_cpp="class Ledger {\npublic:\n    int reconcileTotals(const std::vector<int>& entries) const {\n        return entries.size();\n    }\n};\n",
        src__report_n_DOT_cpp="std::string report{n}(const std::vector<int>& e) {\n    return formatAmount(Ledger().reconcileTotals(e));\n}\n",
        src__util_DOT_cpp="std::string formatAmount(int cents) {\n    return std::to_string(cents);\n}\n",
        src__filler_n_DOT_cpp="std::string filler{n}(int x) {\n    return formatAmount(x);\n}\n",
    ),
    _sample(
        "csharp",
        "ReconcileTotals",
        "src/Ledger.cs",
        "src/Util.cs",
        ("3: public class Ledger", "5:   public int ReconcileTotals(int[] entries)"),
        src__Ledger_DOT_cs="namespace App;\n\npublic class Ledger\n{\n    public int ReconcileTotals(int[] entries)\n    {\n        return entries.Length;\n    }\n}\n",
        src__Report_n_DOT_cs="namespace App;\n\npublic static class Report{n}\n{\n    public static string Run(int[] e) => Util.FormatAmount(new Ledger().ReconcileTotals(e));\n}\n",
        src__Util_DOT_cs="namespace App;\n\npublic static class Util\n{\n    public static string FormatAmount(int cents) => cents.ToString();\n}\n",
        src__Filler_n_DOT_cs="namespace App;\n\npublic static class Filler{n}\n{\n    public static string Run(int x) => Util.FormatAmount(x);\n}\n",
    ),
    _sample(
        "ruby",
        "reconcile_totals",
        "lib/ledger.rb",
        "lib/util.rb",
        ("1: class Ledger", "2:   def reconcile_totals(entries)"),
        lib__ledger_DOT_rb="class Ledger\n  def reconcile_totals(entries)\n    entries.sum\n  end\nend\n",
        lib__report_n_DOT_rb="def report{n}(entries)\n  format_amount(Ledger.new.reconcile_totals(entries))\nend\n",
        lib__util_DOT_rb="def format_amount(cents)\n  cents.to_s\nend\n",
        lib__filler_n_DOT_rb="def filler{n}(x)\n  format_amount(x)\nend\n",
    ),
    _sample(
        "php",
        "reconcileTotals",
        "src/Ledger.php",
        "src/util.php",
        ("2: class Ledger", "3:   public function reconcileTotals(array $entries): int"),
        src__Ledger_DOT_php="<?php\nclass Ledger {\n    public function reconcileTotals(array $entries): int {\n        return count($entries);\n    }\n}\n",
        src__report_n_DOT_php="<?php\nfunction report{n}(array $entries): string {\n    return formatAmount((new Ledger())->reconcileTotals($entries));\n}\n",
        src__util_DOT_php="<?php\nfunction formatAmount(int $cents): string {\n    return (string) $cents;\n}\n",
        src__filler_n_DOT_php="<?php\nfunction filler{n}(int $x): string {\n    return formatAmount($x);\n}\n",
    ),
    _sample(
        "swift",
        "reconcileTotals",
        "Sources/Ledger.swift",
        "Sources/Util.swift",
        ("1: class Ledger", "2:   func reconcileTotals(_ entries: [Int]) -> Int"),
        Sources__Ledger_DOT_swift="class Ledger {\n    func reconcileTotals(_ entries: [Int]) -> Int {\n        return entries.count\n    }\n}\n",
        Sources__Report_n_DOT_swift="func report{n}(_ entries: [Int]) -> String {\n    return formatAmount(Ledger().reconcileTotals(entries))\n}\n",
        Sources__Util_DOT_swift="func formatAmount(_ cents: Int) -> String {\n    return String(cents)\n}\n",
        Sources__Filler_n_DOT_swift="func filler{n}(_ x: Int) -> String {\n    return formatAmount(x)\n}\n",
    ),
]

REPORTS = 2  # files calling the ledger's method
FILLERS = 6  # files calling only the formatter


def write_sample(root: Path, sample: Sample) -> Path:
    """The sample as a git repository (files added to the index) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for name, text in sample.files.items():
        if "_n" in name:
            kind = REPORTS if "eport" in name else FILLERS
            copies = [
                (name.replace("_n", str(n)), text.replace("{n}", str(n)))
                for n in range(1, kind + 1)
            ]
        else:
            copies = [(name, text)]
        for path, content in copies:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(content)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    return root


def report_paths(sample: Sample) -> set[str]:
    (name,) = [n for n in sample.files if "eport_n" in n]
    return {name.replace("_n", str(n)) for n in range(1, REPORTS + 1)}
