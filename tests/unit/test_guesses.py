"""The guessing game's rules on a real SQLite file: one guess per person, changeable until the
board closes and frozen after, ranked by absolute distance with the earlier guess first, kept
across a restart, and every bad input refused with one line and nothing changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.guesses import (
    Guess,
    GuessBoard,
    Guesser,
    GuessError,
    closing_ms,
    parse_amount,
    ranked,
    standings,
)
from dashboard.ids import Ids
from dashboard.outlook import ops_outlook
from ingest.contract import midnight_ms
from ingest.forecast import Forecast

CLOSES = 1_794_326_400_000  # 2026-11-11 00:00 Beijing
BEFORE = CLOSES - 3_600_000


def board(tmp_path: Path) -> GuessBoard:
    return GuessBoard(tmp_path, CLOSES)


@pytest.mark.parametrize(("typed", "cents"), [
    ("320000000000", 320_000_000_000_00), ("3200亿", 320_000_000_000_00),
    ("¥3,200.5 亿", 320_050_000_000_00), ("320bn", 320_000_000_000_00), ("1.5M", 1_500_000_00),
    ("１２３４５", 12_345_00), ("999,999.99", 999_999_99), ("12万元", 120_000_00)])
def test_amounts_as_people_type_them(typed: str, cents: int) -> None:
    assert parse_amount(typed) == cents


@pytest.mark.parametrize("typed", ["", "  ", "abc", "-5", "0", "0.00", "1.234", "3200 亿亿",
                                   "1e9", "NaN", "1" * 30, "12.5.1", "¥", ",,,"])
def test_a_malformed_negative_or_absurd_amount_is_refused(typed: str) -> None:
    with pytest.raises(GuessError):
        parse_amount(typed)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_is_an_amount_or_one_clear_refusal(typed: str) -> None:
    try:
        cents = parse_amount(typed)
    except GuessError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(cents, int) and cents > 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=20))
def test_any_name_and_amount_leave_the_board_valid_or_untouched(name: str, amount: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        guesses = GuessBoard(Path(home), CLOSES)
        try:
            guess = guesses.submit(Guesser.by_name(name), amount, BEFORE)
        except GuessError:
            assert guesses.guesses() == []
        else:
            assert guesses.guesses() == [guess] and 0 < len(guess.name) <= 40


def test_one_guess_per_person_changeable_until_closing(tmp_path: Path) -> None:
    guesses = board(tmp_path)
    guesses.submit(Guesser.account("mei"), "3000亿", BEFORE)
    guesses.submit(Guesser.account("mei"), "3100亿", BEFORE + 1000)
    assert [(g.name, g.amount_cents, g.at_ms) for g in guesses.guesses()] == [
        ("mei", 310_000_000_000_00, BEFORE + 1000)]
    with pytest.raises(GuessError, match="closed"):
        guesses.submit(Guesser.account("mei"), "5000亿", CLOSES)
    with pytest.raises(GuessError, match="closed"):
        guesses.submit(Guesser.account("new"), "1亿", CLOSES + 60_000)
    assert [g.amount_cents for g in guesses.guesses()] == [310_000_000_000_00]


def test_no_name_bad_amount_or_a_taken_name_changes_nothing(tmp_path: Path) -> None:
    guesses = board(tmp_path)
    guesses.submit(Guesser.by_name("Mei"), "3000亿", BEFORE)
    for name, amount, why in (("", "1亿", "needs a name"), ("   ", "1亿", "needs a name"),
                              ("Bo", "-3", "number of yuan"), ("Bo", "3000亿亿", "number"),
                              ("x" * 41, "1亿", "longer than 40"), ("Bo\x00", "1亿", "cannot be"),
                              ("Меi", "1亿", "mixes Latin and Cyrillic"),
                              ("Méi", "1亿", "already guesses as 'Mei'")):
        with pytest.raises(GuessError, match=why):
            guesses.submit(Guesser.by_name(name), amount, BEFORE)
    assert [(g.key, g.amount_cents) for g in guesses.guesses()] == [("name:mei", 300_000_000_000_00)]


def test_on_a_local_war_room_the_same_name_is_the_same_guess(tmp_path: Path) -> None:
    guesses = board(tmp_path)
    guesses.submit(Guesser.by_name("Li Wei"), "2000亿", BEFORE)
    guesses.submit(Guesser.by_name(" li  wei "), "2100亿", BEFORE + 1)
    assert len(guesses.guesses()) == 1


def test_guesses_survive_a_restart(tmp_path: Path) -> None:
    board(tmp_path).submit(Guesser.account("Mei"), "3000亿", BEFORE)
    again = GuessBoard(tmp_path, CLOSES)  # a new process on the same data dir
    assert [g.name for g in again.guesses()] == ["Mei"]


def test_closest_wins_and_the_earlier_guess_breaks_a_tie(tmp_path: Path) -> None:
    guesses = board(tmp_path)
    guesses.submit(Guesser.account("Late"), "110", BEFORE + 5)  # 10 over
    guesses.submit(Guesser.account("Early"), "90", BEFORE + 1)  # 10 under, earlier
    guesses.submit(Guesser.account("Far"), "150", BEFORE)
    order = ranked(guesses.guesses(), 100_00)
    assert [(r.rank, r.guess.name, r.distance_cents) for r in order] == [
        (1, "Early", 10_00), (2, "Late", 10_00), (3, "Far", 50_00)]


def test_the_board_ranks_against_the_forecast_by_day_and_the_final_after(tmp_path: Path) -> None:
    guesses = board(tmp_path)
    guesses.submit(Guesser.account("A"), "100", BEFORE)
    guesses.submit(Guesser.account("B"), "130", BEFORE + 1)
    during = Forecast(CLOSES + 3_600_000, 125_00, 100_00, 150_00, "level-vs-last-year", 50_00)
    table = standings(guesses.guesses(), CLOSES, during.to_json(), CLOSES + 3_600_000)
    assert table["against"] == "forecast" and table["winner"] is None and not table["open"]
    assert [(g["name"], g["distance"]) for g in table["guesses"]] == [("B", "5.00"), ("A", "25.00")]
    final = Forecast(CLOSES + 86_400_000, 101_00, 101_00, 101_00, "final", 101_00)
    table = standings(guesses.guesses(), CLOSES, final.to_json(), CLOSES + 86_400_000)
    assert table["against"] == "final" and table["winner"]["name"] == "A"
    assert table["winner"]["distance"] == "1.00"
    nothing_yet = standings(guesses.guesses(), CLOSES, None, None)
    assert nothing_yet["against"] is None and [g["rank"] for g in nothing_yet["guesses"]] == [None] * 2


def test_the_closing_time_setting() -> None:
    from datetime import date

    assert closing_ms("", "2026-11-11") == midnight_ms(date(2026, 11, 11)) == CLOSES
    assert closing_ms("2026-11-10T20:00", "2026-11-11") == CLOSES - 4 * 3_600_000
    assert closing_ms("2026-11-10T12:00:00+00:00", "2026-11-11") == CLOSES - 4 * 3_600_000
    with pytest.raises(ValueError, match="GMV_GUESSES_CLOSE_AT"):
        closing_ms("tonight", "2026-11-11")


def test_a_guess_written_by_another_process_shows_on_the_next_page_drawn(tmp_path: Path) -> None:
    """Each server process keeps the guesses it read until the board's files change: a page drawn
    a moment after a guess, by any process, shows it (they were kept a second: the English page
    opened right after a guess on the Chinese one said 'No guesses yet')."""
    from common.settings import load_settings
    from dashboard.data.live import DataSource

    settings = load_settings({}, data_dir=tmp_path, guesses_close_at="2026-11-11T00:00")
    source = DataSource.connect(settings)
    assert source.guesses() == ()
    other_process = GuessBoard(tmp_path, CLOSES)
    for n, name in enumerate(["Mei", "Bo", "Ana"], start=1):
        other_process.submit(Guesser.by_name(name, "local"), f"{n}亿", BEFORE + n)
        assert [g.name for g in source.guesses()] == ["Mei", "Bo", "Ana"][:n]


@pytest.mark.parametrize(("lang", "said"), [("zh", "预测给出后排名"),
                                            ("en", "ranked once the forecast is ready")])
def test_ops_says_guesses_are_ranked_later_before_a_forecast(lang: str, said: str) -> None:
    """Guesses in, no forecast yet: /ops says when they are ranked, not a dangling '6 guesses ·'."""
    midnight = midnight_ms(date(2026, 11, 11))
    guesses = tuple(Guess(f"name:{n}", n, 10_000_000_000 + i, midnight + i, n)
                    for i, n in enumerate(("ada", "mei")))
    rows = ops_outlook(None, None, guesses, midnight + 12 * 3_600_000, lang)
    line = next(row.children for row in rows if getattr(row, "id", None) == Ids.OPS_CLOSEST)
    assert line.endswith(said) and "2" in line, line
