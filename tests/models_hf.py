"""Tiny Hugging Face language models built from their configs (no download), for the tests."""

from __future__ import annotations

from typing import Any

import torch
import transformers


def _attn(attn: str | None) -> dict[str, Any]:
    return {} if attn is None else {"attn_implementation": attn}


def tiny_gpt2(n_layer: int = 2, vocab: int = 100, attn: str | None = None, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(
        n_layer=n_layer, n_embd=32, n_head=2, vocab_size=vocab, n_positions=32, **_attn(attn)
    )
    return transformers.GPT2LMHeadModel(cfg)


def tiny_llama(n_layer: int = 2, vocab: int = 100, attn: str | None = None, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=n_layer,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=vocab,
        **_attn(attn),
    )
    return transformers.LlamaForCausalLM(cfg)
