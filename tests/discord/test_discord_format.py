"""bot.discord.format: escaping, tables, colours, splitting and embeds within Discord's limits.

The limits are checked twice: by the module's own constants and by the fake Discord API's
validator (:func:`tests.discord.fake_discord_api.message_errors`), which applies Discord's
rules independently.
"""

from __future__ import annotations

import re

import discord
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.discord.format import (
    CONTENT_LIMIT,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELDS_PER_EMBED,
    FILES_PER_MESSAGE,
    DiscordMessage,
    EmbedField,
    build_embeds,
    code_block,
    colour_for,
    escape,
    fit_embed,
    is_fence,
    paginate_embeds,
    render_messages,
    safe_filename,
    split_text,
    table_block,
    table_fields,
    to_markdown,
    to_plain,
    truncate,
)
from tests.discord.fake_discord_api import message_errors
from tools.attachments import Attachment

LIMITED = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TABLE = "\n".join(
    ["COIN   PRICE (USD)      24H"]
    + [f"C{i:<5} ${i * 1234.5:>12,.2f}  {i % 7 - 3:+.2f}%" for i in range(60)]
)


def payload(message: DiscordMessage) -> dict[str, object]:
    return {"content": message.content, "embeds": [e.to_dict() for e in message.embeds]}


def fences(text: str) -> int:
    return sum(1 for line in text.split("\n") if is_fence(line))


def visible(text: str) -> str:
    """The text without fence lines and whitespace (what a split must preserve)."""
    kept = [line for line in text.split("\n") if not is_fence(line)]
    return re.sub(r"\s", "", "".join(kept))


# ------------------------------------------------------------------------- colours


def test_colours_by_severity_and_direction() -> None:
    assert colour_for("warning") == discord.Colour.orange()
    assert colour_for("high") == discord.Colour.red()
    assert colour_for("critical") == discord.Colour.dark_red()
    assert colour_for("recovered") == discord.Colour.green()
    assert colour_for(direction="up") == discord.Colour.green()
    assert colour_for(direction="down") == discord.Colour.red()
    assert colour_for("info") == discord.Colour.blurple()
    assert colour_for("info", "down") == discord.Colour.red()  # info defers to direction
    assert colour_for("critical", "up") == discord.Colour.dark_red()  # severity wins
    assert colour_for() is None and colour_for("nonsense") is None


# ------------------------------------------------------------------------ escaping


def test_escape_neutralises_markdown_and_mentions() -> None:
    text = "*BTC* _up_ ~~x~~ `code` ||spoiler|| <@123> [link](https://evil.example)"
    escaped = escape(text)
    assert "\\*BTC\\*" in escaped and "\\<@123>" in escaped and "\\[link\\]" in escaped
    assert escape("# heading\n> quote\n- item\n1. first\n12.5 BTC") == (
        "\\# heading\n\\> quote\n\\- item\n1\\. first\n12.5 BTC"
    )
    assert escape("see https://x.com/a_b*c") == "see https://x.com/a_b*c"  # links stay intact


def test_to_markdown_puts_tables_in_code_blocks() -> None:
    text = "Top coins:\n" + TABLE.split("\n", 4)[0] + "\n" + "\n".join(TABLE.split("\n")[1:4])
    markdown = to_markdown(text)
    lines = markdown.split("\n")
    assert lines[0] == "Top coins:"
    assert lines[1] == "```" and lines[-1] == "```"
    assert lines[2].startswith("COIN   PRICE")  # verbatim inside the block
    assert to_plain(markdown) == text


@LIMITED
@given(st.text(max_size=400))
def test_markdown_round_trip(text: str) -> None:
    text = text.replace("\r", "")
    assert to_plain(to_markdown(text)) == text


def test_to_plain_strips_foreign_markdown() -> None:
    markdown = "# Title\n**bold** and __under__ ||s|| `c`\n> quoted\n[site](https://a.b)"
    assert to_plain(markdown) == "Title\nbold and under s c\nquoted\nsite (https://a.b)"


def test_code_block_cannot_be_closed_early() -> None:
    block = code_block("a ``` b", "py")
    assert block.startswith("```py\n") and block.endswith("\n```")
    assert block.count("```") == 2


