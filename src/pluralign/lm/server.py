"""``pluralign model serve``: an OpenAI-compatible HTTP server over any local model (the ``hf`` backend).

So a policy trained with pluralign (or the default model) can be shared with other tools and machines the way
vLLM or llama.cpp's server would be: ``/v1/models``, ``/v1/completions`` (with ``echo`` + ``logprobs`` giving
prompt log-probs in OpenAI's layout: entry *i* is the log-prob of token *i* given the tokens before it, ``None``
for the first), ``/v1/embeddings`` (the backend's ``embed``) and ``/v1/chat/completions``. Requests are validated; errors come back as HTTP 400/422 JSON.
"""

from __future__ import annotations

import threading
import time
import uuid

import torch
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from pluralign.lm.hf import HFBackend


class CompletionRequest(BaseModel):
    model: str | None = None
    prompt: str = Field(min_length=1)
    max_tokens: int = Field(default=16, ge=0, le=4096)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=64)
    seed: int | None = None
    echo: bool = False
    logprobs: int | None = Field(default=None, ge=0, le=20)


class ChatMessage(BaseModel):
    role: str
    content: str


class ChatRequest(BaseModel):
    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    max_tokens: int | None = Field(default=256, ge=1, le=4096)
    temperature: float = Field(default=1.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=64)
    seed: int | None = None


class EmbeddingRequest(BaseModel):
    model: str | None = None
    input: str | list[str] = Field(min_length=1, max_length=256)


def prompt_token_logprobs(lm: HFBackend, text: str) -> tuple[list[int], list[float | None]]:
    """Token ids of ``text`` and the log-prob of each given the ones before it (None for the first)."""
    ids = lm.tokenizer(text, add_special_tokens=True)["input_ids"]
    with torch.inference_mode():
        logits = lm.model(input_ids=torch.tensor([ids], device=lm.device)).logits[0].float()
    logp = torch.log_softmax(logits[:-1], dim=-1).gather(-1, torch.tensor(ids[1:], device=lm.device)[:, None])
    return ids, [None] + [float(x) for x in logp[:, 0]]


def create_app(lm: HFBackend, model_name: str | None = None) -> FastAPI:
    name = model_name or lm.name
    app = FastAPI(title=f"pluralign model server: {name}")
    lock = threading.Lock()  # one forward pass at a time: the model is not re-entrant

    def check_model(requested: str | None) -> None:
        if requested not in (None, "", "default", name):
            raise HTTPException(404, f"unknown model {requested!r}; this server serves {name!r}")

    @app.get("/v1/models")
    def models():
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "pluralign"}]}

    @app.post("/v1/completions")
    def completions(req: CompletionRequest):
        check_model(req.model)
        with lock:
            texts = [""] * req.n
            if req.max_tokens > 0:
                [texts] = lm.generate([req.prompt], n=req.n, temperature=req.temperature, top_p=req.top_p,
                                      max_new_tokens=req.max_tokens, seed=req.seed)
            choices = []
            for i, text in enumerate(texts):
                choice = {"index": i, "text": (req.prompt + text) if req.echo else text, "finish_reason": "length",
                          "logprobs": None}
                if req.echo and req.logprobs is not None:
                    ids, lps = prompt_token_logprobs(lm, req.prompt)
                    pieces = [lm.tokenizer.decode([t]) for t in ids]
                    offsets, pos = [], 0
                    for piece in pieces:
                        offsets.append(pos)
                        pos += len(piece)
                    choice["logprobs"] = {"tokens": pieces, "token_logprobs": lps, "text_offset": offsets,
                                          "top_logprobs": None}
                choices.append(choice)
        return {"id": f"cmpl-{uuid.uuid4().hex}", "object": "text_completion", "created": int(time.time()),
                "model": name, "choices": choices}

    @app.post("/v1/embeddings")
    def embeddings(req: EmbeddingRequest):
        check_model(req.model)
        texts = [req.input] if isinstance(req.input, str) else req.input
        with lock:
            vectors = lm.embed(texts)
        return {"object": "list", "model": name,
                "data": [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]}

    @app.post("/v1/chat/completions")
    def chat(req: ChatRequest):
        check_model(req.model)
        messages = [m.model_dump() for m in req.messages]
        with lock:
            try:
                [texts] = lm.generate([messages], n=req.n, temperature=req.temperature, top_p=req.top_p,
                                      max_new_tokens=req.max_tokens or 256, seed=req.seed)
            except ValueError as err:
                raise HTTPException(400, str(err)) from None
        return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": name,
                "choices": [{"index": i, "message": {"role": "assistant", "content": t}, "finish_reason": "stop"}
                            for i, t in enumerate(texts)]}

    return app
