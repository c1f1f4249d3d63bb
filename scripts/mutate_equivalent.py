"""Equivalent mutants for scripts/mutate.py: edits that change no behaviour a test can see,
each with the reason. A mutant that survives and matches an entry counts as equivalent, not as
survived; one that is killed stays killed (then the entry is wrong: remove it).

An entry names the file, the column and the text of the mutated line (stripped) and the edit as
`--list` prints it. When the line changes, the entry no longer matches and the mutant shows as a
survivor again, to be looked at anew.
"""

EQUIVALENT = [
    {
        "file": "conform/checker.cc", "col": 16,
        "line": "if (f.oas == 0) f.oas = info.config.oas;",
        "edit": "int: `0` -> `1`",
        "why": "A format left at oas 0 then walks with the format's default oas, never below "
               "the config's: the walker accepts more output addresses, but the reference maps "
               "none beyond the config's oas, so a leaf that reaches one is already a wrong "
               "paddr (a `translation` finding either way).",
    },
    {
        "file": "conform/checker_probe.cc", "col": 40,
        "line": "return std::pair{iova, add_clamped(iova, size - 1)};",
        "edit": "swap: `iova, size - 1` -> `size - 1, iova`",
        "why": "add_clamped is symmetric: a + b, and `a > ~b` holds exactly when `b > ~a`.",
    },
    {
        "file": "conform/checker_probe.cc", "col": 44,
        "line": "const uint64_t first = r.first & ~(min - 1), last = std::min(r.last, top) & "
                "~(min - 1);",
        "edit": "int: `1` -> `2`",
        "why": "~(min - 2) keeps bit 0 of the range's first byte: the probe moves by at most one "
               "byte inside the same page (the in-page offset added later is at most min - 8), "
               "and every probe is judged against the reference at that same iova.",
    },
    {
        "file": "conform/checker_probe.cc", "col": 87,
        "line": "const uint64_t first = r.first & ~(min - 1), last = std::min(r.last, top) & "
                "~(min - 1);",
        "edit": "int: `1` -> `2`",
        "why": "As for `first`: the last probe stays in the range's last page, one byte further "
               "in, and the samples between first and last cover the same pages.",
    },
    {
        "file": "conform/checker_probe.cc", "col": 50,
        "line": "const uint64_t offset = (ops_ * 0x48) & (min - 1) & ~uint64_t{7};",
        "edit": "int: `1` -> `2`",
        "why": "`& ~7` clears bit 0 anyway: the offset is the same.",
    },
    {
        "file": "ref/device_view.cc", "col": 31,
        "line": "const uint64_t from = first > max_span_ ? first - max_span_ : 0;",
        "edit": "cmp: `>` -> `>=`",
        "why": "When first == max_span_ both branches give 0.",
    },
    {
        "file": "ref/pgtable.cc", "col": 72,
        "line": "if (limit != kNoLimit) n = std::min(n, (limit - plan.bytes + p - 1) / p);",
        "edit": "int: `1` -> `2`",
        "why": "A rounding-up division: adding p - 2 instead of p - 1 changes it only when "
               "limit - plan.bytes leaves a remainder of 1 byte. Both are multiples of the "
               "smallest page (limit is an unmap answer the rules accepted), so it never does.",
    },
    {
        "file": "ref/pgtable.cc", "col": 93,
        "line": "const uint64_t request = request_last(call.iova, call.pgsize, call.pgcount) - "
                "call.iova + 1;",
        "edit": "int: `1` -> `2`",
        "why": "`request` is only compared with a multiple of pgsize (`unmapped <= request`, "
               "unmapped % pgsize == 0), and request is one too: a multiple of pgsize is at most "
               "request + 1 exactly when it is at most request.",
    },
    {
        "file": "ref/pgtable.cc", "col": 79,
        "line": "if (!leaves_.intersects(call.iova + off, call.iova + off + (call.pgsize - 1))) "
                "return false;",
        "edit": "int: `1` -> `2`",
        "why": "Leaves are aligned to the smallest page: one that holds the slot's last byte "
               "holds the byte before it too, so the slot is live either way.",
    },
    {
        "file": "ref/pgtable.cc", "col": 16,
        "line": "if (unmapped < want) {",
        "edit": "cmp: `<` -> `<=`",
        "why": "unmapped == want returned earlier in check_unmap_pages: equality cannot reach it.",
    },
    {
        "file": "conform/judge.cc", "col": 66,
        "line": "(r == hw::FaultReason::kAddressSize && !fits_bits(iova, 1, fmt.geo().ias));",
        "edit": "int: `1` -> `0`",
        "why": "fits_bits of size 0 tests the start alone, as size 1 does.",
    },
    {
        "file": "conform/judge.cc", "col": 81,
        "line": "const uint64_t pgsize = fmt.geo().pgsize_bitmap & (~fmt.geo().pgsize_bitmap + 1);",
        "edit": "int: `1` -> `2`",
        "why": "~b + 2 is -b + 1, which is -b with bit 0 set (-b is even: no page is 1 byte), "
               "and b has no bit 0: b & (~b + 2) is still the lowest set bit of b.",
    },
    {
        "file": "conform/baseline.cc", "col": 64,
        "line": "size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;",
        "edit": "int: `0` -> `1`",
        "why": 'resume is read only after a * was seen, and seeing one sets it.',
    },
    {
        "file": "conform/baseline.cc", "col": 11,
        "line": "if (p < pattern.size() && pattern[p] == '*') {",
        "edit": "cmp: `<` -> `<=`",
        "why": "The patterns are the entries' std::strings, so pattern[pattern.size()] is their "
               "terminating NUL: it is neither '*' nor a character of a signature or driver "
               "name, so the extra comparison never succeeds.",
    },
    {
        "file": "conform/baseline.cc", "col": 18,
        "line": "} else if (p < pattern.size() && pattern[p] == text[t]) {",
        "edit": "cmp: `<` -> `<=`",
        "why": "The patterns are the entries' std::strings, so pattern[pattern.size()] is their "
               "terminating NUL: it is neither '*' nor a character of a signature or driver "
               "name, so the extra comparison never succeeds.",
    },
    {
        "file": "conform/baseline.cc", "col": 18,
        "line": "p = star + 1;",
        "edit": "int: `1` -> `0`",
        "why": "p then points at the * itself, and the next step reads it as a * again: star and "
               "p end as before, resume moves to the same t; one step later, the same state.",
    },
    {
        "file": "conform/baseline.cc", "col": 12,
        "line": "while (p < pattern.size() && pattern[p] == '*') p++;",
        "edit": "cmp: `<` -> `<=`",
        "why": "The patterns are the entries' std::strings, so pattern[pattern.size()] is their "
               "terminating NUL: it is neither '*' nor a character of a signature or driver "
               "name, so the extra comparison never succeeds.",
    },
]


def reason(mutant, text):
    """Why `mutant` (of a file whose unmutated text is `text`) is equivalent, or None."""
    line = text.splitlines()[mutant.line - 1].strip()
    edit = mutant.describe().split(" ", 1)[1]  # after PATH:LINE:COL
    for e in EQUIVALENT:
        if (e["file"], e["col"], e["line"], e["edit"]) == (mutant.path, mutant.col, line, edit):
            return e["why"]
    return None
