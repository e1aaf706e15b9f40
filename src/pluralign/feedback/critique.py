"""SL-CAI: critique -> revision chains (Bai et al., 2022, section 3).

For each prompt the (helpful) model answers; then, for each round, a principle is drawn at random and the model
is asked, after few-shot examples, for a critique ("Critique Request: ..." / "Critique:") and a revision
("Revision Request: ..." / "Revision:") of its latest answer. Every round is kept: the paper fine-tunes on the
revisions of every step.

Work is batched across prompts and resumable: each finished batch of chains is appended to the output JSONL and
fsync'ed, and a restarted run skips the prompt ids already there (a line cut short by a kill is dropped).
The principle of round ``r`` for prompt ``id`` depends only on (seed, id, r), so a resumed run draws the same.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import Field

from pluralign.config import Config
from pluralign.errors import InputError
from pluralign.lm.base import LanguageModel
from pluralign.records import Constitution, Demonstration, Principle, Provenance, RevisionChain, RevisionRound

# A generated critique or revision ends where the model starts the next section or turn by itself.
_SECTION_END = re.compile(r"\n\s*(?:Critique Request|CritiqueRequest|Revision Request|RevisionRequest|Critique|"
                          r"Revision|Human|Assistant)\s*:|\n\n\n")


class ReviseConfig(Config):
    """How critique -> revision chains are sampled (short outputs keep a small model from looping)."""

    rounds: int = Field(1, ge=1, le=100, description="critique/revision rounds per prompt")
    max_new_tokens: int = Field(64, ge=1, le=2**16, description="tokens per response, critique and revision")
    repetition_penalty: float = Field(1.3, gt=0.0, le=100.0, description="> 1 discourages repeats")
    temperature: float = Field(0.7, ge=0.0, le=100.0, description="sampling temperature (0 = greedy)")
    batch_size: int = Field(8, ge=1, le=2**16, description="prompts per batch (one fsync per batch)")
    seed: int = Field(0, ge=0, lt=2**32, description="principles and sampling")


def principle_for(prompt_id: str, round_index: int, principles: Sequence[Principle], seed: int) -> Principle:
    """The principle of one round: random, but fixed by (seed, prompt id, round) so resumed runs agree."""
    return random.Random(f"{seed}:{prompt_id}:{round_index}").choice(list(principles))


def cut_section(text: str) -> str:
    """Keep a generated section up to where the model starts another section or turn."""
    return _SECTION_END.split(text, maxsplit=1)[0].strip()


def critique_context(fewshot: str, prompt: str, response: str) -> str:
    return f"{fewshot}\n\nHuman: {prompt.strip()}\n\nAssistant: {response}"


def critique_request(principle: Principle) -> str:
    return f"\n\nCritique Request: {principle.critique_request.strip()}\n\nCritique:"


def revision_request(principle: Principle) -> str:
    return f"\n\nRevision Request: {principle.revision_request.strip()}\n\nRevision:"


def revise_batch(lm: LanguageModel, rows: Sequence[dict], constitution: Constitution, fewshot: str,
                 config: ReviseConfig) -> list[RevisionChain]:
    """Chains for one batch of ``{"id", "prompt"}`` rows (prompt: text): one record per row, with its rounds
    (principle, critique, revision) and provenance (model, principles, seed, config, constitution)."""
    sampling = dict(temperature=config.temperature, max_new_tokens=config.max_new_tokens,
                    repetition_penalty=config.repetition_penalty, seed=config.seed)
    initial = [out[0].strip() for out in lm.generate([[{"role": "user", "content": r["prompt"]}] for r in rows],
                                                     **sampling)]
    contexts = [critique_context(fewshot, r["prompt"], resp) for r, resp in zip(rows, initial)]
    chains = [RevisionChain(id=str(r["id"]), prompt=r["prompt"], initial=resp, provenance=Provenance(
        rule="sl-cai/critique-revision", model=lm.name, details={"seed": config.seed, "config": config.to_dict(),
                                                                 "constitution": constitution.name}))
        for r, resp in zip(rows, initial)]
    for k in range(config.rounds):
        principles = [principle_for(r["id"], k, constitution.principles, config.seed) for r in rows]
        contexts = [c + critique_request(p) for c, p in zip(contexts, principles)]
        critiques = [cut_section(out[0]) for out in lm.generate(contexts, **sampling)]
        contexts = [c + f" {crit}" + revision_request(p) for c, crit, p in zip(contexts, critiques, principles)]
        revisions = [cut_section(out[0]) for out in lm.generate(contexts, **sampling)]
        contexts = [c + f" {rev}" for c, rev in zip(contexts, revisions)]
        for chain, p, crit, rev in zip(chains, principles, critiques, revisions):
            chain.rounds.append(RevisionRound(principle=p.id, critique=crit, revision=rev))
            chain.provenance.principles.append(p.id)
    return chains


CHAIN_START = b'{"id": '
"""How every chain line starts (``json.dumps`` of a chain, whose first key is "id")."""


def finished_ids(path: str | Path) -> set[str]:
    """Prompt ids already in a chain file. Only a torn record of our own is removed: a last line without its
    newline that starts like a chain and does not parse, as a kill mid-append leaves it. Any other line that
    is not a chain (another file named by mistake, a binary file) is refused and the file left unchanged."""
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder; give the chain file to write", path=str(path))
    if not path.exists():
        return set()
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror}", path=str(path)) from None
    *lines, tail = data.split(b"\n")  # tail: what follows the last newline (empty in a whole file)
    done = {_chain_id(raw, path, n) for n, raw in enumerate(lines, 1) if raw.strip()}
    if tail.strip():
        try:
            done.add(_chain_id(tail, path, len(lines) + 1))
        except InputError:
            if not tail.startswith(CHAIN_START):
                raise
            with open(path, "r+b") as fh:
                fh.truncate(len(data) - len(tail))
        else:  # a whole chain that lost only its newline: give it back, so the next append starts a line
            with open(path, "ab") as fh:
                fh.write(b"\n")
    return done


def _chain_id(raw: bytes, path: Path, line: int) -> str:
    from pluralign.io import not_utf8

    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise not_utf8(err, str(path), line) from None
    except json.JSONDecodeError:
        raise InputError("invalid JSON in a chain file", path=str(path), line=line) from None
    if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("rounds"), list):
        raise InputError("not a chain (a JSON object with 'id' and 'rounds'): is this the chain file?",
                         path=str(path), line=line)
    return str(row["id"])


def append_chains(path: str | Path, chains: Sequence[RevisionChain]) -> None:
    """Append finished chains and fsync, so a kill after this call never loses or half-writes them."""
    with open(path, "a", encoding="utf-8") as fh:
        for chain in chains:
            fh.write(json.dumps(chain.model_dump(mode="json"), ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def revise(lm: LanguageModel, rows: Sequence[dict], constitution: Constitution, fewshot_examples: Sequence[str],
           out: str | Path, config: ReviseConfig | None = None,
           progress: Callable[[int], None] | None = None) -> int:
    """Run SL-CAI over ``rows`` (``{"id", "prompt"}``, prompt as text), appending chains to ``out``.

    Prompt ids already in ``out`` are skipped. Returns the number of prompts processed by this call.
    Each chain's provenance records the model, the principles, the seed and the config.
    """
    config = config or ReviseConfig()
    ids = [str(r["id"]) for r in rows]
    if len(set(ids)) != len(ids):
        raise InputError("prompt ids must be unique (the chain file is resumed by id)")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    done = finished_ids(out)
    todo = [r for r in rows if str(r["id"]) not in done]
    if progress and len(rows) > len(todo):
        progress(len(rows) - len(todo))
    fewshot = "".join(fewshot_examples)
    for start in range(0, len(todo), config.batch_size):
        batch = todo[start : start + config.batch_size]
        append_chains(out, revise_batch(lm, batch, constitution, fewshot, config))
        if progress:
            progress(len(batch))
    return len(todo)


def read_chains(path: str | Path) -> list[RevisionChain]:
    from pluralign.io import read_records

    return read_records(path, RevisionChain)


def sft_records(chains: Sequence[RevisionChain], every_round: bool = False) -> list[Demonstration]:
    """Demonstrations (prompt, revision) from chains: the final revision, or every round's revision."""
    out = []
    for chain in chains:
        rounds = chain.rounds if every_round else chain.rounds[-1:]
        for k, rnd in enumerate(rounds):
            upto = chain.rounds[: (k + 1 if every_round else len(chain.rounds))]
            details = chain.provenance.details
            out.append(Demonstration(
                id=f"{chain.id}-r{len(upto)}", prompt=chain.prompt, completion=rnd.revision,
                author=f"ai:{chain.provenance.model}",
                provenance=Provenance(principles=[r.principle for r in upto], rule="sl-cai/critique-revision",
                                      model=chain.provenance.model, source=chain.id,
                                      details={"seed": details.get("seed"), "round": len(upto),
                                               "constitution": details.get("constitution")}),
            ))
    return out
