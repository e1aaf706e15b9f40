"""PPO with a KL leash to a frozen reference, in one readable file (TRL removed its PPOTrainer in 1.13).

The objective of seed 002 / Ziegler et al. (2019) / Stiennon et al. (2020): maximise ``r(x, y) - beta * KL``
for responses ``y ~ pi(.|x)``. One step of :func:`train_ppo`:

1. **rollout** -- sample ``rollout_size`` prompts, generate responses with the policy (temperature
   ``temperature``, no top-k/top-p, so the sampled distribution is the one being optimised);
2. **score** -- the scorer gives one reward per response; the per-token KL estimate
   ``k_t = log pi(y_t) - log pi_ref(y_t)`` gives per-token rewards ``r_t = -beta * k_t``, plus the score on the
   response's last token;
3. **advantages** -- GAE over the response tokens with the value head's estimates
   (``delta_t = r_t + gamma V_{t+1} - V_t``, ``A_t = sum_l (gamma lam)^l delta_{t+l}``), whitened per batch;
4. **update** -- ``ppo_epochs`` passes over minibatches of ``batch_size`` responses minimising the clipped
   policy loss ``max(-A rho, -A clip(rho, 1-eps, 1+eps))`` plus ``vf_coef`` x the clipped value loss;
5. **KL controller** -- fixed beta, or the adaptive controller of Ziegler et al.:
   ``beta <- beta (1 + clip(KL / kl_target - 1, -0.2, 0.2) * n / kl_horizon)``.

The value head is a linear layer on the policy's last hidden state (shared trunk). With LoRA the reference is the
same network with the adapter disabled (no second copy); without LoRA it is a frozen copy. Weights stay fp32;
``bf16_autocast`` runs the matmuls in bf16. Every step is logged through
:class:`~pluralign.train.monitors.MetricsLogger`; a rerun of the same command resumes from the last checkpoint.
torch and transformers are imported inside functions so that loading the config (the CLI) stays fast.
"""

from __future__ import annotations

import contextlib
import copy
import random
import time
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import Field, model_validator

from pluralign.config import FieldError
from pluralign.errors import InputError
from pluralign.train.config import PATH, LogEvery, Lr, OutputDir, RunConfig, SaveEvery


class RLConfig(RunConfig):
    """What every RL run shares (ours and TRL's): a reward to maximise under a KL leash, and sampling.

    No held-out data: the run is judged by its reward, KL and the gold scorer on its own samples.
    """

    unused: ClassVar[frozenset[str]] = frozenset({"eval_data", "eval_split"})

    reward: str = Field(min_length=1, description="scorer to maximise: a reward model directory, count:CHARS or "
                        "module:function", json_schema_extra=PATH)
    gold: str | None = Field(None, min_length=1, description="scorer only monitored, never optimised (same forms "
                             "as reward)", json_schema_extra=PATH)
    lr: Lr = 1e-4
    steps: Annotated[int, Field(ge=1, le=10**9, description="RL iterations (PPO: rollout + update)")] = 30
    beta: float = Field(0.05, ge=0.0, le=1e6, description="(initial) KL coefficient")
    max_new_tokens: int = Field(32, ge=1, le=2**16, description="tokens sampled per response")
    temperature: float = Field(1.0, gt=0.0, le=100.0, description="sampling temperature")
    cliprange: float = Field(0.2, gt=0.0, le=1e6, description="clip of the policy ratio (PPO's epsilon)")
    log_every: LogEvery = 1  # RL steps are slow and the monitors need each one


