"""DITTO: the pair schedule (which comparisons at which step, in which shares), on paper and in a run on a tiny
model; resuming a SIGKILLed run without duplicating samples; the config guard; hostile demonstration files."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pluralign.errors import InputError
from pluralign.io import read_records, write_records
from pluralign.records import Demonstration, Preference
from pluralign.train.ditto.config import DittoConfig, build_config, check_resume
from pluralign.train.ditto.data import author_demonstrations, read_demonstrations
from pluralign.train.ditto.sampler import SampleStore
from pluralign.train.ditto.schedule import batch_counts, draw_batch, pools

SHARES = {"expert": 0.7, "replay": 0.2, "intermodel": 0.1}


def _samples(steps, demos, m):
    return {s: {d: [f"{d}@{s}#{j}" for j in range(m)] for d in demos} for s in steps}


def test_pools_by_step():
    demos = {"d1": "EXPERT1", "d2": "EXPERT2"}
    samples = _samples([0, 5, 10], demos, m=2)
    first = pools(demos, samples, 3)  # only step 0 sampled so far (step 5's samples are in the future)
    assert len(first["expert"]) == 4 and not first["replay"] and not first["intermodel"]
    later = pools(demos, samples, 7)
    assert {(p.rejected_step, p.chosen) for p in later["expert"]} == {(5, "EXPERT1"), (5, "EXPERT2")}
    assert {p.rejected_step for p in later["replay"]} == {0} and len(later["replay"]) == 4
    assert {(p.chosen_step, p.rejected_step) for p in later["intermodel"]} == {(5, 0)}
    assert len(later["intermodel"]) == 2 * 2 * 2  # per demo: M later x M earlier
    last = pools(demos, samples, 10)
    assert {(p.chosen_step, p.rejected_step) for p in last["intermodel"]} == {(5, 0), (10, 0), (10, 5)}
    assert all(p.chosen.startswith(p.demo_id) and p.rejected.startswith(p.demo_id) for p in last["intermodel"])


def test_batch_counts_and_draw_follow_the_shares():
    assert batch_counts(SHARES, 10) == {"expert": 7, "replay": 2, "intermodel": 1}
    assert batch_counts(SHARES, 8) == {"expert": 6, "replay": 1, "intermodel": 1}  # largest remainders
    assert sum(batch_counts({"expert": 1 / 3, "replay": 1 / 3, "intermodel": 1 / 3}, 7).values()) == 7
    demos = {f"d{i}": f"E{i}" for i in range(6)}
    samples = _samples([0, 5, 10], demos, m=4)
    batch = draw_batch(demos, samples, 12, SHARES, 20, seed=3)
    assert Counter(p.kind for p in batch) == {"expert": 14, "replay": 4, "intermodel": 2}
    assert len(set(batch)) == len(batch)
    assert batch == draw_batch(demos, samples, 12, SHARES, 20, seed=3)  # a resumed step draws the same
    assert batch != draw_batch(demos, samples, 13, SHARES, 20, seed=3)
    early = draw_batch(demos, samples, 2, SHARES, 20, seed=3)  # no earlier samples yet: the batch is smaller
    assert Counter(p.kind for p in early) == {"expert": 14}
    spin = draw_batch(demos, samples, 12, {"expert": 1.0}, 20, seed=3)
    assert {p.kind for p in spin} == {"expert"} and {p.rejected_step for p in spin} == {10}


def test_torn_sample_line_is_cut(tmp_path):
    store = SampleStore(tmp_path)
    store.append(0, {"a": ["x", "y"]})
    with open(store.path(0), "a") as fh:
        fh.write('{"demo_id": "b", "step": 0, "sam')  # killed mid-write
    assert store.read_step(0) == {"a": ["x", "y"]}
    store.append(0, {"b": ["z", "w"]})
    assert [json.loads(line)["demo_id"] for line in store.path(0).read_text().splitlines()] == ["a", "b"]


# ---- a real run on a tiny model -----------------------------------------------------------------------------

RUN = dict(sft_steps=2, steps=6, resample_every=2, samples=2, batch_size=10, max_new_tokens=6, save_every=2,
           demo_tokens=24, max_length=64, sample_batch=2, lr=1e-3)
WORDS = ["cats", "dogs", "tea", "rain"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    from pluralign.lm.tiny import save_tiny_model

    root = tmp_path_factory.mktemp("ditto")
    save_tiny_model(root / "tiny", seed=0)
    write_records(root / "demos.jsonl", [
        Demonstration(id=f"d{i}", prompt=f"Tell me about {w}.", completion=f"{w.title()}; quite so, my friend.",
                      author="ann") for i, w in enumerate(WORDS)])
    return root


def _cfg(root: Path, out: str, **kw) -> DittoConfig:
    return DittoConfig(model=str(root / "tiny"), demos=str(root / "demos.jsonl"), output_dir=str(root / out),
                       **{**RUN, **kw})


@pytest.fixture(scope="module")
def full_run(workdir):
    from pluralign.train.ditto.loop import train_ditto

    return train_ditto(_cfg(workdir, "full")), workdir / "full"


def test_run_trains_the_scheduled_pairs(full_run):
    result, run = full_run
    for step in (0, 2, 4):  # K = 2: samples at steps 0, 2, 4, M = 2 for each of the 4 demos
        rows = SampleStore(run / "samples").read_step(step)
        assert sorted(rows) == ["d0", "d1", "d2", "d3"] and all(len(s) == 2 for s in rows.values())
    assert not (run / "samples" / "step-000001.jsonl").exists()
    by_step = {s: read_records(run / "pairs" / f"step-{s:06d}.jsonl", Preference) for s in range(6)}
    for step, prefs in by_step.items():
        current = step - step % 2
        kinds = Counter(p.provenance.details["kind"] for p in prefs)
        for p in prefs:
            d = p.provenance.details
            assert d["step"] == step and d["author"] == "ann" and p.provenance.participants == ["ann"]
            assert p.provenance.rule == f"ditto/{d['kind']}"
            if d["kind"] == "expert":
                assert d["chosen_step"] is None and d["rejected_step"] == current
            elif d["kind"] == "replay":
                assert d["chosen_step"] is None and d["rejected_step"] < current
            else:
                assert d["rejected_step"] < d["chosen_step"] <= current
        # batch 10 x (0.7, 0.2, 0.1) = 7/2/1 once earlier samples exist; only the 7 expert pairs before
        assert kinds == ({"expert": 7} if step < 2 else {"expert": 7, "replay": 2, "intermodel": 1})
    assert result["pairs"] == {"expert": 42, "replay": 8, "intermodel": 4}
    assert len(read_records(run / "preferences.jsonl", Preference)) == 54
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [1, 2, 3, 4, 5, 6]
    assert math.isclose(metrics[0]["loss"], math.log(2), rel_tol=1e-4)  # policy = reference at the first step
    assert metrics[-1]["loss"] < metrics[0]["loss"]  # the demonstrations pull ahead of the samples
    assert (run / "model" / "config.json").is_file() and (run / "sft" / "model" / "config.json").is_file()


def test_micro_batches_give_the_whole_batch_update(full_run, workdir):
    """Passes of 1, 2 or all pairs make the same DPO update: the loss is a mean over pairs."""
    import torch

    from pluralign.train.ditto.policy import DittoPolicy, preference_row
    from pluralign.train.ditto.schedule import DittoPair

    _, run = full_run
    rows = [preference_row([{"role": "user", "content": f"Tell me about {w}."}],
                           DittoPair(f"d{i}", "expert", f"{w.title()}; quite so.", f"{w} {w} {w} no", None, 0, 0, 0))
            for i, w in enumerate(WORDS + ["snow"])]
    after = {}
    for micro in (1, 2, 5):
        torch.manual_seed(0)
        cfg = _cfg(workdir, f"micro{micro}", micro_batch_size=micro)
        policy = DittoPolicy(cfg, str(run / "sft" / "model"), workdir / f"micro{micro}", rows[:1])
        policy.step(rows)  # the first update moves only LoRA's B (it starts at zero): take a second one
        metrics = policy.step(rows)
        after[micro] = metrics, {n: p.detach().clone() for n, p in policy.model.named_parameters()
                                 if p.requires_grad}
    whole, params = after[5]
    for micro in (1, 2):
        metrics, other = after[micro]
        assert metrics["loss"] == pytest.approx(whole["loss"], rel=1e-5)
        assert metrics["num_tokens"] == pytest.approx(whole["num_tokens"])
        assert metrics["rewards/margins"] == pytest.approx(whole["rewards/margins"], rel=1e-4, abs=1e-7)
        assert all(torch.allclose(other[n], params[n], atol=1e-6) for n in params)


def test_cached_reference_log_probs_give_trls_update(full_run, workdir):
    """Reference log-probs from the cache (one forward per distinct sequence) give the update TRL makes when it
    runs the reference forward in every pass; the cache holds each distinct side once."""
    import torch

    from pluralign.train.ditto.policy import DittoPolicy, preference_row
    from pluralign.train.ditto.schedule import DittoPair

    _, run = full_run
    demo = lambda i, w: preference_row(  # noqa: E731
        [{"role": "user", "content": f"Tell me about {w}."}],
        DittoPair(f"d{i}", "expert", f"{w.title()}; quite so.", f"{w} {w} no", None, 0, 0, 0))
    rows = [demo(i, w) for i, w in enumerate(WORDS)] + [demo(0, WORDS[0])]  # one pair twice
    after = {}
    for cached in (True, False):
        torch.manual_seed(0)
        policy = DittoPolicy(_cfg(workdir, f"ref{cached}", micro_batch_size=2), str(run / "sft" / "model"),
                             workdir / f"ref{cached}", rows[:1])
        policy.trainer.precompute_ref_logps = cached  # False: TRL's own reference forward in each pass
        losses = [policy.step(rows)["loss"] for _ in range(3)]
        after[cached] = losses, {n: p.detach().clone() for n, p in policy.model.named_parameters()
                                 if p.requires_grad}, len(policy._ref_logps)
    (cached_losses, cached_params, entries), (trl_losses, trl_params, _) = after[True], after[False]
    assert cached_losses == pytest.approx(trl_losses, rel=1e-5)
    assert all(torch.allclose(cached_params[n], trl_params[n], atol=1e-6) for n in trl_params)
    assert entries == 8  # 4 distinct pairs x (chosen, rejected), over 3 steps of 5 pairs


KILLER = """
import os, signal, sys
from pluralign.train.ditto import sampler
from pluralign.train.ditto.config import DittoConfig
from pluralign.train.ditto.loop import train_ditto
calls, real = [0], sampler.SampleStore.append
def append(self, step, rows):
    real(self, step, rows)
    calls[0] += 1
    if calls[0] == 3:  # step 2's first batch of prompts is on disk, its second is not
        os.kill(os.getpid(), signal.SIGKILL)
