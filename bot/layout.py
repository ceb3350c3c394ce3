"""Where the plain-text replies of the services hold tables.

Every service answers in plain text with tables aligned by spaces. Each chat front-end
puts those tables in a monospaced block (Telegram ``<pre>``, Discord code fences) and
escapes the rest; this module finds them, the same way for both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# A run of two or more blanks (or a tab) between two visible characters: a column gap.
GAP = re.compile(r"\S(?: {2,}|\t)\s*\S")
# A gap that is clearly a column gap even on a line of its own (not two spaces after the
# end of a sentence or a label).
STRONG_GAP = re.compile(r"(?:[^\s.!?:;,] {2,}|\S {3,}|\S\t)\s*\S")
# A rule line under a table header: dashes, equals signs, pipes, box-drawing characters.
RULE = re.compile(r"^[ \t\-=+|:─━│┃┼╋═║╬]+$")


def table_lines(lines: Sequence[str], *, never: Callable[[str], bool] | None = None) -> list[bool]:
    """Which lines belong to an aligned block (a table).

    A block is a run of consecutive non-blank lines that are aligned (a gap of two or more
    blanks between columns), indented continuations of such lines, or rule lines; it needs
    two aligned lines, or one line whose gap is unmistakably a column gap.

    Args:
        lines: The reply's lines.
        never: Lines for which this is true never belong to a block (Discord: lines with
            a code fence, which would end the block).
    """

    def excluded(line: str) -> bool:
        return never is not None and never(line)

    n = len(lines)
    flags = [False] * n
    i = 0
    while i < n:
        if not lines[i].strip():
            i += 1
            continue
        j = i
        while j < n and lines[j].strip():
            j += 1
        # lines[i:j] is a paragraph (no blank lines); find aligned runs inside it.
        k = i
        while k < j:
            if not GAP.search(lines[k]) or excluded(lines[k]):
                k += 1
                continue
            start = k
            # A header rule just above belongs to the block.
            if start > i and RULE.match(lines[start - 1]) and not excluded(lines[start - 1]):
                start -= 1
            end = k + 1
            while (
                end < j
                and not excluded(lines[end])
                and (
                    GAP.search(lines[end])
                    or RULE.match(lines[end])
                    or (lines[end][:2].isspace() and len(lines[end]) > 2)
                )
            ):
                end += 1
            aligned = sum(1 for line in lines[start:end] if GAP.search(line))
            if aligned >= 2 or any(STRONG_GAP.search(line) for line in lines[start:end]):
                for m in range(start, end):
                    flags[m] = True
            k = end
        i = j
    return flags
