"""Discord formatting: markdown escaping, embeds coloured by severity, splitting to the limits.

Discord renders a subset of Markdown in message content, embed descriptions and field
values (``**bold**``, ``_italics_``, ``~~strike~~``, ``||spoiler||``, code spans and
fenced code blocks, ``#`` headings, ``>`` quotes, ``-``/``1.`` lists, ``[masked](links)``
and ``<@id>`` mentions). Text from the services or from data (coin names, alert labels)
therefore goes through :func:`escape` before it reaches a message, and pings are prevented
separately by sending every message with ``AllowedMentions.none()``.

* :func:`to_markdown` turns a plain-text answer (prose, aligned tables) into markdown:
  prose escaped, aligned blocks in fenced code blocks so that their columns stay aligned.
  :func:`to_plain` undoes it: ``to_plain(to_markdown(text)) == text``.
* :func:`split_text` cuts markdown into parts of at most 2000 characters (or any other
  limit) on line boundaries; a code block open at a cut is closed and reopened in the next
  part (with its language), and a line longer than the limit is cut at a space if possible.
* :func:`build_embeds` builds embeds within every per-embed limit (title 256, description
  4096, 25 fields of 256/1024, footer 2048, author 256, 6000 in total), continuing into
  further embeds as needed; :func:`fit_embed` does the same for an existing embed, and
  :func:`paginate_embeds` groups embeds into messages (at most 10 embeds and 6000
  characters per message, the limit Discord applies to all embeds of a message together).
* :func:`render_messages` is the whole pipeline for an answer: the messages (content or
  embeds, plus files) to send, in order, each within every limit.

Colours: green for up and recovered, red for down and high, orange for a warning, dark red
for critical, blurple for info (:func:`colour_for`).

Discord counts lengths in Unicode code points (its API is written in Python), as ``len``
does here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import discord

from bot.layout import table_lines
from tools.attachments import Attachment

__all__ = [
    "AUTHOR_LIMIT",
    "CONTENT_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "EMBED_TOTAL_LIMIT",
    "FIELDS_PER_EMBED",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FILES_PER_MESSAGE",
    "FILE_SIZE_LIMIT",
    "FOOTER_LIMIT",
    "TITLE_LIMIT",
    "DiscordMessage",
    "EmbedField",
    "build_embeds",
    "code_block",
    "colour_for",
    "embed_size",
    "escape",
    "fit_embed",
    "is_fence",
    "paginate_embeds",
    "render_messages",
    "safe_filename",
    "severity_badge",
    "split_text",
    "table_block",
    "table_fields",
    "to_markdown",
    "to_plain",
    "truncate",
]

#: Longest message content.
CONTENT_LIMIT = 2000
#: Embed limits (Discord's "Embed Limits").
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_LIMIT = 256
#: Title, description, field names and values, footer text and author name of all the
#: embeds of one message together.
EMBED_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
FILES_PER_MESSAGE = 10
#: Largest file a bot may upload to a server without boosts (10 MiB).
FILE_SIZE_LIMIT = 10 * 1024 * 1024

_ZWSP = "\u200b"  # a field name or value may not be empty
_CLOSE = "```"
_COLOURS: dict[str, discord.Colour] = {
    "up": discord.Colour.green(),
    "down": discord.Colour.red(),
    "warning": discord.Colour.orange(),
    "high": discord.Colour.red(),
    "critical": discord.Colour.dark_red(),
    "recovered": discord.Colour.green(),
    "info": discord.Colour.blurple(),
}
_BADGES = {
    "warning": "⚠️",
    "high": "🟠",
    "critical": "🚨",
    "recovered": "✅",
    "up": "📈",
    "down": "📉",
}
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp"})

# A URL stays verbatim (escaping "_" inside it would break the link). It never contains a
# backslash, so the same URLs are found in the escaped text as in the original.
_URL = r"https?://[^\s<>\\]+"
_ESCAPE = re.compile(rf"(?P<url>{_URL})|(?P<char>[\\*_~`|<\[\]])")
_LINE_START = re.compile(r"^([ \t]*)([#>]|-(?=[ \t#]))", re.MULTILINE)
_LIST_NUMBER = re.compile(r"^([ \t]*\d+)\.(?=[ \t])", re.MULTILINE)
_UNESCAPE = re.compile(
    rf"(?P<url>{_URL})|\\(?P<char>[!-/:-@\[-`{{-~])|(?P<markup>\*\*|__|~~|\|\||`)"
)
_MASKED_LINK = re.compile(r"(?<!\\)\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_BLOCK_PREFIX = re.compile(r"^(?:#{1,3} |-# |>>> |> )")
_FENCE = re.compile(r"^ {0,3}```[\w+#.\-]{0,20}[ \t]{0,8}$")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# --------------------------------------------------------------------------- helpers


def truncate(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``…`` when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def severity_badge(severity: str | None) -> str:
    """The emoji for a severity or direction (as in the Telegram front-end), or ``""``."""
    if not severity:
        return ""
    return _BADGES.get(severity.strip().lower(), "")


def colour_for(severity: str | None = None, direction: str | None = None) -> discord.Colour | None:
    """The embed colour for a severity, else for a direction (``up``/``down``).

    ``warning`` orange, ``high`` red, ``critical`` dark red, ``recovered`` green; ``up``
    green, ``down`` red; ``info`` (without a direction) blurple; otherwise ``None``.
    """
    sev = (severity or "").strip().lower()
    if sev and sev != "info" and sev in _COLOURS:
        return _COLOURS[sev]
    way = (direction or "").strip().lower()
    if way in ("up", "down"):
        return _COLOURS[way]
    if sev == "info":
        return _COLOURS["info"]
    return None


def escape(text: str) -> str:
    """Escape ``text`` so that Discord shows it as written (no formatting, no mentions).

    Markdown characters get a backslash (``\\*``, ``\\_``, ``\\<@1>``...), as do ``#``,
    ``>``, ``- ``, ``-#`` and ``1. `` at the start of a line (headings, quotes, lists). URLs are
    left alone so that they stay clickable.
    """

    def one(match: re.Match[str]) -> str:
        return match.group("url") or "\\" + match.group("char")

    escaped = _ESCAPE.sub(one, text)
    escaped = _LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", escaped)
    return _LIST_NUMBER.sub(lambda m: f"{m.group(1)}\\.", escaped)


def _unescape(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group("url"):
            return match.group("url")
        if match.group("char") is not None:
            return match.group("char")
        return ""  # markup: **, __, ~~, ||, `

    return _UNESCAPE.sub(one, _MASKED_LINK.sub(r"\1 (\2)", text))


def is_fence(line: str) -> bool:
    """Whether ``line`` opens or closes a fenced code block (```` ``` ```` plus a language)."""
    return bool(_FENCE.match(line))


def code_block(text: str, language: str = "") -> str:
    """``text`` in a fenced code block (shown verbatim, monospace: columns stay aligned).

    A ```` ``` ```` inside ``text`` is broken up with a zero-width space so that it cannot
    end the block early.
    """
    body = text.replace("```", "`\u200b``")
    return f"```{language}\n{body}\n```"


def safe_filename(name: str, index: int = 0) -> str:
    """A file name Discord keeps as it is (``attachment://`` references must match it)."""
    stem = _SAFE_NAME.sub("_", name.strip()).strip("._") or f"file{index}"
    return stem[:100]


# ------------------------------------------------------------------ plain <-> markdown


def to_markdown(plain: str) -> str:
    """Render a plain-text answer as Discord markdown.

    Everything is escaped; aligned blocks (tables) go into fenced code blocks so that their
    columns stay aligned. ``to_plain(to_markdown(text)) == text`` for text without ``\\r``.

    Args:
        plain: The text as the console would print it.

    Returns:
        Markdown for message content, an embed description or a field value.
    """
    lines = plain.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    table = table_lines(lines, never=lambda line: "```" in line)
    out: list[str] = []
    i = 0
    while i < len(lines):
        if table[i]:
            j = i
            while j < len(lines) and table[j]:
                j += 1
            out.append(_CLOSE)
            out.extend(lines[i:j])
            out.append(_CLOSE)
            i = j
            continue
        out.append(escape(lines[i]))
        i += 1
    return "\n".join(out)


def to_plain(markdown: str) -> str:
    """Markdown back to plain text: fences dropped, escapes resolved, markup removed.

    Undoes :func:`to_markdown` exactly; for other markdown it removes ``**``, ``__``,
    ``~~``, ``||`` and code-span backticks, heading/quote/subtext prefixes, and turns
    ``[label](url)`` into ``label (url)``. Code blocks keep their text verbatim.
    """
    out: list[str] = []
    in_code = False
    for line in markdown.split("\n"):
        if is_fence(line):
            in_code = not in_code
            continue
        if in_code:
            out.append(line)
            continue
        out.append(_unescape(_BLOCK_PREFIX.sub("", line)))
    return "\n".join(out)


def table_block(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Iterable[int] = ()
) -> str:
    """Rows as aligned columns in a code block; the columns in ``right`` right-aligned."""
    right_set = set(right)
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            if index < len(widths):
                widths[index] = max(widths[index], len(cell))
            else:
                widths.append(len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(widths[i]) if i in right_set else c.ljust(widths[i])
            for i, c in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    return code_block("\n".join([line(headers), *(line(r) for r in rows)]))


@dataclass(frozen=True, slots=True)
class EmbedField:
    """One embed field: ``name`` (plain text, up to 256) and ``value`` (markdown, 1024)."""

    name: str
    value: str
    inline: bool = False


def table_fields(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, inline: bool = True
) -> list[EmbedField]:
    """A table as embed fields: one per row, named by its first cell, the other cells as
    ``header: value`` lines (escaped). :func:`build_embeds` spreads more than 25 fields over
    several embeds."""
    fields: list[EmbedField] = []
    for row in rows:
        if not row:
            continue
        name = row[0].strip() or _ZWSP
        lines = []
        for index, cell in enumerate(row[1:], start=1):
            label = headers[index].strip() if index < len(headers) else ""
            lines.append(f"{escape(label)}: {escape(cell)}" if label else escape(cell))
        fields.append(EmbedField(name, "\n".join(lines) or _ZWSP, inline))
    return fields


# ------------------------------------------------------------------------ splitting


def _reopen(line: str) -> str:
    """The fence that reopens the block ``line`` opened (same language)."""
    return line.strip()


def split_text(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Cut markdown into parts of at most ``limit`` characters, on line boundaries.

    A fenced code block open at a cut is closed at the end of the part and reopened (with
    its language) at the start of the next, so that every part renders on its own; a code
    block the text never closes is closed. A line longer than a part is cut at its last
    space in the second half of the room left, else hard. Parts that would hold only
    blanks or an empty code block are left out (Discord refuses empty messages).

    Args:
        text: Markdown (message content or an embed description).
        limit: Longest part (at least 64).

    Returns:
        The parts, in order (none for blank text).

    Raises:
        ValueError: ``limit`` is below 64.
    """
    if limit < 64:
        raise ValueError("limit must be at least 64 characters")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    chunks: list[str] = []
    cur: list[str] = []
    size = -1  # len("\n".join(cur)); -1 when empty, so that a line costs len + 1
    base = 0  # lines at the start of cur that only reopen a block
    opener: str | None = None  # the fence of the block open at the end of cur

    def append(line: str) -> None:
        nonlocal size
        cur.append(line)
        size += 1 + len(line)

    def flush() -> None:
        nonlocal cur, size, base
        if len(cur) > base:
            chunks.append("\n".join(cur + [_CLOSE] if opener is not None else cur))
        cur = [opener] if opener is not None else []
        size = len(opener) if opener is not None else -1
        base = len(cur)

    for line in lines:
        fence = is_fence(line)
        open_after = (opener is None) if fence else (opener is not None)
        reserve = len(_CLOSE) + 1 if open_after else 0
        if size + 1 + len(line) + reserve > limit and len(cur) > base:
            flush()
        if size + 1 + len(line) + reserve <= limit:
            append(line)
            if fence:
                opener = _reopen(line) if opener is None else None
            continue
        # Longer than a whole part (never a fence: those are short): cut it.
        rest = line
        while rest:
            room = limit - (size + 1) - reserve
            if len(rest) <= room:
                append(rest)
                break
            if room < 16:
                flush()
                continue
            space = rest.rfind(" ", room // 2, room)
            piece = rest[: space + 1] if space > 0 else rest[:room]
            append(piece)
            rest = rest[len(piece) :]
            flush()
    flush()
    return [c for c in (_trim_empty_blocks(c) for c in chunks) if _has_text(c)]


def _trim_empty_blocks(chunk: str) -> str:
    """Drop a code block left empty at the start or the end of a part by a cut."""
    lines = chunk.split("\n")
    while len(lines) >= 2 and is_fence(lines[-1]) and is_fence(lines[-2]):
        lines = lines[:-2]
    while len(lines) >= 2 and is_fence(lines[0]) and is_fence(lines[1]):
        lines = lines[2:]
    return "\n".join(lines)


def _has_text(chunk: str) -> bool:
    return any(line.strip() and not is_fence(line) for line in chunk.split("\n"))


# --------------------------------------------------------------------------- embeds


def embed_size(embed: discord.Embed) -> int:
    """The characters of ``embed`` that count towards the 6000 limit (``len(embed)``)."""
    return len(embed)


def _fields_of(field: EmbedField) -> list[EmbedField]:
    """A field within the limits: the name truncated, a long value continued in more
    fields (named with a zero-width space)."""
    name = truncate(field.name.strip(), FIELD_NAME_LIMIT) or _ZWSP
    values = split_text(field.value, FIELD_VALUE_LIMIT) if field.value.strip() else [_ZWSP]
    return [
        EmbedField(name if i == 0 else _ZWSP, value, field.inline) for i, value in enumerate(values)
    ]


def build_embeds(
    *,
    title: str | None = None,
    description: str = "",
    colour: discord.Colour | int | None = None,
    url: str | None = None,
    fields: Sequence[EmbedField] = (),
    footer: str | None = None,
    footer_icon_url: str | None = None,
    author: str | None = None,
    author_url: str | None = None,
    author_icon_url: str | None = None,
    image_url: str | None = None,
    thumbnail_url: str | None = None,
    timestamp: dt.datetime | None = None,
) -> list[discord.Embed]:
    """Embeds holding all of it, each within every per-embed limit.

    The first embed gets the title (truncated to 256), URL, author and thumbnail; the
    description is split into parts of at most 4096 characters (:func:`split_text`), one
    per embed; fields follow, at most 25 per embed (long values continued in further
    fields); the last embed gets the footer, the timestamp and the image. Every embed has
    the colour and stays within 6000 characters. Group them into messages with
    :func:`paginate_embeds`.

    Args:
        title: Plain text (titles are not markdown).
        description: Markdown (``to_markdown(text)`` for a service's plain text).
        colour: The colour bar (:func:`colour_for`).
        url: Link of the title.
        fields: Fields, in order.
        footer: Footer text.
        footer_icon_url: Footer icon.
        author: Author name.
        author_url: Author link.
        author_icon_url: Author icon.
        image_url: Large image (``attachment://name.png`` for an uploaded file).
        thumbnail_url: Small image at the top right.
        timestamp: Shown next to the footer.

    Returns:
        The embeds (none when there is nothing to show).
    """
    parts = split_text(description, DESCRIPTION_LIMIT) if description.strip() else []
    all_fields = [piece for f in fields for piece in _fields_of(f)]
    title_text = truncate(title.strip(), TITLE_LIMIT) if title and title.strip() else None
    footer_text = truncate(footer.strip(), FOOTER_LIMIT) if footer and footer.strip() else None
    author_name = truncate(author.strip(), AUTHOR_LIMIT) if author and author.strip() else None

    embeds: list[discord.Embed] = []

    def start(first: bool) -> discord.Embed:
        embed = discord.Embed(colour=colour)
        if first:
            embed.title = title_text
            embed.url = url if title_text else None
            if author_name:
                embed.set_author(name=author_name, url=author_url, icon_url=author_icon_url)
            if thumbnail_url:
                embed.set_thumbnail(url=thumbnail_url)
        return embed

    cur = start(True)

    def push() -> discord.Embed:
        embeds.append(cur)
        return start(False)

    for part in parts:
        if cur.description or embed_size(cur) + len(part) > EMBED_TOTAL_LIMIT:
            cur = push()
        cur.description = part
    for field in all_fields:
        if (
            len(cur.fields) >= FIELDS_PER_EMBED
            or embed_size(cur) + len(field.name) + len(field.value) > EMBED_TOTAL_LIMIT
        ):
            cur = push()
        cur.add_field(name=field.name, value=field.value, inline=field.inline)
    if footer_text:
        if embed_size(cur) + len(footer_text) > EMBED_TOTAL_LIMIT:
            cur = push()
        cur.set_footer(text=footer_text, icon_url=footer_icon_url)
    if timestamp is not None:
        cur.timestamp = timestamp
    if image_url:
        cur.set_image(url=image_url)
    if _has_content(cur):
        embeds.append(cur)
    return embeds


def _has_content(embed: discord.Embed) -> bool:
    """Whether ``embed`` shows anything (a colour or a timestamp alone does not count)."""
    return bool(
        embed.title
        or embed.description
        or embed.fields
        or embed.footer.text
        or embed.author.name
        or embed.image.url
        or embed.thumbnail.url
    )


def _within_limits(embed: discord.Embed) -> bool:
    if embed_size(embed) > EMBED_TOTAL_LIMIT or len(embed.fields) > FIELDS_PER_EMBED:
        return False
    if len(embed.title or "") > TITLE_LIMIT or len(embed.description or "") > DESCRIPTION_LIMIT:
        return False
    if len(embed.footer.text or "") > FOOTER_LIMIT or len(embed.author.name or "") > AUTHOR_LIMIT:
        return False
    return all(
        0 < len(f.name or "") <= FIELD_NAME_LIMIT and 0 < len(f.value or "") <= FIELD_VALUE_LIMIT
        for f in embed.fields
    )


def fit_embed(embed: discord.Embed) -> list[discord.Embed]:
    """``embed`` itself if it is within every limit, else the embeds it splits into.

    Long descriptions and values are split (nothing is lost), more than 25 fields spread
    over several embeds; title, footer and author names are truncated.
    """
    if _within_limits(embed):
        return [embed]
    return build_embeds(
        title=embed.title,
        description=embed.description or "",
        colour=embed.colour,
        url=embed.url,
        fields=[EmbedField(f.name or "", f.value or "", bool(f.inline)) for f in embed.fields],
        footer=embed.footer.text,
        footer_icon_url=embed.footer.icon_url,
        author=embed.author.name,
        author_url=embed.author.url,
        author_icon_url=embed.author.icon_url,
        image_url=embed.image.url,
        thumbnail_url=embed.thumbnail.url,
        timestamp=embed.timestamp,
    )


def paginate_embeds(embeds: Iterable[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages: at most 10 per message and 6000 characters together.

    Oversized embeds are split first (:func:`fit_embed`); the order is kept.
    """
    pages: list[list[discord.Embed]] = []
    page: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        for piece in fit_embed(embed):
            size = embed_size(piece)
            if page and (len(page) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT):
                pages.append(page)
                page, total = [], 0
            page.append(piece)
            total += size
    if page:
        pages.append(page)
    return pages


# ------------------------------------------------------------------------ messages


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """One message to send: content (markdown, at most 2000), embeds (at most 10, 6000
    together) and files (at most 10, with names Discord keeps as they are)."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()
    files: tuple[Attachment, ...] = ()


def _is_image(attachment: Attachment) -> bool:
    return attachment.content_type.split(";")[0].strip().lower() in _IMAGE_TYPES


def _prepare_files(
    files: Sequence[Attachment], max_file_bytes: int
) -> tuple[list[Attachment], list[str]]:
    """Files with safe, unique names; too large ones left out (with a note each)."""
    kept: list[Attachment] = []
    notes: list[str] = []
    seen: set[str] = set()
    for index, attachment in enumerate(files):
        if len(attachment.data) > max_file_bytes:
            notes.append(f"(Attachment {attachment.filename} is too large to send.)")
            continue
        name = safe_filename(attachment.filename, index)
        if name.lower() in seen:
            stem, dot, ext = name.rpartition(".")
            name = f"{stem}-{index}.{ext}" if dot and stem else f"{name}-{index}"
        seen.add(name.lower())
        kept.append(replace(attachment, filename=name))
    return kept, notes


def render_messages(
    text: str,
    files: Sequence[Attachment] = (),
    *,
    title: str | None = None,
    severity: str | None = None,
    direction: str | None = None,
    embed: bool | None = None,
    footer: str | None = None,
    max_file_bytes: int = FILE_SIZE_LIMIT,
) -> list[DiscordMessage]:
    """The messages that show a plain-text answer and its files, each within the limits.

    Two layouts:

    * **content** (the default without title, severity or direction): the text as
      markdown (:func:`to_markdown`, tables in code blocks) split into messages of at most
      2000 characters. Code blocks in content use the full width of the chat, which suits
      tables better than an embed.
    * **embed** (``embed=True``, or when a title, severity or direction is given): the
      badge and title, the text as the description, coloured by severity or direction
      (:func:`colour_for`), split and paginated at the embed limits. The first image file
      is shown inside the last embed (``attachment://``).

    Files go with the last message (at most 10 per message; more follow in messages of
    their own); files over ``max_file_bytes`` are left out with a note in the text.

    Args:
        text: Plain text (no markup; it is escaped here).
        files: Files to send along.
        title: Headline (embed layout).
        severity: ``info``/``warning``/``high``/``critical``/``recovered`` (embed layout).
        direction: ``up``/``down`` (embed layout).
        embed: Force a layout; ``None`` chooses as described.
        footer: Footer text (embed layout).
        max_file_bytes: Larger files are left out.

    Returns:
        The messages in order (none when there is neither text nor a file).
    """
    kept, notes = _prepare_files(files, max_file_bytes)
    if notes:
        text = "\n".join([text, *notes]) if text.strip() else "\n".join(notes)
    use_embed = embed if embed is not None else bool(title or severity or direction)
    messages: list[DiscordMessage]
    if use_embed:
        badge = severity_badge(severity) or severity_badge(direction)
        description = to_markdown(text) if text.strip() else ""
        head = title.strip() if title else ""
        if badge and head:
            head = f"{badge} {head}"
        elif badge:
            description = f"{badge} {description}".strip()
        image = next((f for f in kept[:FILES_PER_MESSAGE] if _is_image(f)), None)
        embeds = build_embeds(
            title=head or None,
            description=description,
            colour=colour_for(severity, direction),
            footer=footer,
            image_url=f"attachment://{image.filename}" if image is not None else None,
        )
        messages = [DiscordMessage(embeds=tuple(page)) for page in paginate_embeds(embeds)]
    else:
        body = to_markdown(text) if text.strip() else ""
        messages = [DiscordMessage(content=part) for part in split_text(body, CONTENT_LIMIT)]
    batches = [
        tuple(kept[i : i + FILES_PER_MESSAGE]) for i in range(0, len(kept), FILES_PER_MESSAGE)
    ]
    if batches:
        if messages:
            messages[-1] = replace(messages[-1], files=batches[0])
        else:
            messages.append(DiscordMessage(files=batches[0]))
        messages.extend(DiscordMessage(files=batch) for batch in batches[1:])
    return messages
