"""Telegram HTML formatting: escaping, plain text to HTML, and splitting to the size limits.

Everything the bot sends uses ``parse_mode=HTML``. Telegram's HTML is a small subset
(``b``, ``i``, ``u``, ``s``, ``a``, ``code``, ``pre``, ``blockquote``, ``tg-spoiler``...);
every ``<``, ``>`` and ``&`` that is not markup must be written as ``&lt;``, ``&gt;``,
``&amp;`` (``&quot;`` inside attribute values), and only those named entities plus numeric
ones are understood. Text from data or from the model therefore always goes through
:func:`escape` (or one of the helpers that call it) before it reaches a message.

* :func:`to_html` turns the plain-text replies of the services (aligned tables, bullet
  lists, prose) into HTML: everything escaped, aligned table blocks in ``<pre>`` so the
  columns stay aligned, optionally the first line bold. The text content is unchanged:
  ``to_plain(to_html(text)) == text``.
* :func:`split_html` cuts HTML into messages of at most 4096 characters on line
  boundaries, closing the tags open at a cut and reopening them in the next part; a line
  longer than the limit is cut (at a space if possible) between tags and entities, never
  inside one. :func:`caption_and_rest` does the same for a 1024-character photo caption.
* :func:`to_plain` strips the markup again, for the fallback when Telegram cannot parse a
  message ("can't parse entities").

Lengths are counted in UTF-16 code units of the *HTML source*: Telegram counts the limits
in UTF-16 units after parsing the entities, and the source is never shorter than the
parsed text, so a part within the limit here is within Telegram's limit.
"""

from __future__ import annotations

import html as _html
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.layout import table_lines

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "bold",
    "caption_and_rest",
    "code",
    "escape",
    "italic",
    "link",
    "pre",
    "severity_badge",
    "split_html",
    "tg_len",
    "to_html",
    "to_plain",
]

#: Longest message text (``telegram.constants.MessageLimit.MAX_TEXT_LENGTH``).
TEXT_LIMIT = 4096
#: Longest photo or document caption (``telegram.constants.MessageLimit.CAPTION_LENGTH``).
CAPTION_LIMIT = 1024

_BADGES = {
    "warning": "⚠️",
    "high": "🟠",
    "critical": "🚨",
    "recovered": "✅",
    "up": "📈",
    "down": "📉",
}

_TOKEN = re.compile(
    r"(?P<tag></?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?>)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});)",
)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
_TAGS = re.compile(r"<[^<>]*>")


# --------------------------------------------------------------------------- helpers


def tg_len(text: str) -> int:
    """Length of ``text`` as Telegram counts it: UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so that ``text`` shows as written in an HTML message.

    Quotes are left alone: Telegram needs ``&quot;`` only inside attribute values
    (:func:`link` takes care of those), and other named entities are not understood.
    """
    return _html.escape(text, quote=False)


def bold(text: str) -> str:
    """``text`` escaped and in bold."""
    return f"<b>{escape(text)}</b>"


def italic(text: str) -> str:
    """``text`` escaped and in italics."""
    return f"<i>{escape(text)}</i>"


def code(text: str) -> str:
    """``text`` escaped, as inline monospace."""
    return f"<code>{escape(text)}</code>"


def pre(text: str) -> str:
    """``text`` escaped, as a monospace block (tables: the columns stay aligned)."""
    return f"<pre>{escape(text)}</pre>"


def link(url: str, label: str | None = None) -> str:
    """A link to ``url`` labelled ``label`` (the URL itself when ``None``).

    Only ``http``, ``https`` and ``tg`` links become links; anything else (``javascript:``,
    a relative path, garbage) is shown as escaped text.
    """
    text = escape(url if label is None else label)
    scheme = urlsplit(url.strip()).scheme.lower() if url else ""
    if scheme not in ("http", "https", "tg"):
        return text
    href = escape(url.strip()).replace('"', "&quot;")
    return f'<a href="{href}">{text}</a>'


def severity_badge(severity: str | None) -> str:
    """The emoji for a severity or direction, or ``""`` where none carries meaning.

    ``warning`` ⚠️, ``high`` 🟠, ``critical`` 🚨, ``recovered`` ✅, ``up`` 📈, ``down`` 📉;
    ``info``, ``None`` and unknown words get nothing.
    """
    if not severity:
        return ""
    return _BADGES.get(severity.strip().lower(), "")


