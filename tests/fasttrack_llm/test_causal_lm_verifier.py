"""CausalLMVerifier on real tiny Llama models built offline (scripted answers and random garbage)."""

from __future__ import annotations

import hashlib

import pytest
import torch

from hf_datavalue.core.errors import ConfigError
from hf_datavalue.fasttrack.verifiers import build_verifier
from hf_datavalue.fasttrack.verifiers.causal_lm import CausalLMVerifier, _water_level
from hf_datavalue.fasttrack.verifiers.generative import TRUNCATION_MARK

from .tiny_lm import plain_prompt_last_token, random_lm, save, scripted_lm, tiny_tokenizer

FACT = "Paris is the capital of France."
PASSAGES = ["Paris is France's capital.", "Rome is in Italy.", "The capital of France is Paris."]


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def scripted(tok):
    return scripted_lm(tok, "[1, 3]")


def test_well_formed_answer_is_parsed_and_counted(tok, scripted):
    v = CausalLMVerifier(scripted, tok)
    assert v.uses_chat_template
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures, v.stats.truncated) == (1, 0, 0, 0)
    assert v.stats.completion_tokens == 7  # "[", "1", ",", " ", "3", "]", "</s>"
    encoded = v._encode(v.messages(FACT, PASSAGES))
    assert v.stats.prompt_tokens == len(encoded)
    assert v.stats.seconds > 0
    assert v.verify(FACT, []) == [] and v.stats.calls == 1  # an empty batch makes no call


def test_out_of_range_answer_is_retried_once_then_counted(tok, scripted):
    v = CausalLMVerifier(scripted, tok)
    # "[1, 3]" names passage 3 of a 2-passage batch: unreadable, not guessed.
    assert v.verify(FACT, PASSAGES[:2]) == [False, False]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures) == (2, 1, 1)
    assert v.stats.completion_tokens == 14


def test_random_model_garbage_counts_parse_failures(tok):
    v = CausalLMVerifier(random_lm(tok), tok, max_new_tokens=8)
    for _ in range(2):
        assert v.verify(FACT, PASSAGES) == [False, False, False]
    assert (v.stats.calls, v.stats.retries, v.stats.parse_failures) == (4, 2, 2)
    assert v.stats.completion_tokens == 4 * 8


def test_no_chat_template_uses_plain_prompt(tok):
    plain = tiny_tokenizer(chat_template=False)
    model = scripted_lm(plain, "[2]", also_after=(plain_prompt_last_token(plain),))
    v = CausalLMVerifier(model, plain)
    assert not v.uses_chat_template
    assert v.verify(FACT, PASSAGES) == [False, True, False]
    assert v.describe()["chat_template"] is None


def test_system_prompt_folded_when_template_rejects_it(tok, scripted):
    strict = tiny_tokenizer()
    strict.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('no system role') }}{% endif %}"
        "<|user|>{{ m['content'] }}</s>{% endfor %}<|assistant|>"
    )
    v = CausalLMVerifier(scripted, strict, system_prompt="Be strict.")
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    assert v._system_folded
    assert "Be strict." in strict.decode(v._encode(v.messages(FACT, PASSAGES)))


def test_passages_over_the_context_are_cut_and_counted(tok, scripted):
    long = "Paris " + "and the capital city of the French republic " * 30
    v = CausalLMVerifier(scripted, tok, max_context_tokens=320, max_new_tokens=16)
    fitted = v._fit_passages(FACT, [long, PASSAGES[1], PASSAGES[2]])
    assert fitted[1:] == PASSAGES[1:]  # short passages stay whole
    assert fitted[0].endswith(TRUNCATION_MARK) and len(fitted[0]) < len(long)
    assert v.stats.truncated == 1
    assert len(v._encode(v.messages(FACT, fitted, retry=True))) <= 320 - 16
    v.stats.truncated = 0
    assert v.verify(FACT, [long, PASSAGES[1], PASSAGES[2]]) == [True, False, True]
    assert v.stats.truncated == 1
    assert v.stats.prompt_tokens <= 320 - 16


def test_max_passage_tokens_cuts_every_long_passage(tok, scripted):
    v = CausalLMVerifier(scripted, tok, max_passage_tokens=5)
    fitted = v._fit_passages(FACT, PASSAGES)
    assert v.stats.truncated == sum(len(tok(p, add_special_tokens=False)["input_ids"]) > 5 for p in PASSAGES) > 0
    assert all(len(tok(f.removesuffix(TRUNCATION_MARK))["input_ids"]) <= 6 for f in fitted)


def test_batch_too_large_for_context_is_a_config_error(tok, scripted):
    v = CausalLMVerifier(scripted, tok, max_context_tokens=200, max_new_tokens=16)
    with pytest.raises(ConfigError, match="batch size"):
        v.verify(FACT, ["a fairly long passage about Paris and France " * 5] * 12)


def test_water_level():
    assert _water_level([5, 100, 100], 105) == 50
    assert _water_level([5, 10], 100) == 10
    assert sum(min(n, _water_level([3, 40, 7, 90], 60)) for n in [3, 40, 7, 90]) <= 60


def test_load_from_folder_and_spec(tok, scripted, tmp_path):
    path = save(scripted, tok, tmp_path / "scripted")
    v = build_verifier(f"causal-lm:{path}", device="auto", max_new_tokens=12)
    assert isinstance(v, CausalLMVerifier)
    assert v.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert v.verify(FACT, PASSAGES) == [True, False, True]
    desc = v.describe()
    config_hash = hashlib.sha256((path / "config.json").read_bytes()).hexdigest()[:16]
    assert desc["revision"] == f"sha256:{config_hash}"
    assert desc["model"] == str(path) and desc["decoding"] == "greedy" and desc["max_new_tokens"] == 12
    assert desc["prompt_version"].startswith("fasttrack-verify")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"max_passage_tokens": 0}, "max_passage_tokens"),
        ({"max_context_tokens": 40, "max_new_tokens": 64}, "no room"),
    ],
)
def test_bad_settings_are_config_errors(tok, scripted, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        CausalLMVerifier(scripted, tok, **kwargs)
