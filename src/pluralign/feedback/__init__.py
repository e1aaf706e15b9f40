"""Constitutional AI feedback: principles turn prompts into training data.

- :mod:`.critique` — SL-CAI critique -> revision chains and SFT records (resumable).
- :mod:`.ai_preference` — RL-CAI multiple-choice AI preference labels (soft, order-averaged, calibrated).
- :mod:`.choice` — reading P("(A)") vs P("(B)") in one forward pass; order averaging, calibration, clamping.
- :mod:`.pairs` — response pairs from a file or sampled from a policy.
- :mod:`.evaluate` — labeller accuracy and Brier score on Anthropic-format comparison files.
- :mod:`.redteam` — synthetic red-team prompts by rephrasing seeds, deduplicated by embeddings.
- :mod:`.fewshot` — few-shot examples (the package's own, or Anthropic's files).
"""

from pluralign.feedback.ai_preference import AIFeedback, LabelConfig, to_preferences
from pluralign.feedback.critique import ReviseConfig, revise, sft_records
from pluralign.feedback.pairs import Pair, read_pairs, sample_pairs

__all__ = ["AIFeedback", "LabelConfig", "Pair", "ReviseConfig", "read_pairs", "revise", "sample_pairs",
           "sft_records", "to_preferences"]
