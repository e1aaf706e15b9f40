"""A tiny randomly initialised causal LM with a byte-level tokenizer and a ChatML template, built from a config.

For tests and smoke runs of the pipeline mechanics: no files, no downloads, a forward pass in milliseconds.
It is the same architecture family as SmolLM2 (Llama), so code that works on it works on the real model.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer():
    """A byte-level BPE tokenizer (256 bytes + 3 specials, no merges) with SmolLM2's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(SPECIALS)}
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(SPECIALS)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|im_end|>", pad_token="<|im_end|>", bos_token="<|im_start|>",
        unk_token="<|endoftext|>",
    )
    tok.chat_template = CHATML
    return tok


def tiny_model(seed: int = 0, hidden_size: int = 32, layers: int = 2, heads: int = 4):
    """(model, tokenizer): a Llama with ``hidden_size`` x ``layers``, fp32, random weights from ``seed``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=hidden_size * 2,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
        max_position_embeddings=1024, tie_word_embeddings=True,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.eval()
    return model, tok


def save_tiny_model(directory: str | Path, seed: int = 0, **kwargs) -> Path:
    """Write a tiny model + tokenizer as a transformers directory (for commands that take ``--model PATH``)."""
    directory = Path(directory)
    model, tok = tiny_model(seed=seed, **kwargs)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


def tiny_gemma3(seed: int = 0, hidden_size: int = 32, layers: int = 3, heads: int = 4, sliding_window: int = 4):
    """(model, tokenizer): a Gemma 3 text model with sliding-window layers (window ``sliding_window`` tokens)
    between full-attention ones, as Gemma 3 270M has: the architecture whose cache cannot be cropped."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    tok = tiny_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=hidden_size, intermediate_size=hidden_size * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=1, head_dim=hidden_size // heads,
        sliding_window=sliding_window, layer_types=["sliding_attention", "full_attention", "sliding_attention"][:layers]
        + ["sliding_attention"] * max(0, layers - 3), max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    model.eval()
    return model, tok
