"""Text normalisation and matching for Chinese and English: NFKC, case folding, traditional → simplified."""

from __future__ import annotations

import functools
import re
import unicodedata

# Letters and digits of scripts that separate words with spaces; a keyword edge made of one of
# these must sit on a word boundary, while CJK keywords match anywhere inside a longer run.
_SPACED = r"0-9a-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff"
_SPACED_CHAR = re.compile(f"[{_SPACED}]")
_WHITESPACE = re.compile(r"\s+")
WILDCARD = "*"


@functools.lru_cache(maxsize=1)
def _converter():
    import opencc  # loaded on first use: building the converter reads its dictionaries

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified; other text is unchanged."""
    return _converter().convert(text) if text else text


def normalize_text(text: str) -> str:
    """Fold text for matching: full-width → half-width (NFKC), traditional → simplified, case-folded."""
    if len(text) <= 64:
        return _normalize_short(text)  # channels, tiers, currencies ... repeat in every request
    return _normalize(text)


def _normalize(text: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", text)).casefold()


_normalize_short = functools.lru_cache(maxsize=8192)(_normalize)


def keyword_pattern(keyword: str) -> str:
    """Return the regex source matching one keyword in normalised text.

    A trailing `*` makes a Latin keyword a prefix (`refund*` matches "refunded"); spaces inside a
    keyword match any run of whitespace.
    """
    prefix = keyword.strip().endswith(WILDCARD)
    body = normalize_text(keyword.strip().rstrip(WILDCARD)).strip()
    parts = [re.escape(piece) for piece in _WHITESPACE.split(body)]
    source = r"\s+".join(parts)
    if _SPACED_CHAR.match(body[:1]):
        source = f"(?<![{_SPACED}])" + source
    if not prefix and _SPACED_CHAR.match(body[-1:]):
        source += f"(?![{_SPACED}])"
    return source


def pattern_for_matching(pattern: str) -> re.Pattern:
    """Compile a policy regex to run on normalised text (case-insensitive; CJK literals simplified)."""
    return re.compile(to_simplified(pattern), re.IGNORECASE)


class KeywordSet:
    """Matches any or all of a keyword list against normalised text."""

    def __init__(self, keywords: tuple[str, ...], require_all: bool):
        self.require_all = require_all
        self._probes = []
        for keyword in keywords:
            body = normalize_text(keyword.strip().rstrip(WILDCARD)).strip()
            # A plain substring test rules most keywords out cheaply; the regex confirms word
            # boundaries and whitespace runs only where the substring is present.
            longest_piece = max(_WHITESPACE.split(body), key=len)
            simple = body == longest_piece and not _SPACED_CHAR.match(body[:1]) and not _SPACED_CHAR.match(body[-1:])
            self._probes.append((longest_piece, None if simple else re.compile(keyword_pattern(keyword))))

    def _hit(self, probe, normalized: str) -> bool:
        piece, pattern = probe
        return piece in normalized and (pattern is None or pattern.search(normalized) is not None)

    def matches(self, normalized: str) -> bool:
        """True when the normalised text holds any (or all) of the keywords."""
        if self.require_all:
            return all(self._hit(probe, normalized) for probe in self._probes)
        return any(self._hit(probe, normalized) for probe in self._probes)


class RegexTest:
    """Matches a policy regex against normalised text."""

    def __init__(self, pattern: str):
        self._pattern = pattern_for_matching(pattern)

    def matches(self, normalized: str) -> bool:
        """True when the pattern is found anywhere in the normalised text."""
        return self._pattern.search(normalized) is not None