sampler.SampleStore.append = append
train_ditto(DittoConfig.model_validate_json(sys.argv[1]))
"""


def test_sigkill_mid_sampling_resumes_without_duplicates(workdir, full_run):
    from pluralign.train.ditto.loop import train_ditto

    cfg = _cfg(workdir, "killed")
    proc = subprocess.run([sys.executable, "-c", KILLER, cfg.model_dump_json()], capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    run = Path(cfg.output_dir)
    assert len(SampleStore(run / "samples").read_step(2)) == 2 and not (run / "model").exists()
    result = train_ditto(cfg)
    assert result["resumed_from_step"] == 2
    _, full = full_run
    for step in (0, 2, 4):
        lines = (run / "samples" / f"step-{step:06d}.jsonl").read_text().splitlines()
        ids = [json.loads(line)["demo_id"] for line in lines]
        assert sorted(ids) == ["d0", "d1", "d2", "d3"]  # each demonstration once: nothing sampled twice
        # the resumed run continues from the same weights and seeds, so it draws what the uninterrupted one did
        assert SampleStore(run / "samples").read_step(step) == SampleStore(full / "samples").read_step(step)
    killed_pairs = [p.model_dump(exclude={"provenance"}) for p in read_records(run / "preferences.jsonl", Preference)]
    full_pairs = [p.model_dump(exclude={"provenance"}) for p in read_records(full / "preferences.jsonl", Preference)]
    assert killed_pairs == full_pairs


def test_resume_with_another_config_is_refused(tmp_path):
    cfg = build_config({"demos": str(tmp_path / "d.jsonl"), "output_dir": str(tmp_path / "run")})
    check_resume(cfg, tmp_path / "run")
    check_resume(cfg, tmp_path / "run")  # the same config resumes
    with pytest.raises(InputError, match=r"beta: 0\.05 -> 0\.2.*samples: 4 -> 8"):
        check_resume(cfg.model_copy(update={"beta": 0.2, "samples": 8}), tmp_path / "run")
    check_resume(cfg.model_copy(update={"micro_batch_size": 8}), tmp_path / "run")  # moves no result


@pytest.mark.parametrize("values, field, message", [
    ({"share_expert": 0.5}, None, "must be 1"),
    ({"beta": 0.0}, "beta", "greater than 0"),
    ({"samples": 0}, "samples", "greater than or equal to 1"),
    ({"update_ref": "maybe"}, "update_ref", "valid boolean"),
    ({"stepz": 3}, "stepz", "unknown key"),
])
def test_config_errors_name_the_key(values, field, message):
    with pytest.raises(InputError, match=message) as err:
        build_config({"demos": "d.jsonl", **values}, "run.toml")
    assert err.value.path == "run.toml" and err.value.field == field


# ---- hostile demonstration files ------------------------------------------------------------------------

@pytest.mark.parametrize("content, where", [
    (b"", "no demonstrations"),
    (b"\n  \n", "no demonstrations"),
    (b'{"prompt": "p", "completion": "caf\xe9"}\n', ":1: not UTF-8"),
    (b'{"prompt": "p", "completion": "ok"}\n{"prompt": NaN, "completion": "c"}\n',
     ":2: field 'prompt.str': Input should be a valid string"),
    (b'{"author": "1", "prompt": "p", "demonstration": Infinity}\n',
     ":1: field 'demonstration': Input should be a valid string"),
    (b'{"author": "1", "prompt": "p"}\n', "field 'completion': missing: give 'completion' (or 'demonstration'"),
    (b'{"author": "1", "prompt": "p", "demonstration": "   "}\n', "field 'demonstration': is empty"),
    (b'{"completion": "c"}\n', "field 'prompt': Field required"),
    (b'{"prompt": "", "completion": "c"}\n', "field 'prompt': is empty"),
    (b'{"author": 7, "prompt": "p", "demonstration": "d"}\n', "field 'author'"),
    (b'["prompt", "completion"]\n', "expected a JSON object"),
    (b'{"prompt": "p", "completion": "c"\n', "invalid JSON"),
])
def test_bad_demo_files(tmp_path, content, where):
    path = tmp_path / "demos.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=where.replace("(", r"\(")):
        read_demonstrations(path)


def test_cli_bad_file_writes_nothing(tmp_path):
    from pluralign.cli import main

    (tmp_path / "d.jsonl").write_bytes(b'{"author": "1", "prompt": "p", "demonstration": "\xff"}\n')
    with pytest.raises(SystemExit) as ex:
        main(["train", "ditto", "--demos", str(tmp_path / "d.jsonl"), "--out-dir", str(tmp_path / "run")])
    assert ex.value.code == 2 and not (tmp_path / "run").exists()


def test_authors_are_told_apart(tmp_path):
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps({"author": a, "prompt": f"p{i}", "demonstration": f"text {i}"}) + "\n"
                            for i, a in enumerate(["2", "10", "2"])))
    with pytest.raises(InputError, match=r"2 authors \(2, 10\); choose one with --author"):
        author_demonstrations(path, None)
    with pytest.raises(InputError, match="no demonstrations by author '3'"):
        author_demonstrations(path, "3")
    mine = author_demonstrations(path, "2")
    assert [d.id for d in mine] == ["bench:1", "bench:3"] and mine[0].provenance.participants == ["2"]


def test_reads_the_ditto_benchmark(shared_data):
    demos = read_demonstrations(shared_data / "ditto" / "cmcc_train.jsonl")
    authors = Counter(d.author for d in demos)
    assert len(authors) == 21 and min(authors.values()) >= 7
    assert all(d.completion.strip() and d.prompt.strip() for d in demos)


def test_config_file_and_flags(tmp_path):
    from pluralign.train.ditto.config import load_ditto_config

    (tmp_path / "run.toml").write_text('demos = "data/d.jsonl"\nbeta = 0.1\nsamples = 6\n')
    cfg = load_ditto_config(tmp_path / "run.toml", {"samples": 2, "seed": None})
    assert cfg.demos == str(tmp_path / "data" / "d.jsonl")  # relative to the file's folder
    assert (cfg.beta, cfg.samples, cfg.seed) == (0.1, 2, 0)  # flags override, None = not given
    (tmp_path / "bad.toml").write_text('demos = "d.jsonl"\nsampels = 6\n')
    with pytest.raises(InputError, match=r"bad\.toml: field 'sampels': unknown key"):
        load_ditto_config(tmp_path / "bad.toml", {})
