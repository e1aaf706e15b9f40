"""Runs as pipelines: a TOML file names the stages (:mod:`.spec`); :mod:`.runner` runs them into a run directory
with a manifest each and skips what has not changed; :mod:`.report` writes RUN/report.html; :mod:`.trace` walks a
trained preference back to the people behind it. Part of the command layer: it knows every stage."""