def test_table_helpers() -> None:
    block = table_block(["COIN", "PRICE"], [["BTC", "100"], ["ETH", "4000"]], right={1})
    assert block.split("\n")[1:4] == ["COIN  PRICE", "BTC     100", "ETH    4000"]
    fields = table_fields(["Coin", "Price", "24h"], [["BTC", "100", "+1%"], ["E*H", "4", "-2%"]])
    assert fields[0] == EmbedField("BTC", "Price: 100\n24h: +1%", True)
    assert fields[1].value == "Price: 4\n24h: -2%" and fields[1].name == "E*H"


def test_truncate_and_filenames() -> None:
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert safe_filename("BTC chart (30d).png") == "BTC_chart_30d_.png"
    assert safe_filename("...") == "file0"


# ----------------------------------------------------------------------- splitting


def test_split_keeps_short_text_whole() -> None:
    assert split_text("hello\nworld") == ["hello\nworld"]
    assert split_text("  \n ") == []


def test_split_closes_and_reopens_code_blocks() -> None:
    text = "Prices:\n```py\n" + "\n".join(f"row {i:04d} " + "x" * 40 for i in range(200))
    text += "\n```\nThat is all."
    parts = split_text(text, 2000)
    assert len(parts) > 3
    for index, part in enumerate(parts):
        assert len(part) <= 2000
        assert fences(part) % 2 == 0
        if 0 < index < len(parts) - 1:
            assert part.startswith("```py\n") and part.endswith("\n```")
    assert parts[-1].endswith("That is all.")
    assert visible("\n".join(parts)) == visible(text)


def test_split_cuts_long_lines_at_spaces() -> None:
    text = " ".join(f"word{i}" for i in range(1000))
    parts = split_text(text, 500)
    assert all(len(p) <= 500 for p in parts)
    assert all(p.endswith(" ") or p is parts[-1] for p in parts)  # cut after a space
    assert "".join(parts) == text


def test_unclosed_code_block_is_closed() -> None:
    (part,) = split_text("```\nopen block")
    assert part == "```\nopen block\n```"


lines = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="\r\n"), max_size=120),
    st.sampled_from(["```", "```py", "```diff", "", "   "]),
    st.text(alphabet="ab ", min_size=200, max_size=3000),
)


@LIMITED
@given(st.lists(lines, max_size=60), st.integers(min_value=64, max_value=2000))
def test_split_properties(parts: list[str], limit: int) -> None:
    text = "\n".join(parts)
    chunks = split_text(text, limit)
    for chunk in chunks:
        assert len(chunk) <= limit
        assert fences(chunk) % 2 == 0  # every part renders on its own
        assert any(line.strip() and not is_fence(line) for line in chunk.split("\n"))
    assert visible("\n".join(chunks)) == visible(text)


# -------------------------------------------------------------------------- embeds


def within_embed_limits(embed: discord.Embed) -> bool:
    return (
        len(embed) <= EMBED_TOTAL_LIMIT
        and len(embed.title or "") <= 256
        and len(embed.description or "") <= DESCRIPTION_LIMIT
        and len(embed.fields) <= FIELDS_PER_EMBED
        and all(
            0 < len(f.name or "") <= 256 and 0 < len(f.value or "") <= 1024 for f in embed.fields
        )
        and len(embed.footer.text or "") <= 2048
    )


def test_build_embeds_spreads_long_content() -> None:
    fields = [EmbedField(f"name{i}", "v" * 1500) for i in range(30)]
    embeds = build_embeds(
        title="T" * 300,
        description="word " * 3000,
        colour=discord.Colour.red(),
        fields=fields,
        footer="source: test",
        image_url="attachment://chart.png",
    )
    assert all(within_embed_limits(e) for e in embeds)
    assert embeds[0].title == "T" * 255 + "…"
    assert all(e.colour == discord.Colour.red() for e in embeds)
    assert embeds[-1].footer.text == "source: test" and embeds[-1].image.url
    assert "".join(e.description or "" for e in embeds).replace(" ", "") == "word" * 3000
    names = [f.name for e in embeds for f in e.fields if f.name != "\u200b"]
    assert names == [f"name{i}" for i in range(30)]  # long values continue, names kept once
    assert sum(len(f.value or "") for e in embeds for f in e.fields) == 30 * 1500


def test_build_embeds_of_nothing() -> None:
    assert build_embeds() == []
    assert build_embeds(colour=discord.Colour.red()) == []


