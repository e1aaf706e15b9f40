"""The opinion CLI and its HTML report: a self-contained page with the map, groups and consensus."""

from __future__ import annotations

import json

import numpy as np

from pluralign.aggregate.opinion import analyze, build
from pluralign.aggregate.opinion_report import render
from pluralign.cli import main
from pluralign.io import write_records
from pluralign.records import Statement, Vote


def camps() -> list[Vote]:
    """Two camps of 12 over 8 statements: 0-2 agreed by all, 3-5 split the camps, 6-7 moderated out."""
    out = []
    for camp in "ab":
        for i in range(12):
            for s in range(8):
                value = 1 if s < 3 else (1 if (s < 6) == (camp == "a") else -1)
                out.append(Vote(participant=f"{camp}{i}", statement=str(s), value=value if (i + s) % 5 else 0))
    return out


def test_report_page_is_self_contained():
    votes = camps()
    matrix = build([v.participant for v in votes], [v.statement for v in votes], [v.value for v in votes],
                   mod_out=["6", "7"])
    result = analyze(matrix)
    texts = {str(s): f"Statement number {s} <b>" for s in range(8)}
    page = render(result, texts, title="Test & title")
    assert page.count("<svg") == 1 and "<script" not in page and "src=\"http" not in page
    assert "Group 0" in page and "Group 1" in page and "Group-informed consensus" in page
    assert "Test &amp; title" in page and "&lt;b&gt;" in page and "<b>" not in page  # text is escaped
    consensus_rows = page.split("Group-informed consensus")[1].split("Overall consensus")[0]
    assert "Statement number 6" not in consensus_rows  # moderated-out statements are not listed
    assert np.argmax(result.gac) in (0, 1, 2)


def test_cli_analyze_and_report(tmp_path, capsys):
    write_records(tmp_path / "votes.jsonl", camps())
    write_records(tmp_path / "statements.jsonl",
                  [Statement(id=str(s), text=f"Statement {s}", moderated=-1 if s >= 6 else 1) for s in range(8)])
    args = ["--votes", str(tmp_path / "votes.jsonl"), "--statements", str(tmp_path / "statements.jsonl")]
    main(["opinion", "analyze", *args, "--out", str(tmp_path / "a.json")])
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["n_groups"] == 2 and data["mod_out"] == ["6", "7"] and len(data["groups"]) == 24
    main(["opinion", "report", *args, "--out", str(tmp_path / "r.html"), "--meta", "2"])
    assert "Statement 0" in (tmp_path / "r.html").read_text()
    assert "2 groups" in capsys.readouterr().out


def test_cli_replay_needs_times_and_writes_its_settings(tmp_path, capsys):
    import pytest

    untimed = tmp_path / "untimed.jsonl"
    write_records(untimed, camps())
    with pytest.raises(SystemExit) as stop:
        main(["opinion", "analyze", "--votes", str(untimed), "--replay", "--out", str(tmp_path / "x.json")])
    assert stop.value.code == 2 and "times" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    timed = tmp_path / "timed.jsonl"
    write_records(timed, [v.model_copy(update={"timestamp": 2.0 * i}) for i, v in enumerate(camps())])
    main(["opinion", "analyze", "--votes", str(timed), "--replay", "--restart-hours", "0", "--out",
          str(tmp_path / "a.json")])
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["options"]["replay"] == {"math": "current", "poll_seconds": 1.0, "restart_hours": None,
                                         "fresh_load": False, "seed": 0}
    assert data["n_groups"] == 2


def test_cli_options_replay_only_refused_and_math_printed(tmp_path, capsys):
    import pytest

    votes = tmp_path / "votes.csv"
    rows = [f"{1_700_000_000_000 + i},x,{v.statement},{ord(v.participant[0]) * 100 + int(v.participant[1:])},"
            f"{v.value}" for i, v in enumerate(camps())]
    votes.write_text("timestamp,datetime,comment-id,voter-id,vote\n" + "\n".join(rows) + "\n")
    out = tmp_path / "a.json"
    for extra, message in ((["--no-replay", "--poll-seconds", "5"], "--poll-seconds only applies with --replay"),
                           (["--no-replay", "--fresh-load", "--restart-hours", "1"],
                            "--restart-hours, --fresh-load only apply"),
                           (["--replay", "--groups", "2"], "--groups and --min-votes cannot")):
        with pytest.raises(SystemExit) as stop:
            main(["opinion", "analyze", "--votes", str(votes), "--out", str(out), *extra])
        assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not out.exists()
    toss = tmp_path / "toss.txt"
    toss.write_text("9700\n9701\n123456\n")  # a0, a1 and an id with no votes
    main(["opinion", "analyze", "--votes", str(votes), "--out", str(out), "--drop-participants", str(toss),
          "--min-votes", "3", "--groups", "3"])
    printed = capsys.readouterr().out
    assert "Polis math current (last vote 2023-11-14)" in printed and "1 of the ids" in printed
    data = json.loads(out.read_text())
    assert data["n_participants"] == 22 and data["options"]["min_votes"] == 3
    assert list(data["silhouettes"]) == ["3"]  # k forced: no other k tried
    main(["opinion", "analyze", "--votes", str(votes), "--out", str(out), "--math", "2017"])
    assert "Polis math 2017 (given with --math)" in capsys.readouterr().out