def to_plain(html: str) -> str:
    """Strip the tags and resolve the entities: the text Telegram would show, unformatted."""
    return _html.unescape(_TAGS.sub("", html))


# ------------------------------------------------------------------- plain -> HTML


def to_html(plain: str, *, bold_title: bool = False) -> str:
    """Render a plain-text reply as Telegram HTML.

    Everything is escaped; blocks of aligned lines (tables, the command list) go into
    ``<pre>`` so that their columns stay aligned; the rest stays text. Line structure and
    text are kept exactly (``to_plain(to_html(text)) == text`` for text without ``\\r``).

    Args:
        plain: The text, as the console would print it (no colours).
        bold_title: Make the first line bold when it is not part of a table.

    Returns:
        HTML for ``parse_mode=HTML``.
    """
    lines = plain.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    table = table_lines(lines)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if table[i]:
            j = i
            while j < len(lines) and table[j]:
                j += 1
            out.append(pre("\n".join(lines[i:j])))
            i = j
            continue
        line = lines[i]
        if i == 0 and bold_title and line.strip():
            out.append(bold(line))
        else:
            out.append(escape(line))
        i += 1
    return "\n".join(out)


# ------------------------------------------------------------------------ splitting


@dataclass(frozen=True, slots=True)
class _Atoms:
    """HTML cut into indivisible pieces, with what is needed to cut it anywhere.

    Attributes:
        atoms: Tags, entities and single characters, in order.
        kinds: ``"open"``, ``"close"``, ``"entity"`` or ``"char"`` for each atom.
        offsets: ``offsets[i]`` is the length (UTF-16 units) of ``atoms[:i]``.
        stacks: ``stacks[i]`` are the tags open before atom ``i`` (``len(atoms) + 1``
            entries), as ``(name, opening tag)`` pairs, outermost first.
        reopen_len: ``reopen_len[i]`` is the length of the opening tags of ``stacks[i]``.
        close_len: ``close_len[i]`` is the length of the closing tags of ``stacks[i]``.
    """

    atoms: list[str]
    kinds: list[str]
    offsets: list[int]
    stacks: list[tuple[tuple[str, str], ...]]
    reopen_len: list[int]
    close_len: list[int]

    def reopen(self, index: int) -> str:
        return "".join(tag for _, tag in self.stacks[index])

    def close(self, index: int) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(self.stacks[index]))

    def cost(self, start: int, end: int) -> int:
        """Length of the part ``atoms[start:end]`` with its tags reopened and closed."""
        return (
            self.reopen_len[start] + self.offsets[end] - self.offsets[start] + self.close_len[end]
        )

    def render(self, start: int, end: int) -> str:
        return self.reopen(start) + "".join(self.atoms[start:end]) + self.close(end)

    def visible(self, start: int, end: int) -> bool:
        """Whether ``atoms[start:end]`` has any text that is not whitespace."""
        for i in range(start, end):
            kind = self.kinds[i]
            if kind == "char" and not self.atoms[i].isspace():
                return True
            if kind == "entity" and not _html.unescape(self.atoms[i]).isspace():
                return True
        return False


def _atomize(html: str) -> _Atoms:
    atoms: list[str] = []
    kinds: list[str] = []
    stack: list[tuple[str, str]] = []
    stacks: list[tuple[tuple[str, str], ...]] = []
    reopen_len: list[int] = []
    close_len: list[int] = []
    current: tuple[tuple[str, str], ...] = ()
    lengths = (0, 0)
    pos = 0

    def add(atom: str, kind: str) -> None:
        nonlocal current, lengths
        if len(current) != len(stack) or current != tuple(stack):
            current = tuple(stack)
            lengths = (
                sum(tg_len(tag) for _, tag in current),
                sum(len(name) + 3 for name, _ in current),
            )
        stacks.append(current)
        reopen_len.append(lengths[0])
        close_len.append(lengths[1])
        atoms.append(atom)
        kinds.append(kind)

    for match in _TOKEN.finditer(html):
        for char in html[pos : match.start()]:
            add(char, "char")
        pos = match.end()
        token = match.group()
        if match.group("entity"):
            add(token, "entity")
            continue
        name_match = _TAG_NAME.match(token)
        name = name_match.group(1).lower() if name_match else ""
        if token.startswith("</"):
            names = [n for n, _ in stack]
            if name not in names:
                continue  # a closing tag with nothing to close: dropped
            add(token, "close")
            while stack:
                if stack.pop()[0] == name:
                    break
        else:
            add(token, "open")
            stack.append((name, token))
    for char in html[pos:]:
        add(char, "char")
    add("", "end")  # the state after the last atom, then dropped
    atoms.pop()
    kinds.pop()
    offsets = [0]
    for atom in atoms:
        offsets.append(offsets[-1] + (tg_len(atom) if len(atom) > 1 or atom > "\uffff" else 1))
    return _Atoms(atoms, kinds, offsets, stacks, reopen_len, close_len)


