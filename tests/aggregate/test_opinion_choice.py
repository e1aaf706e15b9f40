"""Replay or analyse once, fresh load or not: decided from an export's evidence, printed, overridable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pluralign.aggregate.opinion import build
from pluralign.aggregate.opinion.choice import choose_fresh_load, choose_replay, export_read_after, replay_seconds
from pluralign.cli import main
from pluralign.errors import InputError

DAY = 86400.0
LAST_VOTE = 1_700_000_000.0  # 2023-11-14 22:13 UTC


def timed(n_per_camp: int = 8, statements: int = 6, start: float = LAST_VOTE, step: float = 2.0):
    """Two opposed camps (each member passing on a different statement), a vote every ``step`` seconds."""
    p, s, v, t = [], [], [], []
    for i in range(n_per_camp):
        for camp in "ab":
            for j in range(statements):
                side = 1 if (j % 2 == 0) == (camp == "a") else -1
                p.append(f"{camp}{i}"), s.append(str(j)), v.append(0 if (i + j) % 4 == 0 else side)
                t.append(start + step * len(t))
    return build(p, s, v, order=t, seconds_per_unit=1.0)


def test_replay_chosen_where_there_is_a_log_from_polis_and_its_cost_is_bounded():
    matrix = timed()
    chosen = choose_replay(matrix, 96, "current")
    assert chosen.chosen and "96 updates of up to 16 x 6 votes" in chosen.reason
    untimed = build(["a", "b"], ["1", "1"], [1, -1])
    assert not choose_replay(untimed, 0, "current").chosen and "no vote times" in choose_replay(untimed, 0, "current").reason
    assert "no Polis server" in choose_replay(matrix, 96, "current", polis_export=False).reason
    # The estimate prices every update at the final size, and the bound refuses what exceeds it.
    assert replay_seconds(40_885, (1921, 197)) > 60 > replay_seconds(7_051, (234, 71))
    expensive = choose_replay(matrix, 96, "current", max_seconds=0.1)
    assert not expensive.chosen and "over the 0 s bound (--replay forces it)" in expensive.reason


def test_one_analysis_where_one_math_version_did_not_run_the_whole_history():
    # Votes from 2017-08 to 2019-02 crossed Polis's math changes of late 2017: no replay runs that history.
    across = timed(start=1_503_000_000.0, step=1_000_000.0)
    choice = choose_replay(across, 96, "2018")
    assert not choice.chosen and "span a change of Polis's math (2017 to 2018)" in choice.reason
    # All votes in August 2017, but its groups come from today's math: recomputed later, from scratch.
    old = timed(start=1_503_000_000.0)
    assert choose_replay(old, 96, "2017").chosen
    recomputed = choose_replay(old, 96, "current")
    assert not recomputed.chosen and "recomputed" in recomputed.reason


def test_fresh_load_only_after_a_restart_within_polis_re_poll_window():
    midnight = (LAST_VOTE // DAY + 1) * DAY  # the first daily restart after the last vote
    assert choose_fresh_load(LAST_VOTE, {"modified": LAST_VOTE + 4 * DAY}, 24.0).chosen
    quiet = choose_fresh_load(LAST_VOTE, {"modified": midnight - 60}, 24.0)
    assert not quiet.chosen and "before a restart" in quiet.reason
    assert not choose_fresh_load(LAST_VOTE, {}, 24.0).chosen
    assert "never restarts" in choose_fresh_load(LAST_VOTE, {"modified": LAST_VOTE + 4 * DAY}, None).reason
    # Restarts 30 days apart: the first comes after Polis's 10-day re-poll window has passed the votes by.
    month = 30 * DAY
    just_after = (LAST_VOTE // month) * month + DAY  # a day after a restart: the next is 29 days later
    late = choose_fresh_load(just_after, {"modified": just_after + 60 * DAY}, 30 * 24.0)
    assert not late.chosen and "re-poll window" in late.reason


def test_export_dates_read_from_an_api_dump_and_hostile_values_refused(tmp_path):
    (tmp_path / "conversation.json").write_text(json.dumps({"modified": "1700345600000"}))
    (tmp_path / "math-pca2.json").write_text(json.dumps({"lastModTimestamp": None}))
    assert export_read_after(tmp_path) == {"conversation.json modified": 1_700_345_600.0}
    assert export_read_after(tmp_path / "votes.csv") == {}  # not a directory: no dump dates
    for bad in ("NaN", "1e300", "true", '"12.5"', '"\u0661\u0662"', "-5"):
        (tmp_path / "conversation.json").write_text('{"modified": %s}' % bad)
        with pytest.raises(InputError, match="milliseconds"):
            export_read_after(tmp_path)
    (tmp_path / "conversation.json").write_bytes(b'{"modified": "\xff"}')
    with pytest.raises(InputError, match="UTF-8"):
        export_read_after(tmp_path)
    (tmp_path / "conversation.json").write_text("")
    with pytest.raises(InputError, match="invalid JSON"):
        export_read_after(tmp_path)


def write_api_dump(folder, matrix, modified_ms: int):
    """A Polis API dump of ``matrix``: votes.json, comments.json and conversation.json."""
    folder.mkdir()
    log = matrix.log
    votes = [{"pid": int(matrix.participants[r][1:]) + 100 * (matrix.participants[r][0] == "b"),
              "tid": int(matrix.statements[c]), "vote": int(v), "modified": int(t * 1000)}
             for r, c, v, t in zip(log.rows, log.cols, log.values, log.times)]
    (folder / "votes.json").write_text(json.dumps(votes))
    (folder / "comments.json").write_text(json.dumps([{"tid": int(s), "mod": 0} for s in matrix.statements]))
    (folder / "conversation.json").write_text(json.dumps({"modified": modified_ms}))


def test_cli_prints_its_choices_and_flags_override_them(tmp_path, capsys):
    matrix = timed()
    last_ms = int(matrix.log.times.max() * 1000)
    dump = tmp_path / "dump"
    write_api_dump(dump, matrix, last_ms + int(4 * DAY * 1000))
    out = tmp_path / "a.json"
    main(["opinion", "analyze", "--votes", str(dump), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "Replayed: Polis's groups are the end of the conversation's history" in printed
    assert "Fresh load: conversation.json modified is 4.0 days after the last vote" in printed
    replayed = json.loads(out.read_text())
    assert replayed["options"]["replay"]["fresh_load"] is True and replayed["n_groups"] == 2
    main(["opinion", "analyze", "--votes", str(dump), "--out", str(out), "--no-fresh-load"])
    assert "No fresh load (--no-fresh-load)" in capsys.readouterr().out
    assert json.loads(out.read_text())["options"]["replay"]["fresh_load"] is False
    main(["opinion", "analyze", "--votes", str(dump), "--out", str(out), "--no-replay"])
    assert "Analysed once (--no-replay)" in capsys.readouterr().out
    assert "replay" not in json.loads(out.read_text())["options"]
    main(["opinion", "analyze", "--votes", str(dump), "--out", str(out), "--groups", "2"])
    assert "Analysed once: --groups / --min-votes given" in capsys.readouterr().out


def test_cli_refuses_replay_settings_where_no_replay_runs(tmp_path, capsys):
    wide = tmp_path / "participants-votes.csv"  # a CSV export without votes.csv: no times to replay
    header = "participant,group-id,n-comments,n-votes,n-agree,n-disagree,0,1,2"
    rows = [f"{i},,0,3,0,0,{1 if i % 2 else -1},{1 if i % 2 else -1},{-1 if i % 2 else 1}" for i in range(20)]
    wide.write_text(header + "\n" + "\n".join(rows) + "\n")
    out = tmp_path / "a.json"
    for extra, message in ((["--poll-seconds", "5"], "--poll-seconds only applies with --replay; analysed once: "
                                                     "the export has no vote times"),
                           (["--no-replay", "--fresh-load"], "--fresh-load only applies with --replay")):
        with pytest.raises(SystemExit) as stop:
            main(["opinion", "analyze", "--votes", str(wide), "--out", str(out), *extra])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()
    main(["opinion", "analyze", "--votes", str(wide), "--out", str(out)])
    assert "Analysed once: the export has no vote times to replay" in capsys.readouterr().out
    assert np.isfinite(json.loads(out.read_text())["n_groups"])