class PPOConfig(RLConfig):
    """PPO with a KL penalty. ``steps`` counts rollout+update iterations; ``batch_size`` is the minibatch."""

    # PPO logs every step, has no scheduler and no gradient accumulation; steps only says where to stop.
    unused: ClassVar[frozenset[str]] = RLConfig.unused | {"grad_accum", "warmup_steps", "log_every"}
    resumable: ClassVar[frozenset[str]] = frozenset({"steps", "save_every"})

    output_dir: OutputDir = "runs/ppo"
    batch_size: int = Field(4, ge=1, le=2**16, description="responses per PPO minibatch (<= rollout_size)")
    rollout_size: int = Field(8, ge=1, le=2**16, description="prompts sampled per step")
    ppo_epochs: int = Field(4, ge=1, le=1000, description="passes over each rollout")
    adaptive_kl: bool = Field(True, description="Ziegler et al.'s controller moves beta towards kl_target "
                              "(else beta is fixed)", json_schema_extra={"flags": ["--adaptive-kl/--fixed-kl"]})
    kl_target: float = Field(6.0, gt=0.0, le=1e6, description="KL target of the adaptive controller, nats per "
                                                              "response")
    kl_horizon: int = Field(10000, ge=1, le=10**9, description="horizon of the adaptive controller, in samples")
    gamma: float = Field(1.0, ge=0.0, le=1.0, description="GAE discount")
    lam: float = Field(0.95, ge=0.0, le=1.0, description="GAE lambda")
    cliprange_value: float = Field(0.2, gt=0.0, le=1e6, description="clip of the value change")
    vf_coef: float = Field(0.1, ge=0.0, le=1e6, description="value loss weight")
    max_grad_norm: float = Field(1.0, gt=0.0, le=1e6, description="gradient norm clip")
    length_explosion: float = Field(2.0, gt=1.0, le=1e6, description="monitor: warn when responses grow this many "
                                                                     "times their first length")
    monitor_window: int = Field(10, ge=3, le=10**6, description="monitor: steps per trend window")
    save_every: SaveEvery = 10
    max_length: int = Field(256, ge=8, le=2**20, description="prompt tokens kept (the last ones)")

    @model_validator(mode="after")
    def _minibatch(self):
        if self.batch_size > self.rollout_size:
            raise FieldError("batch_size", f"must be <= rollout_size ({self.rollout_size}), got {self.batch_size}")
        return self


# ---- the KL controllers ------------------------------------------------------------------------------------
class AdaptiveKLController:
    """Ziegler et al. (2019): move beta so that the measured KL tracks ``target`` (proportional control)."""

    def __init__(self, beta: float, target: float, horizon: int):
        self.value, self.target, self.horizon = beta, target, horizon

    def update(self, kl: float, n_samples: int) -> None:
        error = min(max(kl / self.target - 1.0, -0.2), 0.2)
        self.value *= 1.0 + error * n_samples / self.horizon


class FixedKLController:
    def __init__(self, beta: float):
        self.value = beta

    def update(self, kl: float, n_samples: int) -> None:
        pass


# ---- the math: pure functions on [batch, response tokens] tensors ------------------------------------------
def response_mask(response_ids, eos_id: int):
    """[B, T] 1.0 for tokens up to and including the first EOS (stopping is an action too), 0.0 after."""
    is_eos = (response_ids == eos_id).int()
    after_eos = (is_eos.cumsum(1) - is_eos) > 0
    return (~after_eos).float()


def per_token_rewards(scores, logprobs, ref_logprobs, mask, beta: float):
    """(rewards, kl), both [B, T]: ``-beta * kl_t`` on every token plus the score on each last real token."""
    kl = (logprobs - ref_logprobs) * mask
    rewards = -beta * kl
    last = mask.sum(1).long() - 1
    rewards[range(len(scores)), last] += scores
    return rewards, kl


def gae(rewards, values, mask, gamma: float, lam: float):
    """Generalised advantage estimation. Returns (advantages, returns), [B, T]; zero past each response."""
    import torch

    rewards, values = rewards * mask, values * mask
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else torch.zeros_like(running)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * running
        advantages[:, t] = running
    advantages = advantages * mask
    return advantages, advantages + values


def masked_mean(x, mask):
    return (x * mask).sum() / mask.sum().clamp(min=1)


