"""Tiny real causal LMs built offline: a byte-level BPE tokenizer trained here, a chat template, and either
random Llama weights (answers garbage) or *scripted* weights that always answer a chosen string.

The scripted model is a real `LlamaForCausalLM` whose attention and MLP outputs are zero, so the residual stream
at each position is the embedding of the current token: the model is a bigram table. The embeddings are one-hot
and `lm_head` maps each token of the chain `<|assistant|> -> c1 -> c2 -> ... -> </s>` to its successor, so greedy
(and even sampled) decoding after the chat template's generation prompt emits exactly the scripted answer.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

ASSISTANT = "<|assistant|>"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)
SPECIALS = ["<unk>", "<s>", "</s>", "<pad>", "<|system|>", "<|user|>", ASSISTANT]
CORPUS = [
    "Fact: Paris is the capital of France. Passages: 1. Paris is France's capital. 2. Rome is in Italy.",
    "Return a JSON array of the numbers of passages that explicitly state this fact, for example [1, 3].",
    "Steve Nunn was born in Kansas City. The quick brown fox jumps over the lazy dog.",
]


def tiny_tokenizer(chat_template: bool = True) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (every string encodes) trained on a few sentences, offline."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )
    fast.add_special_tokens({"additional_special_tokens": SPECIALS[4:]})
    if chat_template:
        fast.chat_template = CHAT_TEMPLATE
    return fast


def _config(tokenizer: PreTrainedTokenizerFast, hidden: int, layers: int, context: int) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )


def random_lm(tokenizer: PreTrainedTokenizerFast, context: int = 2048, seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer Llama with random weights: its answers are garbage."""
    torch.manual_seed(seed)
    return LlamaForCausalLM(_config(tokenizer, 32, 2, context)).eval()


def scripted_lm(
    tokenizer: PreTrainedTokenizerFast, answer: str, context: int = 2048, also_after: tuple[int, ...] = ()
) -> LlamaForCausalLM:
    """A real Llama whose greedy answer after the chat generation prompt is exactly `answer`.

    `also_after`: further token ids after which the answer starts too (e.g. the last token of a plain prompt).
    """
    chain = [tokenizer.convert_tokens_to_ids(ASSISTANT)]
    for char in answer:
        ids = tokenizer(char, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1, f"{char!r} is not one token"
        chain.append(ids[0])
    chain.append(tokenizer.eos_token_id)
    assert len(set(chain)) == len(chain), f"the answer {answer!r} repeats a character: not a bigram chain"
    vocab = len(tokenizer)
    model = LlamaForCausalLM(_config(tokenizer, vocab, 1, context))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.model.norm.weight.fill_(1.0)
        for layer in model.model.layers:
            layer.input_layernorm.weight.fill_(1.0)
            layer.post_attention_layernorm.weight.fill_(1.0)
        model.model.embed_tokens.weight.copy_(torch.eye(vocab))
        for cur, nxt in zip(chain[:-1], chain[1:]):
            model.lm_head.weight[nxt, cur] = 10.0
        for start in also_after:
            assert start not in chain, "a start token may not be part of the answer chain"
            model.lm_head.weight[chain[1], start] = 10.0
    return model.eval()


def plain_prompt_last_token(tokenizer: PreTrainedTokenizerFast) -> int:
    """The last token of a plain-text (no chat template) verification prompt: it always ends in "Answer:"."""
    from hf_datavalue.fasttrack.verifiers.generative import GenerativeVerifier

    text = GenerativeVerifier.plain_prompt([{"role": "user", "content": "x"}])
    return int(tokenizer(text, add_special_tokens=False)["input_ids"][-1])


def save(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, path: Path) -> Path:
    model.generation_config.do_sample = False
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