def test_fit_embed_splits_an_oversized_embed() -> None:
    embed = discord.Embed(title="Report", description="x" * 5000, colour=discord.Colour.green())
    for i in range(40):
        embed.add_field(name=f"f{i}", value="v" * 200)
    pieces = fit_embed(embed)
    assert len(pieces) > 1 and all(within_embed_limits(p) for p in pieces)
    assert pieces[0].title == "Report"
    small = discord.Embed(title="ok")
    assert fit_embed(small) == [small]


@LIMITED
@given(
    st.integers(min_value=0, max_value=30),
    st.integers(min_value=0, max_value=20000),
    st.integers(min_value=0, max_value=60),
)
def test_pagination_respects_message_limits(count: int, description: int, fields: int) -> None:
    embeds = [
        discord.Embed(title=f"e{i}", description="d" * (description // max(count, 1)))
        for i in range(count)
    ]
    if embeds:
        for j in range(fields):
            embeds[-1].add_field(name=f"n{j}", value="w" * 300)
    pages = paginate_embeds(embeds)
    for page in pages:
        assert 1 <= len(page) <= EMBEDS_PER_MESSAGE
        assert sum(len(e) for e in page) <= EMBED_TOTAL_LIMIT
        assert all(within_embed_limits(e) for e in page)
        assert message_errors({"embeds": [e.to_dict() for e in page]}) == {}
    titles = [e.title for page in pages for e in page if e.title]
    assert titles == [f"e{i}" for i in range(count)]  # order kept


# ------------------------------------------------------------------------ messages


def png(size: int = 64) -> Attachment:
    return Attachment("btc chart.png", "image/png", b"\x89PNG" + b"0" * size, "BTC, 30 days")


def test_content_layout_splits_at_2000() -> None:
    messages = render_messages("Top coins\n" + TABLE * 2)
    assert len(messages) > 1
    for message in messages:
        assert message.embeds == () and message.content is not None
        assert len(message.content) <= CONTENT_LIMIT
        assert message_errors(payload(message)) == {}
    assert messages[0].content is not None and messages[0].content.startswith("Top coins\n```")


def test_embed_layout_with_colour_badge_and_chart() -> None:
    (message,) = render_messages(
        "USDC trades at 0.97", [png()], title="Depeg: USDC", severity="critical"
    )
    (embed,) = message.embeds
    assert embed.title == "🚨 Depeg: USDC" and embed.colour == discord.Colour.dark_red()
    assert embed.description == "USDC trades at 0.97"
    (file,) = message.files
    assert file.filename == "btc_chart.png"
    assert embed.image.url == "attachment://btc_chart.png"


def test_direction_only_message_gets_a_badge() -> None:
    (message,) = render_messages("ETH fell 5%", direction="down")
    assert message.embeds[0].description == "📉 ETH fell 5%"
    assert message.embeds[0].colour == discord.Colour.red()


def test_files_go_with_the_last_message_ten_at_a_time() -> None:
    files = [Attachment(f"r{i}.csv", "text/csv", b"a,b\n") for i in range(12)]
    messages = render_messages("x" * 4500, files)
    assert [len(m.files) for m in messages] == [0, 0, 10, 2]
    assert messages[-1].content is None and messages[-1].embeds == ()
    files_only = render_messages("", files[:1])
    assert files_only == [DiscordMessage(files=(files_only[0].files[0],))]
    assert render_messages("   ") == []


def test_duplicate_and_oversized_files() -> None:
    big = Attachment("huge.png", "image/png", b"0" * 100)
    same = [Attachment("a.csv", "text/csv", b"1"), Attachment("a.csv", "text/csv", b"2")]
    messages = render_messages("report", [*same, big], max_file_bytes=50)
    names = [f.filename for f in messages[-1].files]
    assert names == ["a.csv", "a-1.csv"]
    assert "huge.png is too large" in (messages[0].content or "")


@LIMITED
@given(
    st.text(max_size=9000),
    st.one_of(st.none(), st.text(max_size=400)),
    st.sampled_from([None, "info", "warning", "high", "critical", "recovered"]),
    st.booleans(),
)
def test_rendered_messages_pass_discords_validation(
    text: str, title: str | None, severity: str | None, embed: bool
) -> None:
    messages = render_messages(text, title=title, severity=severity, embed=embed)
    for message in messages:
        body = payload(message)
        assert message_errors(body) == {}, body
        assert len(message.files) <= FILES_PER_MESSAGE
        assert (message.content or "").strip() or message.embeds or message.files