def whiten(x, mask, eps: float = 1e-8):
    """(x - mean) / std over the real tokens; padding stays zero."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    return (x - mean) * (var + eps).rsqrt() * mask


def ppo_losses(logprobs, old_logprobs, advantages, values, old_values, returns, mask, cliprange, cliprange_value):
    """(policy_loss, value_loss, stats): PPO's clipped surrogate and clipped value loss, token-averaged."""
    import torch

    ratio = (logprobs - old_logprobs).exp()
    surrogate = torch.max(-advantages * ratio, -advantages * ratio.clamp(1 - cliprange, 1 + cliprange))
    policy_loss = masked_mean(surrogate, mask)
    values_clipped = old_values + (values - old_values).clamp(-cliprange_value, cliprange_value)
    value_loss = 0.5 * masked_mean(torch.max((values - returns) ** 2, (values_clipped - returns) ** 2), mask)
    with torch.no_grad():
        stats = {
            "clipfrac": float(masked_mean(((ratio - 1).abs() > cliprange).float(), mask)),
            "approx_kl": float(0.5 * masked_mean((logprobs - old_logprobs) ** 2, mask)),
        }
    return policy_loss, value_loss, stats


# ---- the model: policy + value head, reference ---------------------------------------------------------------
def build_policy(cfg: PPOConfig, model=None, tokenizer=None):
    """(policy, value_head, tokenizer, reference): the reference is None with LoRA (adapter disabled)."""
    import torch

    from pluralign.train.checkpoint import load_model, load_tokenizer, lora_config

    if model is None:
        model, tokenizer = load_model(cfg), load_tokenizer(cfg)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = model.float().to("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.lora:
        from peft import get_peft_model

        reference, policy = None, get_peft_model(model, lora_config(cfg))
    else:
        reference, policy = copy.deepcopy(model).eval().requires_grad_(False), model
    value_head = torch.nn.Linear(model.config.hidden_size, 1, device=model.device)
    torch.nn.init.zeros_(value_head.weight)  # start from V = 0: no prior on the reward scale
    torch.nn.init.zeros_(value_head.bias)
    policy.eval()  # no dropout: the ratio must be exactly 1 before the first update
    return policy, value_head, tokenizer, reference


def forward_response(model, ids, mask, n_response: int, temperature: float, value_head=None):
    """Log-probs of the last ``n_response`` tokens of ``ids`` (and the value head's estimates), [B, T].

    ``ids`` are left-padded prompts followed by responses; positions come from the mask, so padding does not
    shift them. Logits are divided by the sampling temperature: the log-probs are those of the sampled policy.
    """
    import torch

    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=n_response + 1,
                output_hidden_states=value_head is not None)
    logits = out.logits[:, :-1].float() / temperature
    logprobs = torch.log_softmax(logits, -1).gather(-1, ids[:, -n_response:, None]).squeeze(-1)
    if value_head is None:
        return logprobs, None
    hidden = out.hidden_states[-1][:, -n_response - 1 : -1]
    return logprobs, value_head(hidden.float()).squeeze(-1)


def encode_prompt(tokenizer, prompt, max_length: int) -> list[int]:
    """Token ids of a prompt: conversations through the chat template, text as is; the last ``max_length`` kept."""
    if isinstance(prompt, str):
        ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
    else:
        text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return ids[-max_length:]


def left_pad(rows: list[list[int]], pad_id: int):
    import torch

    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


# ---- one PPO iteration -------------------------------------------------------------------------------------
def rollout(policy, value_head, reference, tokenizer, prompt_ids: list[list[int]], cfg: PPOConfig, autocast):
    """Generate responses and compute everything the update needs (no gradients). Returns a dict of tensors."""
    import torch
    from transformers import GenerationConfig

    query, query_mask = (t.to(policy.device) for t in left_pad(prompt_ids, tokenizer.pad_token_id))
    sampling = GenerationConfig(do_sample=True, temperature=cfg.temperature, top_k=0, top_p=1.0,
                                max_new_tokens=cfg.max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                eos_token_id=tokenizer.eos_token_id)
    with torch.no_grad(), autocast():
        out = policy.generate(input_ids=query, attention_mask=query_mask, generation_config=sampling)
        response = out[:, query.shape[1]:]
        r_mask = response_mask(response, tokenizer.eos_token_id)
        ids, mask = out, torch.cat([query_mask, r_mask.long()], 1)
        logprobs, values = forward_response(policy, ids, mask, response.shape[1], cfg.temperature, value_head)
        with contextlib.nullcontext() if reference is not None else policy.disable_adapter():
            ref_logprobs, _ = forward_response(reference or policy, ids, mask, response.shape[1], cfg.temperature)
    texts = tokenizer.batch_decode(response * r_mask.long() + tokenizer.pad_token_id * (1 - r_mask.long()),
                                   skip_special_tokens=True)
    return {"ids": ids, "mask": mask, "r_mask": r_mask, "logprobs": logprobs, "values": values,
            "ref_logprobs": ref_logprobs, "texts": texts}


