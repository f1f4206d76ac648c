"""Text matching is right for Chinese and English: case, width, script and word boundaries."""

import pytest

from policy_service.text import KeywordSet, RegexTest, normalize_text

from conftest import load_cases

CASES = load_cases("text_normalisation.yaml")


@pytest.mark.parametrize(
    "keyword, text, expected", CASES,
    ids=[f"{k!r} {'matches' if e else 'does not match'} {t!r}" for k, t, e in CASES],
)
def test_keyword_matching(keyword, text, expected):
    assert KeywordSet((keyword,), require_all=False).matches(normalize_text(text)) is expected


def test_contains_all_needs_every_keyword():
    keywords = KeywordSet(("退款", "refund"), require_all=True)
    assert keywords.matches(normalize_text("退款 please refund"))
    assert not keywords.matches(normalize_text("退款 only"))


def test_normalisation_folds_width_case_and_script():
    assert normalize_text("ＡＢＣ投訴") == "abc投诉"


def test_regex_runs_on_normalised_text_case_insensitively():
    assert RegexTest(r"order\s*#?\d{6}").matches(normalize_text("ORDER #１２３４５６ missing"))
    assert RegexTest(r"質量").matches(normalize_text("质量问题"))
    assert not RegexTest(r"^refund$").matches(normalize_text("no refund"))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from policy_service.text import keyword_pattern  # noqa: E402
import re  # noqa: E402

ALPHABET = "ab 投诉訴退款-_.ÉéＡ\n"


@settings(max_examples=300, deadline=None)
@given(keyword=st.text(alphabet=ALPHABET, min_size=1, max_size=4).filter(lambda k: normalize_text(k).strip()),
       text=st.text(alphabet=ALPHABET, max_size=30), prefix=st.booleans())
def test_fast_keyword_matching_agrees_with_the_full_pattern(keyword, text, prefix):
    keyword = keyword.strip() + ("*" if prefix else "")
    if not normalize_text(keyword.rstrip("*")).strip():
        return
    normalized = normalize_text(text)
    expected = re.search(keyword_pattern(keyword), normalized) is not None
    assert KeywordSet((keyword,), require_all=False).matches(normalized) is expected
