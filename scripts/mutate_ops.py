"""Mutation operators for scripts/mutate.py: where a C++ source file can be changed by one
small edit that still compiles, and what the edit is.

Operators (each mutant is one edit):
  cmp    flip a comparison: < to <=, <= to <, > to >=, >= to >, == to !=, != to ==
  int    off-by-one an integer literal: n to n+1 and n-1 (literals up to 2^20; larger ones
         are hash seeds and masks, not bounds)
  del    drop a statement (an expression statement, or a braceless if; never a declaration or
         a return, which would not compile)
  swap   swap two adjacent arguments of a call (not of min/max, which are symmetric)

Comments, string literals, preprocessor lines and the arguments of fmt::format (the text of a
message, not a verdict) are never mutated.
"""

import dataclasses
import re

OPERATORS = ("cmp", "int", "del", "swap")

_CMP_FLIP = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
# Comparisons as clang-format writes them: spaces around, which templates never have.
_CMP_RE = re.compile(r"(?<=\s)(<=|>=|==|!=|<|>)(?=\s)")
_INT_RE = re.compile(r"(?<![\w.])(0[xX][0-9a-fA-F]+|\d+)([uU]?[lL]{0,2}|[lL]{1,2}[uU]?)(?![\w.])")
_CALL_RE = re.compile(r"([A-Za-z_][\w:]*)\s*\(")
_MAX_LITERAL = 1 << 20
_NOT_CALLS = {"if", "for", "while", "switch", "return", "sizeof", "catch", "decltype",
              "alignof", "static_assert", "min", "max", "std::min", "std::max",
              "format", "fmt::format", "fmt::print"}
_NO_DELETE_FIRST = {"return", "case", "default", "using", "namespace", "template", "typedef",
                    "else", "struct", "class", "enum", "const", "constexpr", "static", "auto",
                    "friend", "public", "private", "protected", "static_assert", "extern",
                    "inline", "unsigned", "signed", "explicit", "virtual"}
# `Type name ...`: a declaration, whose removal cannot compile.
_DECL_RE = re.compile(r"^[A-Za-z_][\w:]*(<[^;]*>)?[\s*&]+[A-Za-z_]\w*\s*(=|\{|\(|;|,|\[)")
_PARAM_RE = re.compile(r"^(const\s+)?[A-Za-z_][\w:]*(<.*>)?[\s*&]+[A-Za-z_]\w*(\s*=.*)?$", re.S)


@dataclasses.dataclass
class Mutant:
    path: str    # as given, relative to the repository
    line: int    # 1-based
    col: int     # 1-based
    op: str      # one of OPERATORS
    start: int   # offset of the replaced text in the file
    end: int
    new: str     # replacement text
    old: str

    def apply(self, text):
        return text[: self.start] + self.new + text[self.end :]

    def describe(self):
        old = " ".join(self.old.split())
        new = " ".join(self.new.split()) or "(deleted)"
        return f"{self.path}:{self.line}:{self.col} {self.op}: `{old}` -> `{new}`"


def blank_non_code(text):
    """The text with comments, string and char literal contents and preprocessor lines replaced
    by spaces, keeping every offset and newline."""
    out = list(text)
    i, n = 0, len(text)

    def blank(lo, hi):
        for k in range(lo, hi):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, min(j, n))
            i = j + 1
            continue
        else:
            i += 1
            continue
        blank(i, j)
        i = j
    lines = "".join(out).split("\n")
    return "\n".join(" " * len(l) if l.lstrip().startswith("#") else l for l in lines)


def _matching_paren(code, open_at):
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] in "([{":
            depth += 1
        elif code[k] in ")]}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _message_spans(code):
    """Offsets inside fmt::format(...) calls: message text, not behaviour."""
    spans = []
    for m in re.finditer(r"fmt::(format|print)\s*\(", code):
        close = _matching_paren(code, m.end() - 1)
        if close > 0:
            spans.append((m.start(), close + 1))
    return spans