def ppo_update(policy, value_head, optimizer, batch: dict, cfg: PPOConfig, autocast) -> dict[str, float]:
    """``ppo_epochs`` passes of minibatch updates over one rollout; returns mean losses and stats."""
    import torch

    params = [p for p in [*policy.parameters(), *value_head.parameters()] if p.requires_grad]
    n, n_response = len(batch["ids"]), batch["r_mask"].shape[1]
    totals: dict[str, float] = {}
    for _ in range(cfg.ppo_epochs):
        for idx in torch.randperm(n).split(cfg.batch_size):
            with autocast():
                logprobs, values = forward_response(policy, batch["ids"][idx], batch["mask"][idx], n_response,
                                                    cfg.temperature, value_head)
            policy_loss, value_loss, stats = ppo_losses(
                logprobs, batch["logprobs"][idx], batch["advantages"][idx], values, batch["values"][idx],
                batch["returns"][idx], batch["r_mask"][idx], cfg.cliprange, cfg.cliprange_value)
            loss = policy_loss + cfg.vf_coef * value_loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
            optimizer.step()
            stats.update(loss=loss.item(), policy_loss=policy_loss.item(), value_loss=value_loss.item())
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value
    updates = cfg.ppo_epochs * -(-n // cfg.batch_size)
    return {key: value / updates for key, value in totals.items()}


# ---- checkpoints: trainable weights, optimizer, beta, RNG ----------------------------------------------------
def trainable_state(policy, value_head) -> dict[str, Any]:
    return {"policy": {k: v for k, v in policy.named_parameters() if v.requires_grad},
            "value_head": value_head.state_dict()}


def save_checkpoint(path: Path, step: int, policy, value_head, optimizer, kl_ctl, rng: random.Random,
                    cfg: PPOConfig) -> None:
    import torch

    from pluralign.io import atomic_path

    state = {"step": step, **trainable_state(policy, value_head), "optimizer": optimizer.state_dict(),
             "beta": kl_ctl.value, "torch_rng": torch.get_rng_state(), "prompt_rng": rng.getstate(),
             "config": cfg.to_dict()}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(state: dict, path: Path, policy, value_head, optimizer, kl_ctl, rng: random.Random) -> int:
    """Restore a checkpoint's ``state`` (read from ``path``) in place; returns the steps it had completed."""
    import torch

    # Only trainable weights are saved; anything else in the file means a different model or LoRA setting.
    if policy.load_state_dict(state["policy"], strict=False).unexpected_keys:
        raise InputError("checkpoint was written for a different model or LoRA setting; use a new output_dir",
                         path=str(path))
    value_head.load_state_dict(state["value_head"])
    optimizer.load_state_dict(state["optimizer"])
    kl_ctl.value = state["beta"]
    torch.set_rng_state(state["torch_rng"])
    rng.setstate(state["prompt_rng"])
    return state["step"]


# ---- the loop ----------------------------------------------------------------------------------------------
def train_ppo(cfg: PPOConfig, *, scorer=None, gold_scorer=None, model=None, tokenizer=None) -> dict[str, Any]:
    """Run PPO; returns a summary (first/last reward and KL, warnings, where the model went).

    ``scorer`` / ``gold_scorer`` override ``cfg.reward`` / ``cfg.gold``; ``model`` + ``tokenizer`` override
    ``cfg.model`` (e.g. a model built in memory). Writes ``output_dir/{metrics.jsonl, metrics.html, metrics.png,
    checkpoint.pt, model/, value_head.pt, config.toml}``.
    """
    import torch

    from pluralign.config import save_config
    from pluralign.progress import progress_bar
    from pluralign.train.checkpoint import check_resume, stored_config, warn_if_bf16_is_emulated
    from pluralign.train.data import load_prompts
    from pluralign.train.monitors import MetricsLogger
    from pluralign.train.scorers import load_scorer

    prompts = load_prompts(cfg.data)  # the data and the config are checked before any model loads
    out_dir = Path(cfg.output_dir)
    checkpoint = out_dir / "checkpoint.pt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=False) if checkpoint.is_file() else None
    if state is not None:
        check_resume(cfg, state.get("config") or stored_config(out_dir), checkpoint)
    scorer = scorer or load_scorer(cfg.reward, field="reward")
    gold_scorer = gold_scorer or (load_scorer(cfg.gold, field="gold") if cfg.gold else None)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out_dir / "config.toml")

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    policy, value_head, tokenizer, reference = build_policy(cfg, model, tokenizer)
    params = [p for p in [*policy.parameters(), *value_head.parameters()] if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr)
    kl_ctl = (AdaptiveKLController(cfg.beta, cfg.kl_target, cfg.kl_horizon) if cfg.adaptive_kl
              else FixedKLController(cfg.beta))
    start = load_checkpoint(state, checkpoint, policy, value_head, optimizer, kl_ctl, rng) if state else 0

    warn_if_bf16_is_emulated(cfg.bf16_autocast)

    def autocast():
        return torch.autocast(policy.device.type, dtype=torch.bfloat16, enabled=cfg.bf16_autocast)

    monitor = MetricsLogger(out_dir, gold_scorer=gold_scorer, length_explosion=cfg.length_explosion,
                            window=cfg.monitor_window)
    began = time.perf_counter()
    with progress_bar("PPO", total=cfg.steps) as advance:
        advance(start)
        for step in range(start, cfg.steps):
            batch_prompts = [prompts[rng.randrange(len(prompts))] for _ in range(cfg.rollout_size)]
            prompt_ids = [encode_prompt(tokenizer, p, cfg.max_length) for p in batch_prompts]
            batch = rollout(policy, value_head, reference, tokenizer, prompt_ids, cfg, autocast)
            scores = torch.tensor(scorer(batch_prompts, batch["texts"]), dtype=torch.float32, device=policy.device)
            rewards, kl = per_token_rewards(scores, batch["logprobs"], batch["ref_logprobs"], batch["r_mask"],
                                            kl_ctl.value)
            advantages, batch["returns"] = gae(rewards, batch["values"], batch["r_mask"], cfg.gamma, cfg.lam)
            batch["advantages"] = whiten(advantages, batch["r_mask"])
            stats = ppo_update(policy, value_head, optimizer, batch, cfg, autocast)
            mean_kl = float(kl.sum(1).mean())
            monitor.log(step, prompts=batch_prompts, responses=batch["texts"], reward=float(scores.mean()),
                        kl=mean_kl, beta=kl_ctl.value, response_length=float(batch["r_mask"].sum(1).mean()),
                        non_score_reward=float((rewards.sum(1) - scores).mean()), **stats)
            kl_ctl.update(mean_kl, cfg.rollout_size)
            if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
                save_checkpoint(checkpoint, step + 1, policy, value_head, optimizer, kl_ctl, rng, cfg)
            advance(1)
    warnings = monitor.finish()
    model_dir = save_policy(policy, value_head, tokenizer, out_dir, merge=cfg.lora)
    rewards_seen, kls = monitor.series("reward")[1], monitor.series("kl")[1]
    return {"steps": cfg.steps, "reward_first": rewards_seen[0] if rewards_seen else None,
            "reward_last": rewards_seen[-1] if rewards_seen else None, "kl_last": kls[-1] if kls else None,
            "beta_last": kl_ctl.value, "warnings": warnings, "seconds": round(time.perf_counter() - began, 1),
            "model_dir": str(model_dir), "metrics": str(monitor.path)}


def save_policy(policy, value_head, tokenizer, out_dir: Path, merge: bool) -> Path:
    """Write the trained policy as a plain transformers directory (LoRA merged in) and the value head."""
    import torch

    model = policy.merge_and_unload() if merge else policy
    model_dir = out_dir / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    torch.save(value_head.state_dict(), out_dir / "value_head.pt")
    return model_dir
