"""Who counts, and how much: weighting a panel of participants to population margins (``raking``)."""
