"""SFT on demonstrations: it learns on a tiny model, saves a loadable model (LoRA merged), reads TRL-format
files too, and bad input ends the CLI with exit code 2 and a one-line message."""

from __future__ import annotations

import json

import pytest

from pluralign.cli import main
from pluralign.io import write_records
from pluralign.lm.tiny import save_tiny_model
from pluralign.records import Demonstration
from pluralign.train.config import SFTConfig, load_config
from pluralign.train.data import load_demonstrations, load_prompts
from pluralign.train.sft import train_sft


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    save_tiny_model(root / "tiny", seed=3)
    fruits = ["apple", "pear", "plum", "fig", "lime", "kiwi", "date", "peach"]
    write_records(root / "demos.jsonl", [
        Demonstration(prompt=f"Spell {f}.", completion=" ".join(f.upper())) for f in fruits])
    return root


def test_sft_lowers_loss_and_saves_a_merged_model(demos):
    from transformers import AutoModelForCausalLM

    cfg = load_config(None, SFTConfig, {
        "model": str(demos / "tiny"), "data": str(demos / "demos.jsonl"), "lora": True, "lora_r": 8, "lr": 1e-2,
        "steps": 12, "batch_size": 4, "log_every": 2, "save_every": 12, "output_dir": str(demos / "run")})
    result = train_sft(cfg)
    losses = [json.loads(line)["loss"] for line in (demos / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 6 and losses[-1] < losses[0] - 0.15
    assert result["final_loss"] == pytest.approx(losses[-1])
    model_dir = demos / "run" / "model"
    assert not (model_dir / "adapter_config.json").exists()  # adapters merged: a plain model directory
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(demos / "tiny")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in base.parameters())
    saved = (demos / "run" / "config.toml").read_text()
    assert "steps = 12" in saved and "lora = true" in saved


def test_trl_message_files_pass_through(tmp_path):
    path = tmp_path / "chat.jsonl"
    row = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    path.write_text(json.dumps(row) + "\n")
    assert load_demonstrations(path).to_list() == [row]


def test_prompts_from_records_and_trl_rows(demos, tmp_path):
    assert load_prompts(demos / "demos.jsonl")[:2] == ["Spell apple.", "Spell pear."]
    path = tmp_path / "prompts.jsonl"
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": "hi"}], "source": "x"}) + "\n")
    assert load_prompts(path) == [[{"role": "user", "content": "hi"}]]


def test_cli_bad_input_exits_2_with_one_line(demos, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q"}) + "\n")
    with pytest.raises(SystemExit) as ended:
        main(["train", "sft", "--model", str(demos / "tiny"), "--data", str(bad), "--out-dir", str(tmp_path / "out")])
    assert ended.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: expected demonstration columns") and "\n" not in err
    assert not (tmp_path / "out" / "model").exists()
