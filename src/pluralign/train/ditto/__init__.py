"""DITTO (Shaikh et al., "Show, Don't Tell: Aligning Language Models with Demonstrated Feedback", ICLR 2025):
align a model to one person from a handful of demonstrations, by treating them as preferred over the model's own
samples and over earlier checkpoints' samples, and training with DPO.

- :mod:`.config` -- :class:`DittoConfig`, validated, stored in the run directory;
- :mod:`.data` -- demonstrations: ``Demonstration`` records or the DITTO benchmark files;
- :mod:`.schedule` -- which comparisons each step trains on (expert / replay / inter-model shares);
- :mod:`.sampler` -- M samples per prompt from the current policy, kept by step on disk;
- :mod:`.policy` -- the LoRA policy, its frozen reference adapter and one DPO update (TRL);
- :mod:`.loop` -- :func:`train_ditto`, Algorithm 1, resumable;
- :mod:`.judges` -- an authorship-attribution classifier and an LM judge, head-to-head win rates.
"""

from pluralign.lazy import lazy_getattr

_HOME = {"DittoConfig": "config", "load_ditto_config": "config", "train_ditto": "loop",
         "read_demonstrations": "data", "author_demonstrations": "data", "draw_batch": "schedule",
         "AuthorshipJudge": "judges", "LMJudge": "judges", "win_rate": "judges"}

__getattr__ = lazy_getattr(__name__, _HOME)

__all__ = sorted(_HOME)