def _split_args(code, open_at, close_at):
    """Top-level argument spans (start, end) of the call whose parens are at open/close."""
    args, depth, start = [], 0, open_at + 1
    for k in range(open_at + 1, close_at):
        ch = code[k]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append((start, k))
            start = k + 1
    args.append((start, close_at))
    return args


def _cmp_mutants(code):
    for m in _CMP_RE.finditer(code):
        yield m.start(), m.end(), _CMP_FLIP[m.group(1)], "cmp"


def _int_mutants(code, text):
    for m in _INT_RE.finditer(code):
        digits = m.group(1)
        value = int(digits, 16) if digits[:2] in ("0x", "0X") else int(digits)
        if value > _MAX_LITERAL:
            continue
        if digits.startswith("0") and len(digits) > 1 and digits[:2] not in ("0x", "0X"):
            continue  # octal: none in this code base
        for v in (value + 1, value - 1):
            if v < 0:
                continue
            new = hex(v) if digits[:2] in ("0x", "0X") else str(v)
            yield m.start(1), m.end(1), new, "int"


def _statement_mutants(code):
    """Statements begin after ; { } at paren depth 0; one without a brace before its ; is a
    simple statement (or a braceless if) that can be dropped."""
    depth, start = 0, 0
    for k, ch in enumerate(code):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "{}":
            start = k + 1
        elif depth == 0 and ch == ";":
            stmt = code[start : k + 1]
            lead = len(stmt) - len(stmt.lstrip())
            body = " ".join(stmt.split())
            start = k + 1
            if len(body) <= 1 or ":" in body.split("(")[0].replace("::", ""):
                continue
            first = re.match(r"[A-Za-z_]\w*", body)
            if first and first.group(0) in _NO_DELETE_FIRST:
                continue
            if _DECL_RE.match(body):
                continue
            s = k + 1 - len(stmt) + lead
            yield s, k + 1, "", "del"


def _swap_in(arg1, arg2):
    """The two argument texts with their contents exchanged and their spacing kept."""
    def parts(a):
        core = a.strip()
        lead = a[: len(a) - len(a.lstrip())]
        return lead, core, a[len(lead) + len(core) :]

    l1, c1, t1 = parts(arg1)
    l2, c2, t2 = parts(arg2)
    return l1 + c2 + t1, l2 + c1 + t2


def _swap_mutants(code, text):
    for m in _CALL_RE.finditer(code):
        name = m.group(1)
        if name in _NOT_CALLS or name.split("::")[-1] in _NOT_CALLS:
            continue
        open_at = m.end() - 1
        close_at = _matching_paren(code, open_at)
        if close_at < 0:
            continue
        args = _split_args(code, open_at, close_at)
        if len(args) < 2:
            continue
        texts = [code[a:b].strip() for a, b in args]
        if any(_PARAM_RE.match(t) for t in texts):
            continue  # a function's parameter list, not a call
        for i in range(len(args) - 1):
            a, b = texts[i], texts[i + 1]
            if not a or not b or a == b or "{" in a + b or "[" in a + b:
                continue
            (s1, e1), (s2, e2) = args[i], args[i + 1]
            seg = text[s1:e2]
            new = _swap_in(text[s1:e1], text[s2:e2])
            new = new[0] + text[e1:s2] + new[1]
            if new.strip() != seg.strip():
                yield s1, e2, new, "swap"


def mutants(path, text, operators=OPERATORS):
    """Every mutant of one file, in file order."""
    code = blank_non_code(text)
    messages = _message_spans(code)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(offset):
        lo, hi = 0, len(line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - line_starts[lo] + 1

    found = []
    gens = {"cmp": lambda: _cmp_mutants(code), "int": lambda: _int_mutants(code, text),
            "del": lambda: _statement_mutants(code), "swap": lambda: _swap_mutants(code, text)}
    for op in operators:
        for start, end, new, kind in gens[op]():
            if any(a <= start < b for a, b in messages):
                continue
            line, col = position(start)
            found.append(Mutant(path, line, col, kind, start, end, new, text[start:end]))
    found.sort(key=lambda m: (m.start, OPERATORS.index(m.op), m.new))
    return found
