"""The DITTO policy around TRL's ``DPOTrainer``: LoRA on the SFT model, a frozen reference adapter, one DPO
update on a given list of comparisons, and checkpoints of the adapters and the optimizer.

TRL's trainer is used for what it does well -- tokenizing preference rows with the chat template, padding them,
and the DPO loss with its reward metrics -- while the loop that decides which pairs each step sees is ours
(:mod:`pluralign.train.ditto.loop`), because those pairs depend on samples drawn during training. Given a
``PeftModel`` without a reference model, TRL adds a ``ref`` adapter copied from the trained ``default`` one and
computes the reference log-probs through it, exactly the reference implementation's design (its ``sft`` adapter
as reference, ``ditto`` adapter trained; ``scripts/run_ditto.py`` lines 380-389). The ``update_ref`` ablation
copies ``default`` into ``ref`` again.

The reference log-probs are cached per tokenized (prompt, completion) and handed to TRL's loss as its
``ref_chosen_logps`` / ``ref_rejected_logps`` columns. TRL's own ``precompute_ref_log_probs`` needs the whole
dataset up front, which DITTO does not have (its pairs come from samples drawn during training), but the same
sequences recur: every expert and replay pair's chosen side is one of a few demonstrations, and each sample is
a rejected side at several steps. So each distinct sequence has one reference forward per run (per reference,
under ``update_ref``), not one per pair per step.
"""

from __future__ import annotations

import re
from pathlib import Path

from pluralign.io import atomic_path
from pluralign.train.config import RunConfig
from pluralign.train.ditto.config import DittoConfig
from pluralign.train.ditto.schedule import DittoPair

_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)\.pt$")


def run_config(cfg: DittoConfig, model: str, output_dir: Path) -> RunConfig:
    """The project's shared run settings (model loading, LoRA, trainer arguments) for one phase of DITTO."""
    return RunConfig(model=model, data=cfg.demos, output_dir=str(output_dir), lora=True, lora_r=cfg.lora_r,
                     lora_alpha=cfg.lora_alpha, seed=cfg.seed, max_length=cfg.max_length,
                     bf16_autocast=cfg.bf16_autocast)


def preference_row(prompt, pair: DittoPair) -> dict:
    """One TRL conversational preference row."""
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": pair.chosen}],
            "rejected": [{"role": "assistant", "content": pair.rejected}]}