def _take(a: _Atoms, start: int, limit: int, *, hard: bool) -> tuple[int, int] | None:
    """Where the part beginning at ``start`` ends: ``(end, next_start)``.

    The part ends at the last newline (dropped) that keeps it within ``limit``, or at the
    end of the text. If not even one line fits and ``hard`` is set, the line is cut at
    the last atom boundary that fits, preferably after a space; otherwise ``None``.
    """
    n = len(a.atoms)
    best_line: int | None = None
    best_space: int | None = None
    best_any: int | None = None
    j = start
    while j < n:
        if a.cost(start, j + 1) > limit:
            if a.atoms[j] == "\n" and j > start and a.cost(start, j) <= limit:
                best_line = j
            break
        if a.atoms[j] == "\n" and j > start:
            best_line = j
        j += 1
        if a.kinds[j - 1] == "char" and a.atoms[j - 1] == " ":
            best_space = j
        if a.kinds[j - 1] != "open":
            best_any = j
    else:
        return n, n
    if best_line is not None:
        return best_line, best_line + 1
    if not hard:
        return None
    if best_any is None or best_any <= start:
        if not a.visible(start, n):
            return n, n  # only markup and blanks left: nothing to send
        raise ValueError(f"limit {limit} is too small for the markup around position {start}")
    if best_space is not None and best_space - start >= (best_any - start) // 2:
        return best_space, best_space
    return best_any, best_any


def split_html(html: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut HTML into parts of at most ``limit`` UTF-16 units, each valid on its own.

    Parts end on line boundaries (the newline at a cut is dropped); tags open at a cut are
    closed at the end of the part and reopened at the start of the next, so a table in
    ``<pre>`` continues as a table. A line longer than ``limit`` is cut at a space if one is
    close to the limit, else anywhere between characters, never inside a tag or an entity.
    Parts with no visible text (only whitespace) are left out: Telegram refuses them.
    Unclosed tags are closed at the end; closing tags that close nothing are dropped.

    Args:
        html: Well-nested Telegram HTML (as this module produces it).
        limit: Longest part.

    Returns:
        The parts, in order (no parts for empty or blank input).

    Raises:
        ValueError: ``limit`` is too small to hold the open tags plus one character.
    """
    a = _atomize(html)
    return _split_from(a, 0, limit)


def _split_from(a: _Atoms, start: int, limit: int) -> list[str]:
    parts: list[str] = []
    n = len(a.atoms)
    while start < n:
        taken = _take(a, start, limit, hard=True)
        if taken is None:  # pragma: no cover - hard=True always finds a cut
            raise ValueError("no cut found")
        end, next_start = taken
        if a.visible(start, end):
            parts.append(a.render(start, end))
        start = next_start
    return parts


def caption_and_rest(
    html: str, limit: int = CAPTION_LIMIT, rest_limit: int = TEXT_LIMIT
) -> tuple[str, list[str]]:
    """Split HTML into a photo caption and follow-up messages.

    HTML within ``limit`` is the whole caption. Longer HTML keeps as many whole lines as
    fit in the caption and moves the rest to follow-up messages of at most ``rest_limit``
    (see :func:`split_html`); if not even the first line fits, the caption is empty and
    all of the text follows the photo.

    Args:
        html: The caption as Telegram HTML.
        limit: Longest caption.
        rest_limit: Longest follow-up message.

    Returns:
        ``(caption, follow-ups)``; the caption may be ``""``.
    """
    if tg_len(html) <= limit:
        a = _atomize(html)
        return (html if a.visible(0, len(a.atoms)) else ""), []
    a = _atomize(html)
    taken = _take(a, 0, limit, hard=False)
    if taken is None:
        return "", _split_from(a, 0, rest_limit)
    end, next_start = taken
    caption = a.render(0, end) if a.visible(0, end) else ""
    return caption, _split_from(a, next_start, rest_limit)
