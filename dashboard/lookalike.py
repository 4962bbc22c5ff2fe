"""Names that look alike: "ada" and Cyrillic "аda" (U+0430), "ＡＤＡ", "Adá", "ada" with a Greek
alpha, "rnary" and "mary", "Il1" and "lll". A small skeleton in the spirit of Unicode's
confusables (UTS #39, whose skeleton maps `I`, `1` and `|` to `l` and `m` to `rn`): compatibility
forms folded (NFKC), a capital I (of any script) read as l before case folding (after it, it would
be an i, which its dot tells apart), case folded, accents dropped, the Cyrillic and Greek letters
that are drawn like Latin ones read as those, and m as rn; two names with one skeleton are one name
to a reader."""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek letters (after case folding) drawn like a Latin letter in common fonts.
_AS_LATIN = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "з": "3", "і": "i", "ї": "i", "ј": "j", "к": "k",
    "м": "m", "н": "h", "о": "o", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ь": "b", "ɑ": "a",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
    "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ω": "w", "μ": "u",
    "0": "o", "1": "l", "|": "l", "ı": "i",
})
# Capital letters drawn as a plain vertical stroke, like l (before case folding makes them i).
_STROKE_AS_L = str.maketrans({"I": "l", "Ι": "l", "І": "l", "Ӏ": "l", "Ɩ": "l", "ǀ": "l"})
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def skeleton(name: str) -> str:
    """What a reader sees of a name: equal skeletons are names no one can tell apart."""
    folded = unicodedata.normalize("NFKC", name).translate(_STROKE_AS_L).casefold()
    bare = "".join(c for c in unicodedata.normalize("NFD", folded)
                   if not unicodedata.combining(c) and unicodedata.category(c) != "Cf")
    return " ".join(bare.translate(_AS_LATIN).replace("m", "rn").split())


def mixed_scripts(name: str) -> str | None:
    """"Latin and Cyrillic" when a name mixes the letters of scripts that look alike (a Chinese
    name with Latin letters is fine), else None."""
    scripts = {unicodedata.name(c, "").split(" ")[0] for c in name if c.isalpha()}
    found = [s for s in _LOOKALIKE_SCRIPTS if s in scripts]
    return " and ".join(s.title() for s in found) if len(found) > 1 else None
