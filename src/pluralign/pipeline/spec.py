"""The pipeline file: a TOML document naming the run's stages, their inputs and settings, validated at load.

    [run]
    name = "my process"
    model = "default"          # any spec pluralign.lm.load_model takes; a stage may name its own
    seed = 0

    [stages.panel]             # the table's name is the stage's name; `uses` defaults to it
    n_participants = 50

    [stages.labels]
    uses = "ai_labels"
    model = "openai:http://gpu-box:8000/v1#Qwen2.5-7B-Instruct"   # this stage's model work on a vLLM server

Stages run in file order; each input slot is filled by the nearest earlier stage of the kind it needs, or by
``inputs = {slot = "stage name"}``. Every mistake is one line naming the file, the line and the key
(``pipeline.toml:12: field 'stages.train.steps': ...``). Relative paths are relative to the file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pluralign.errors import InputError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class RunSpec(Strict):
    name: str = Field("run", description="a name for the run, shown in the report")
    description: str = Field("", description="one paragraph shown at the top of the report")
    model: str = Field("default", description="model for every stage that needs one (default | PATH | "
                                              "openai:URL#name | llamacpp:GGUF)")
    seed: int = Field(0, ge=0, description="seed of every stage that does not set its own")


class Launcher(Strict):
    """How a training stage runs: in this process, or under ``accelerate launch`` (DDP/FSDP/DeepSpeed by
    ``args``, e.g. ``["--config_file", "fsdp.yaml"]``)."""

    kind: Literal["local", "accelerate"] = "local"
    num_processes: int = Field(2, ge=1, le=4096, description="processes for `accelerate launch`")
    args: list[str] = Field(default_factory=list, description="more `accelerate launch` arguments")


class Stage(Strict):
    uses: str
    inputs: dict[str, str] = Field(default_factory=dict, description="slot -> name of an earlier stage")
    model: str | None = Field(None, description="this stage's model (else run.model)")
    seed: int | None = Field(None, ge=0, description="this stage's seed (else run.seed)")


class PanelStage(Stage):
    """Who speaks: a simulated two-camp panel, record files (from ``pluralign elicit`` exports) or a Polis
    export, optionally raked to population margins."""

    uses: Literal["panel"] = "panel"
    source: Literal["simulate", "records", "polis"] = "simulate"
    n_participants: int = Field(50, ge=2, le=1_000_000)
    share_plain: float = Field(0.6, gt=0.0, lt=1.0, description="simulate: share of the 'plain' camp")
    seen: float = Field(0.9, gt=0.0, le=1.0, description="simulate: chance a participant sees a statement")
    participants: str | None = Field(None, description="records: Participant JSONL")
    statements: str | None = Field(None, description="records: Statement JSONL")
    votes: str | None = Field(None, description="records: Vote JSONL")
    export: str | None = Field(None, description="polis: a Polis CSV export or API directory")
    meta: list[str] = Field(default_factory=list, description="polis: meta statement ids (e.g. demographic "
                                                             "questions) kept out of the math")
    rake: dict[str, dict[str, float]] | None = Field(None, description="attribute -> category -> population share")


class OpinionStage(Stage):
    uses: Literal["opinion"] = "opinion"
    groups: int | None = Field(None, ge=1, le=20, description="force the number of opinion groups")
    init: Literal["polis", "best"] = "polis"


class ConstitutionStage(Stage):
    uses: Literal["constitution"] = "constitution"
    name: str = "people's constitution"
    top_k: int | None = Field(10, ge=1)
    min_consensus: float | None = Field(None, ge=0.0, le=1.0)
    min_group_agree: float | None = Field(0.5, ge=0.0, le=1.0)
    merge_threshold: float | None = Field(None, gt=0.0, le=1.0, description="embedding cosine that merges")


class ResponsesStage(Stage):
    """Candidate responses to rank: each prompt answered once under each style (a system prompt)."""

    uses: Literal["responses"] = "responses"
    prompts: list[str] | str = Field(description="prompt texts, or a JSONL file with a 'prompt' per line")
    styles: list[str] = Field(min_length=2, description="system prompts, one candidate each")
    max_new_tokens: int = Field(40, ge=1, le=4096)
    temperature: float = Field(0.8, ge=0.0, le=5.0)
    repetition_penalty: float = Field(1.2, gt=0.0, le=5.0)

    @field_validator("prompts")
    @classmethod
    def _some(cls, value):
        if isinstance(value, list) and not (value and all(p.strip() for p in value)):
            raise ValueError("give at least one non-empty prompt")
        return value


class RankingsStage(Stage):
    uses: Literal["rankings"] = "rankings"
    source: Literal["simulate", "records"] = "simulate"
    raters_per_prompt: int | None = Field(None, ge=1, description="simulate: default every participant")
    noise: float = Field(0.005, ge=0.0, le=100.0, description="simulate: sd of each rater's noise "
                                                                  "(taste units, 1 = 100 characters)")
    file: str | None = Field(None, description="records: Ranking JSONL")


class SocialChoiceStage(Stage):
    uses: Literal["social_choice"] = "social_choice"
    rule: str = "schulze"
    pairs: Literal["all", "best-worst"] = "best-worst"
    proportional: Literal["phragmen", "equal-shares"] = "phragmen"
    train_on: Literal["rule", "proportional"] = Field("proportional", description="whose winners become pairs")
    held_out: int = Field(0, ge=0, description="prompts kept out of training, for the held-out evaluation")

    @field_validator("rule")
    @classmethod
    def _rule(cls, value):
        from pluralign.aggregate.socialchoice import rule_name

        try:
            return rule_name(value)
        except InputError as err:
            raise ValueError(str(err)) from None


class AILabelsStage(Stage):
    uses: Literal["ai_labels"] = "ai_labels"
    principles: Literal["sample", "all"] = "sample"
    chat: bool = False
    low_precision: bool = False
    control: str = Field("builtin", description="control set with known answers: 'builtin' or an "
                                                "Anthropic-format comparison file")


class SLCAIStage(Stage):
    """SL-CAI: the model critiques and revises its own answers under the people's constitution; the final
    revisions become demonstrations for an ``sft`` training stage."""

    uses: Literal["sl_cai"] = "sl_cai"
    prompts: list[str] | str | None = Field(None, description="prompt texts or a JSONL file (default: the "
                                                              "responses stage's prompts)")
    rounds: int = Field(1, ge=1, le=10, description="critique/revision rounds per prompt")
    max_new_tokens: int = Field(64, ge=1, le=4096)
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    repetition_penalty: float = Field(1.3, gt=0.0, le=5.0)
    fewshot: bool = Field(True, description="prepend the package's critique/revision examples")


class TrainStage(Stage):
    uses: Literal["train"] = "train"
    method: Literal["sft", "dpo", "rm"] = Field("dpo", description="sft on an sl_cai stage's revisions; dpo or "
                                                                   "rm on the preferences")
    config: dict[str, Any] = Field(default_factory=dict, description="keys of the method's training config")
    launcher: Launcher = Field(default_factory=Launcher)


class EvaluateStage(Stage):
    """Did the model move toward what people chose (log-prob margins on held-out pairs), and whose values does it
    hold (the run's own statements asked of the model, before and after, vs each opinion group's votes)."""

    uses: Literal["evaluate"] = "evaluate"
    bootstrap: int = Field(2000, ge=100, le=100_000, description="resamples for the 95% intervals")
    panel: bool = Field(True, description="also ask the run's statements (pluralign.evaluate.panel)")
    rotations: Literal["all", "none"] = Field("all", description="panel: each option at every position, averaged")
    chat: bool = Field(True, description="panel: ask under the chat template")


KINDS: dict[str, type[Stage]] = {cls.model_fields["uses"].default: cls for cls in (
    PanelStage, OpinionStage, ConstitutionStage, ResponsesStage, RankingsStage, SocialChoiceStage, AILabelsStage,
    SLCAIStage, TrainStage, EvaluateStage)}
PATH_KEYS = ("participants", "statements", "votes", "export", "file", "prompts", "control")


class Pipeline(Strict):
    path: str
    run: RunSpec
    stages: dict[str, Stage]

    def stage_seed(self, name: str) -> int:
        stage = self.stages[name]
        return self.run.seed if stage.seed is None else stage.seed

    def stage_model(self, name: str) -> str:
        return self.stages[name].model or self.run.model


def _line_of(text: str, stage: str | None, key: str | None) -> int | None:
    """Best-effort line of ``key`` inside ``[stages.<stage>]`` (tomllib reports no positions)."""
    lines = text.splitlines()
    start = 0
    if stage is not None:
        header = re.compile(rf"^\s*\[\s*stages\s*\.\s*\"?{re.escape(stage)}\"?\s*[\].]")
        start = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if start is None:
            return None
        if key is None:
            return start + 1
    if key is not None:
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start, len(lines)):
            header_line = lines[i].lstrip().startswith("[") and not lines[i].lstrip().startswith("[[")
            if i > start and stage is not None and header_line:
                break
            if pattern.match(lines[i]):
                return i + 1
    return None


def _error(path: str, text: str, where: tuple, message: str) -> InputError:
    stage = where[1] if len(where) > 1 and where[0] == "stages" else None
    key = str(where[2]) if stage is not None and len(where) > 2 else (str(where[1]) if len(where) > 1 else None)
    return InputError(message, path=path, line=_line_of(text, stage, key), field=".".join(map(str, where)))


def _pydantic_error(err: ValidationError, prefix: tuple, path: str, text: str) -> InputError:
    first = err.errors()[0]
    msg = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return _error(path, text, prefix + tuple(first["loc"]), msg)


def parse(text: str, path: str = "<pipeline>", model: str | None = None, seed: int | None = None) -> Pipeline:
    """Validate a pipeline document; ``model``/``seed`` override ``[run]`` (the command line's flags)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"invalid TOML: {err}", path=path) from None
    unknown = sorted(set(data) - {"run", "stages"})
    if unknown:
        raise _error(path, text, (unknown[0],), "unknown table (a pipeline has [run] and [stages.NAME])")
    run = dict(data.get("run", {}))
    run.update({k: v for k, v in (("model", model), ("seed", seed)) if v is not None})
    try:
        run_spec = RunSpec.model_validate(run)
    except ValidationError as err:
        raise _pydantic_error(err, ("run",), path, text) from None
    tables = data.get("stages", {})
    if not isinstance(tables, dict) or not tables:
        raise InputError("no stages: add at least one [stages.NAME] table", path=path)
    base = Path(path).parent
    stages: dict[str, Stage] = {}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise _error(path, text, ("stages", name), "must be a table")
        uses = table.get("uses", name)
        if uses not in KINDS:
            raise _error(path, text, ("stages", name, "uses"),
                         f"unknown stage kind {uses!r}; one of {', '.join(KINDS)}")
        table = {**table, "uses": uses}
        for key in PATH_KEYS:
            value = table.get(key)
            if isinstance(value, str) and value != "builtin" and not Path(value).expanduser().is_absolute():
                table[key] = str(base / value)
        try:
            stage = KINDS[uses].model_validate(table)
        except ValidationError as err:
            raise _pydantic_error(err, ("stages", name), path, text) from None
        for slot, source in stage.inputs.items():
            if source not in stages:
                raise _error(path, text, ("stages", name, "inputs", slot),
                             f"{source!r} is not an earlier stage")
        stages[name] = stage
    _check_config_keys(stages, path, text)
    return Pipeline(path=path, run=run_spec, stages=stages)


def config_fields(cls) -> set[str]:
    """The keys a training method's config takes (a pydantic model or a dataclass), less those it does not use."""
    import dataclasses

    names = set(getattr(cls, "model_fields", None) or {f.name for f in dataclasses.fields(cls)})
    return names - set(getattr(cls, "unused", ()))


def _check_config_keys(stages: dict[str, Stage], path: str, text: str) -> None:
    """A training stage's ``config`` must be valid for its method's config (caught now, not at the last stage)."""
    from pluralign.pipeline.stages_lm import TRAIN_METHODS
    from pluralign.train.config import load_config

    for name, stage in stages.items():
        if not isinstance(stage, TrainStage):
            continue
        cls = TRAIN_METHODS[stage.method][0]
        known = config_fields(cls)
        for key in stage.config:
            if key not in known or key in ("model", "data", "output_dir"):
                raise _error(path, text, ("stages", name, "config", key),
                             f"not a key of the {stage.method} config (the pipeline sets model, data, "
                             f"output_dir)" if key in known else f"unknown key for method {stage.method!r}")
        try:
            load_config(None, cls, {**stage.config, "data": "data.jsonl"})
        except InputError as err:
            message = str(err).split(": ", 1)[-1].split("': ", 1)[-1]
            raise _error(path, text, ("stages", name, "config", err.field or ""), message) from None


def load(path: str | Path, model: str | None = None, seed: int | None = None) -> Pipeline:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise InputError(f"cannot read pipeline: {err.strerror}", path=str(path)) from None
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 (byte {err.start})", path=str(path)) from None
    return parse(text, str(path), model, seed)
