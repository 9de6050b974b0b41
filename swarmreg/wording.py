"""How the report writes: names as literal markdown, numbers, ranges and tables.

Nothing here knows what a record holds; :mod:`swarmreg.findings` and
:mod:`swarmreg.report` put these pieces into sentences.
"""

from __future__ import annotations

import math
import re

from . import checks
from .records import quartiles

__all__ = ["md", "num", "med_iqr", "table", "plural", "span"]


def md(name) -> str:
    """A name as literal markdown text, wherever it stands (mid-sentence, at the start of a
    paragraph, in a table cell): what would format, link, render math, break a table or
    start a block (a heading, a list, a quote, a code block) is escaped; HTML is shown as
    text; control characters become spaces."""
    s = checks.printable(name)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = re.sub(r"([\\`*\[\]|~$])", r"\\\1", s)
    # an underscore between two letters or digits never formats; elsewhere it may
    s = re.sub(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])", r"\\_", s)
    # at the start of a line: "# x", "- x", "+ x", "= x", "1. x", "1) x"
    s = re.sub(r"^([#+\-=!])", r"\\\1", s)
    s = re.sub(r"^(\d+)([.)])", r"\1\\\2", s)
    # spaces at either end would indent a code block or break a line: shown as entities
    lead, trail = len(s) - len(s.lstrip(" ")), len(s) - len(s.rstrip(" "))
    if lead == len(s):
        return "&#32;" * len(s)
    return "&#32;" * lead + s[lead:len(s) - trail] + "&#32;" * trail


def num(x, digits=3) -> str:
    """``x`` to ``digits`` significant digits, or "–" for no value or a value that is not finite."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def med_iqr(values) -> str:
    """"median [Q1, Q3]" of the finite values, or "–" without one."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return "–"
    q = quartiles(v)
    return f"{num(q[0])} [{num(q[1])}, {num(q[2])}]"


def table(header, rows) -> str:
    """A markdown table of a header and rows of cells (the cells already escaped)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plural(n: int, one: str, many: str) -> str:
    """``n`` with the word that agrees with it: "1 pair", "4 pairs"."""
    return f"{n} {one if n == 1 else many}"


def span(values, digits: int = 3, unit: str = "") -> str:
    """"a–b" of the smallest and largest value, or "a" when they print the same."""
    low, high = num(min(values), digits), num(max(values), digits)
    return f"{low}{unit}" if low == high else f"{low}{unit}–{high}{unit}"
