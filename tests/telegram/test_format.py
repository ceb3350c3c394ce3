"""Tests of bot.telegram.format: escaping, plain text to HTML, splitting to Telegram's limits."""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.telegram.format import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    bold,
    caption_and_rest,
    code,
    escape,
    italic,
    link,
    pre,
    severity_badge,
    split_html,
    tg_len,
    to_html,
    to_plain,
)

# Tags Telegram's HTML parse mode understands.
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
    "tg-spoiler", "span", "blockquote", "tg-emoji",
}  # fmt: skip


class _TelegramHTML(HTMLParser):
    """Checks HTML the way Telegram does (well nested, known tags, nothing bare)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.errors.append(f"unsupported tag <{tag}>")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> does not close {self.stack[-1:] or 'anything'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        for bare in "<>&":
            if bare in data:
                self.errors.append(f"bare {bare!r} in {data!r}")
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.errors.append(f"unsupported entity &{name};")
        self.text.append(html_lib.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html_lib.unescape(f"&#{name};"))


def check_html(text: str) -> str:
    """Assert that ``text`` is valid Telegram HTML; return its text content."""
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    assert not parser.errors, (parser.errors, text)
    assert not parser.stack, (f"unclosed {parser.stack}", text)
    return "".join(parser.text)


def deletes_only_whitespace(original: str, joined: str) -> bool:
    """Whether ``joined`` is ``original`` with some whitespace characters removed."""
    i = 0
    for char in joined:
        while i < len(original) and original[i] != char:
            if not original[i].isspace():
                return False
            i += 1
        if i == len(original):
            return False
        i += 1
    return original[i:].strip() == ""


# ----------------------------------------------------------------------- helpers


def test_escape_only_what_telegram_needs() -> None:
    assert escape('<b>Tom & "Jerry"</b>') == '&lt;b&gt;Tom &amp; "Jerry"&lt;/b&gt;'
    assert escape("_*[]()~`>#+-=|{}.!") == "_*[]()~`&gt;#+-=|{}.!"
    assert escape("&amp;") == "&amp;amp;"


def test_wrappers_escape_their_text() -> None:
    assert bold("a<b") == "<b>a&lt;b</b>"
    assert italic("x&y") == "<i>x&amp;y</i>"
    assert code("<tag>") == "<code>&lt;tag&gt;</code>"
    assert pre("a  b\nc  d") == "<pre>a  b\nc  d</pre>"


def test_link_escapes_the_href_and_refuses_odd_schemes() -> None:
    html = link('https://example.com/?a=1&b="x"', "A <site>")
    assert html == '<a href="https://example.com/?a=1&amp;b=&quot;x&quot;">A &lt;site&gt;</a>'
    check_html(html)
    assert link("javascript:alert(1)", "click") == "click"
    assert link("/relative", None) == "/relative"
    assert link("tg://user?id=1", "me") == '<a href="tg://user?id=1">me</a>'


@pytest.mark.parametrize(
    ("severity", "badge"),
    [
        ("warning", "⚠️"),
        ("high", "🟠"),
        ("critical", "🚨"),
        ("recovered", "✅"),
        ("up", "📈"),
        ("down", "📉"),
        ("CRITICAL", "🚨"),
        ("info", ""),
        (None, ""),
        ("nonsense", ""),
    ],
)
def test_severity_badge(severity: str | None, badge: str) -> None:
    assert severity_badge(severity) == badge


def test_tg_len_counts_utf16_units() -> None:
    assert tg_len("abc") == 3
    assert tg_len("📈") == 2
    assert tg_len("é") == 1


def test_to_plain_strips_tags_and_entities() -> None:
    assert to_plain('<b>P&amp;L</b> <a href="https://x.io">&lt;3</a>') == "P&L <3"


# ------------------------------------------------------------------------ to_html

PRICE_REPLY = """Offline market: SIMULATED prices, not live data.
COIN  NAME      PRICE (USD)     24H  MKT CAP  VOL 24H
BTC   Bitcoin   $139,241.98  +1.66%    2.78T   76.46B
ETH   Ethereum    $3,653.83  -1.56%   441.0B   14.95B
Top gainers: SOL +8.34%, DOGE +6.01%, BTC +1.66%
Top losers:  ADA -9.15%, XRP -1.97%, BNB -1.85%"""

ALERTS_REPLY = """Your alerts (1):
#1     BTC above $100,000  active; created 2026-11-21; never fired
       now: BTC is $139,241.78 now, 28.2% above your $100,000 trigger."""

PORTFOLIO_REPLY = """Portfolio "default" (FIFO):
0.5 BTC @ $139,200.99 = $69,600.50 (83.7%), P&L $39,600.50 (+132.00%), 24h +1.63%
Total $83,200.15, cost $39,500.00, unrealised $43,700.15 (+110.63%), realised $0.00"""


def test_table_goes_in_pre_and_prose_stays_text() -> None:
    html = to_html(PRICE_REPLY)
    check_html(html)
    lines = html.split("\n")
    assert lines[0] == "Offline market: SIMULATED prices, not live data."
    assert lines[1].startswith("<pre>COIN  NAME")
    assert lines[3].endswith("14.95B</pre>")
    # two spaces after a label on a line of their own are not a table
    assert lines[5] == "Top losers:  ADA -9.15%, XRP -1.97%, BNB -1.85%"
    assert to_plain(html) == PRICE_REPLY


def test_aligned_line_with_indented_continuation_is_one_block() -> None:
    html = to_html(ALERTS_REPLY)
    check_html(html)
    assert html.count("<pre>") == 1
    assert "<pre>#1     BTC above $100,000" in html
    assert "trigger.</pre>" in html


def test_prose_is_escaped_not_pre() -> None:
    html = to_html(PORTFOLIO_REPLY, bold_title=True)
    check_html(html)
    assert "<pre>" not in html
    assert html.startswith('<b>Portfolio "default" (FIFO):</b>\n')
    assert "P&amp;L" in html


def test_names_with_markup_characters_are_escaped() -> None:
    text = "Alert for <script> & *bold* _x_ [link](y)\nA  <b>  C\nD  &amp;  F"
    html = to_html(text)
    assert check_html(html) == text
    assert "<script>" not in html


def test_bold_title_skips_tables_and_blank_first_lines() -> None:
    assert to_html("A  B\nC  D", bold_title=True) == "<pre>A  B\nC  D</pre>"
    assert to_html("\nx", bold_title=True) == "\nx"


def test_rule_line_under_a_header_stays_in_the_table() -> None:
    text = "Result:\nCOIN  QTY\n----  ---\nBTC   0.5\nETH   3"
    html = to_html(text)
    assert html == "Result:\n<pre>COIN  QTY\n----  ---\nBTC   0.5\nETH   3</pre>"


TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("<>&\"' \n\t_*[]()~`|ab-")),
        st.characters(exclude_categories=("Cs", "Cc")),
    ),
    max_size=300,
)


@given(TEXT, st.booleans())
def test_to_html_is_valid_and_keeps_the_text(text: str, bold_title: bool) -> None:
    html = to_html(text, bold_title=bold_title)
    assert check_html(html) == text
    assert to_plain(html) == text


# -------------------------------------------------------------------- split_html


def test_short_html_is_one_part() -> None:
    assert split_html("<b>hi</b>") == ["<b>hi</b>"]
    assert split_html("") == []
    assert split_html("  \n <b> </b>\n") == []


def test_long_table_is_split_on_lines_and_reopened() -> None:
    rows = [f"{i:>4}  COIN{i:<5}  ${i * 1000:>10,}" for i in range(400)]
    html = to_html("Top coins:\n" + "\n".join(rows))
    parts = split_html(html)
    assert len(parts) > 1
    for part in parts:
        assert tg_len(part) <= TEXT_LIMIT
        check_html(part)
    assert parts[0].startswith("Top coins:\n<pre>")
    assert all(part.startswith("<pre>") and part.endswith("</pre>") for part in parts[1:])
    # cut only at line ends: the parts joined with the dropped newlines give the text back
    assert "\n".join(to_plain(p) for p in parts) == to_plain(html)


def test_long_line_is_cut_at_a_space_and_never_inside_an_entity() -> None:
    html = escape("Tom & Jerry <3 " * 500)
    parts = split_html(html, limit=200)
    assert len(parts) > 1
    for part in parts:
        assert tg_len(part) <= 200
        check_html(part)
        assert part.endswith(" ")  # cut after a space
    assert "".join(to_plain(p) for p in parts) == "Tom & Jerry <3 " * 500


def test_line_without_spaces_is_cut_hard_between_entities() -> None:
    html = "<b>" + "&amp;" * 300 + "</b>"
    parts = split_html(html, limit=100)
    for part in parts:
        assert tg_len(part) <= 100
        assert check_html(part) == "&" * ((tg_len(part) - 7) // 5)
    assert "".join(to_plain(p) for p in parts) == "&" * 300


def test_emoji_count_double() -> None:
    parts = split_html("📈" * 100, limit=51)
    assert all(tg_len(p) <= 51 for p in parts)
    assert [len(p) for p in parts] == [25, 25, 25, 25]


def test_unbalanced_input_still_gives_balanced_parts() -> None:
    parts = split_html("</i><b>open\nline two", limit=11)
    for part in parts:
        check_html(part)
    assert parts[0] == "<b>open</b>"


def test_limit_too_small_for_the_markup_raises() -> None:
    with pytest.raises(ValueError, match="too small"):
        split_html('<a href="https://example.com/very/long/path">x</a>', limit=20)


_TAG = st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler"])
_ESCAPED = TEXT.map(escape)


def _wrap(tag_and_inner: tuple[str, str]) -> str:
    tag, inner = tag_and_inner
    return f"<{tag}>{inner}</{tag}>"


_LINES = st.lists(st.text(max_size=80).map(lambda s: s.replace("\r", "")), max_size=30)
_LINK = _ESCAPED.map(lambda s: f'<a href="https://x.io/?a=1&amp;b=&quot;2&quot;">{s}</a>')


def _nest(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        inner,
        st.lists(inner, min_size=1, max_size=4).map("".join),
        st.tuples(_TAG, inner).map(_wrap),
    )


# Telegram HTML up to three tags deep (links are never nested, as in Telegram).
HTML = _nest(_nest(_nest(st.one_of(_ESCAPED, _LINK, _LINES.map(lambda ls: pre("\n".join(ls)))))))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(HTML, st.integers(min_value=150, max_value=700))
def test_split_properties(html: str, limit: int) -> None:
    original = check_html(html)
    parts = split_html(html, limit)
    texts = []
    for part in parts:
        assert tg_len(part) <= limit
        text = check_html(part)
        assert text.strip(), "a part with nothing to show"
        texts.append(text)
    assert deletes_only_whitespace(original, "".join(texts))
    assert "".join(original.split()) == "".join("".join(texts).split())


# --------------------------------------------------------------- caption_and_rest


def test_short_caption_stays() -> None:
    assert caption_and_rest("<b>BTC</b> 30 days") == ("<b>BTC</b> 30 days", [])
    assert caption_and_rest("  ") == ("", [])


def test_long_caption_keeps_whole_lines_and_moves_the_rest() -> None:
    text = "BTC, 30 days\n" + "\n".join(f"line {i} " + "x" * 60 for i in range(100))
    html = to_html(text, bold_title=True)
    caption, rest = caption_and_rest(html)
    assert 0 < tg_len(caption) <= CAPTION_LIMIT
    assert caption.startswith("<b>BTC, 30 days</b>\n")
    assert rest and all(tg_len(part) <= TEXT_LIMIT for part in rest)
    for part in [caption, *rest]:
        check_html(part)
    assert "\n".join(to_plain(p) for p in [caption, *rest]) == text


def test_caption_whose_first_line_is_too_long_moves_entirely() -> None:
    html = escape("word " * 400)
    caption, rest = caption_and_rest(html)
    assert caption == ""
    assert "".join(to_plain(p) for p in rest) == "word " * 400


@given(HTML, st.integers(min_value=150, max_value=400))
def test_caption_properties(html: str, limit: int) -> None:
    original = check_html(html)
    caption, rest = caption_and_rest(html, limit=limit, rest_limit=limit * 2)
    assert tg_len(caption) <= limit
    texts = [check_html(caption)] if caption else []
    for part in rest:
        assert tg_len(part) <= limit * 2
        texts.append(check_html(part))
    assert deletes_only_whitespace(original, "".join(texts))
