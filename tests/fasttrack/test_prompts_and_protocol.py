from __future__ import annotations

import pytest

from hf_datavalue.core.errors import ConfigError, EmptyDatasetError
from hf_datavalue.fasttrack.verifiers import VerifierStats, build_verifier, parse_answer, verification_prompt
from hf_datavalue.fasttrack.verifiers.prompts import parse_keywords


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("[1, 3]", 3, [True, False, True]),
        ("```json\n[2]\n```", 2, [False, True]),
        ('Sure. The answer is ["1"].', 2, [True, False]),
        ("[]", 2, [False, False]),
        ('{"supported": [2]}', 2, [False, True]),
        ('["yes", "no"]', 2, [True, False]),
        ("[true, false, true]", 3, [True, False, True]),
        ("none of them", 2, None),
        ("[4]", 3, None),  # out of range: unreadable, not guessed
        ("[1.5]", 2, None),
    ],
)
def test_parse_answer(text, n, expected):
    assert parse_answer(text, n) == expected


def test_prompt_numbers_passages_and_keywords_parse():
    prompt = verification_prompt("X was born in A .", ["X was born in A.", "X   died\nin B."])
    assert "[1] X was born in A." in prompt and "[2] X died in B." in prompt and "JSON array" in prompt
    assert parse_keywords('```json\n["Glasgow", "Steve Nunn", "Glasgow"]\n```') == ["Glasgow", "Steve Nunn"]
    assert parse_keywords("no idea") is None


def test_stats_arithmetic():
    a = VerifierStats(calls=2, prompt_tokens=10, seconds=1.0)
    b = a.copy()
    b.calls += 3
    b.truncated += 1
    d = b - a
    assert (d.calls, d.truncated, d.prompt_tokens) == (3, 1, 0)
    assert (a + d).calls == 5


def test_build_verifier_specs():
    v = build_verifier("oracle", truth={"s": ["p"]})
    assert v.verify("s", ["p", "q"]) == [True, False] and v.stats.calls == 1
    assert v.describe()["name"] == "oracle"
    for bad in ("", "bm25", "oracle:x", "cross-encoder:", "openai:http://x", "openai:#m"):
        with pytest.raises(ConfigError):
            build_verifier(bad)
    with pytest.raises(EmptyDatasetError, match="ground truth"):
        build_verifier("oracle")
