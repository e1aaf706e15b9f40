"""Constitutional AI feedback: principles turn prompts into training data.

- :mod:`.critique` — SL-CAI critique -> revision chains and SFT records (resumable).
- :mod:`.ai_preference` — RL-CAI multiple-choice AI preference labels (soft, order-averaged, calibrated).
- :mod:`.choice` — reading P("(A)") vs P("(B)") in one forward pass; order averaging, calibration, clamping.
- :mod:`.pairs` — response pairs from a file or sampled from a policy.
- :mod:`.evaluate` — labeller accuracy and Brier score on Anthropic-format comparison files.
- :mod:`.redteam` — synthetic red-team prompts by rephrasing seeds, deduplicated by embeddings.
- :mod:`.fewshot` — few-shot examples (the package's own, or Anthropic's files).
"""

from pluralign.lazy import lazy_getattr

# Names resolve on first use, so that importing the command line (``.cli``) does not load torch.
_HOME = {"AIFeedback": "ai_preference", "LabelConfig": "ai_preference", "to_preferences": "ai_preference",
         "ReviseConfig": "critique", "revise": "critique", "sft_records": "critique",
         "read_pairs": "pairs", "sample_pairs": "pairs"}

__getattr__ = lazy_getattr(__name__, _HOME)

__all__ = ["AIFeedback", "LabelConfig", "ReviseConfig", "read_pairs", "revise", "sample_pairs",
           "sft_records", "to_preferences"]