class DittoPolicy:
    """A LoRA policy on ``start_model`` (the SFT model), its frozen reference adapter, the optimizer and the
    constant-with-warm-up schedule of the reference implementation (``ditto_lr_scheduler_type``)."""

    def __init__(self, cfg: DittoConfig, start_model: str, run_dir: Path, example_rows: list[dict]):
        import torch
        from datasets import Dataset
        from peft import get_peft_model
        from transformers import get_constant_schedule_with_warmup
        from trl import DPOConfig, DPOTrainer

        from pluralign.train.checkpoint import load_model, load_tokenizer, lora_config, trainer_arguments

        rc = run_config(cfg, start_model, run_dir / "dpo")
        self.tokenizer = load_tokenizer(rc)
        model = get_peft_model(load_model(rc), lora_config(rc))
        arguments = {**trainer_arguments(rc, has_eval=False), "save_strategy": "no", "max_steps": cfg.steps,
                     "per_device_train_batch_size": cfg.batch_size}
        args = DPOConfig(**arguments, beta=cfg.beta, loss_type=["sigmoid"], precompute_ref_log_probs=False)
        self.trainer = DPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(example_rows),
                                  processing_class=self.tokenizer)
        self.model = self.trainer.model
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.micro_batch_size = cfg.micro_batch_size
        self.trainer.precompute_ref_logps = True  # the loss reads the cached columns (see the module docstring)
        self._ref_logps: dict[tuple, float] = {}
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, weight_decay=0.0)
        self.scheduler = get_constant_schedule_with_warmup(self.optimizer, round(cfg.warmup_ratio * cfg.steps))

    def update_reference(self) -> None:
        """pi_ref <- the current policy (copy the trained adapter into the reference adapter)."""
        import torch

        with torch.no_grad():
            for name, param in self.model.named_parameters():
                if ".default." in name:
                    self.model.get_parameter(name.replace(".default.", ".ref.")).copy_(param)
        self._ref_logps.clear()

    def _with_reference(self, examples: list[dict]) -> list[dict]:
        """``examples`` (tokenized preference rows) with their reference log-probs, computing the missing ones in
        passes of ``micro_batch_size`` rows through the ``ref`` adapter (TRL's ``compute_ref_log_probs``)."""
        import torch

        cache, trainer = self._ref_logps, self.trainer
        keys = [tuple((tuple(e["prompt_ids"]), tuple(e[side])) for side in ("chosen_ids", "rejected_ids"))
                for e in examples]
        missing = [i for i, (c, r) in enumerate(keys) if c not in cache or r not in cache]
        with torch.no_grad():
            for start in range(0, len(missing), self.micro_batch_size):
                chunk = missing[start:start + self.micro_batch_size]
                chosen, rejected = trainer.compute_ref_log_probs(
                    self.model, trainer.data_collator([examples[i] for i in chunk]))
                for i, c, r in zip(chunk, chosen.tolist(), rejected.tolist()):
                    cache[keys[i][0]], cache[keys[i][1]] = c, r
        return [{**e, "ref_chosen_logps": cache[c], "ref_rejected_logps": cache[r]}
                for e, (c, r) in zip(examples, keys)]

    def step(self, rows: list[dict]) -> dict[str, float]:
        """One DPO update on ``rows`` (TRL preference rows); returns the loss and TRL's reward metrics."""
        import torch
        from datasets import Dataset
        from datasets.utils.logging import disable_progress_bar, enable_progress_bar, is_progress_bar_enabled

        trainer, bars = self.trainer, is_progress_bar_enabled()
        disable_progress_bar()  # one tokenizing bar per step would bury the run's own
        try:
            data = trainer._prepare_dataset(Dataset.from_list(rows), self.tokenizer, trainer.args, "step")
        finally:
            if bars:
                enable_progress_bar()
        # The loss is a mean over pairs, so passes of k pairs weighted k / n give the whole batch's gradient;
        # a pass holds (2 x its pairs) x length x vocabulary logits, several GB at 8 pairs of 256 tokens.
        self.model.train()
        examples = self._with_reference([data[i] for i in range(len(data))])
        size, total, sums = self.micro_batch_size, 0.0, {}
        for start in range(0, len(examples), size):
            chunk = examples[start:start + size]
            share = len(chunk) / len(examples)
            batch = trainer.data_collator(chunk)
            with trainer.compute_loss_context_manager():
                loss = trainer.compute_loss(self.model, batch) * share
            loss.backward()
            total += float(loss.detach())
            for k, v in trainer._metrics["train"].items():  # each pass's means; num_tokens is TRL's running total
                if v:
                    sums[k] = v[-1] if k == "num_tokens" else sums.get(k, 0.0) + sum(v) / len(v) * share
            trainer._metrics["train"].clear()
        torch.nn.utils.clip_grad_norm_(self.params, trainer.args.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"loss": total, "lr": self.scheduler.get_last_lr()[0], **sums}

    def sampler(self):
        """The policy behind the model protocol, generating with the live (training) weights."""
        from pluralign.lm.hf import HFBackend

        self.model.eval()
        return HFBackend(model_obj=self.model, tokenizer=self.tokenizer, name="ditto-policy")

    # ---- checkpoints -------------------------------------------------------------------------------------
    def save(self, run_dir: Path, step: int, keep: int = 2) -> None:
        """``checkpoint-<step>.pt``: both adapters, optimizer and schedule (written whole, then renamed)."""
        import torch

        state = {"step": step, "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "lora": {n: p.detach().clone() for n, p in self.model.named_parameters() if "lora_" in n}}
        with atomic_path(run_dir / f"checkpoint-{step}.pt") as tmp:
            torch.save(state, tmp)
        for old in checkpoints(run_dir)[:-keep]:
            old.unlink(missing_ok=True)

    def load(self, path: Path) -> int:
        """Restore a checkpoint; returns its step."""
        import torch

        state = torch.load(path, weights_only=True)
        named = dict(self.model.named_parameters())
        with torch.no_grad():
            for name, value in state["lora"].items():
                named[name].copy_(value)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        return int(state["step"])

    def save_model(self, directory: Path) -> None:
        """The policy with its adapter merged (usable as ``--model``); the reference adapter is left out."""
        model = self.model
        model.delete_adapter("ref")
        merged = model.merge_and_unload()
        merged.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)


def checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoint files of a run, oldest first (each is complete: they are renamed into place)."""
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := _CHECKPOINT_RE.match(p.name))]
    return [p for _, p in sorted(found)]
