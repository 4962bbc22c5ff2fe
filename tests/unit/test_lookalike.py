"""Guess names that a reader cannot tell apart are one name (dashboard/lookalike.py): the
confusables of Unicode's UTS #39 that stay inside Latin letters (`rn` and `m`; `l`, a capital `I`,
`1` and `|`) as well as the other scripts' look-alikes; and names a reader does tell apart (a
dotted `i` and an `l`) stay two."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.guesses import GuessBoard, Guesser, GuessError
from dashboard.lookalike import skeleton

CLOSES = 1_794_326_400_000  # 2026-11-11 00:00 Beijing
BEFORE = CLOSES - 3_600_000


@pytest.mark.parametrize(("one", "other"), [
    ("mary", "rnary"), ("Tim", "Tirn"), ("lll", "Il1"), ("Ian", "lan"), ("ALI", "ALl"),
    ("bill", "biI1"), ("ΙAN", "lan"), ("ІAN", "lan"), ("ＩＡＮ", "lan"), ("ada", "аda"),
    ("poe", "рое"), ("Adá", "ada"), ("l|l", "lll"), ("m0m", "rnorn")])
def test_names_that_look_alike_have_one_skeleton(one: str, other: str) -> None:
    assert skeleton(one) == skeleton(other)


@pytest.mark.parametrize(("one", "other"), [
    ("ian", "lan"), ("mary", "many"), ("Li Wei", "Li Wen"), ("bin", "bln"), ("ada", "aba")])
def test_names_a_reader_tells_apart_keep_their_own(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


LOOKS_LIKE_L = st.sampled_from(["l", "I", "1", "|", "Ι", "І", "Ӏ"])
LOOKS_LIKE_M = st.sampled_from(["m", "rn"])
PLAIN = st.text(alphabet="abcdefghjkpqstuvwxyz ", max_size=6)


@given(st.lists(st.one_of(PLAIN, LOOKS_LIKE_L, LOOKS_LIKE_M), max_size=8), st.data())
def test_swapping_any_l_or_m_for_its_look_alike_keeps_the_skeleton(
        pieces: list[str], data: st.DataObject) -> None:
    swapped = [data.draw(LOOKS_LIKE_L) if p in {"l", "I", "1", "|", "Ι", "І", "Ӏ"}
               else data.draw(LOOKS_LIKE_M) if p in {"m", "rn"} else p for p in pieces]
    assert skeleton("".join(pieces)) == skeleton("".join(swapped))


@given(PLAIN, PLAIN)
def test_letters_without_look_alikes_keep_names_apart(one: str, other: str) -> None:
    if " ".join(one.split()) != " ".join(other.split()):
        assert skeleton(one) != skeleton(other)


def test_the_guess_board_refuses_a_typed_name_that_reads_as_anothers(tmp_path: Path) -> None:
    board = GuessBoard(tmp_path, CLOSES)
    board.submit(Guesser.by_name("mary"), "3000亿", BEFORE)
    board.submit(Guesser.by_name("Ian"), "3100亿", BEFORE)
    for lookalike, taken in (("rnary", "mary"), ("lan", "Ian"), ("IaN", None)):
        if taken is None:  # the same name in other capitals: the same guess, changed
            board.submit(Guesser.by_name(lookalike), "3200亿", BEFORE + 1)
            continue
        with pytest.raises(GuessError, match=f"already guesses as '{taken}'"):
            board.submit(Guesser.by_name(lookalike), "1亿", BEFORE + 1)
    board.submit(Guesser.by_name("ian smith"), "1亿", BEFORE + 2)  # a name of its own
    assert sorted((g.name, g.amount_cents) for g in board.guesses()) == [
        ("IaN", 320_000_000_000_00), ("ian smith", 100_000_000_00), ("mary", 300_000_000_000_00)]
