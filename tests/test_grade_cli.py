"""Bad invocations of the grading command: a message, a non-zero exit, nothing written."""

from __future__ import annotations

import pytest

from autograder.grade import main as grade_main
from conftest import ROOT


@pytest.mark.parametrize("args", [
    ["--assignment", "99_nonsense"],
    ["--timeout", "0"],
    ["--jobs", "0"],
])
def test_bad_options_fail_clearly_and_write_nothing(tmp_path, args, capsys):
    out = tmp_path / "out"
    assert grade_main([str(ROOT / "data" / "samples"), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert "error:" in err
    if "99_nonsense" in args:
        assert "99_nonsense" in err and "01_embeddings" in err
    assert not out.exists()


def test_folder_without_the_assignment_asked_for(tmp_path, capsys):
    subs = tmp_path / "subs"
    (subs / "alice" / "01_embeddings").mkdir(parents=True)
    (subs / "alice" / "01_embeddings" / "01_embeddings.ipynb").write_text("{}")
    out = tmp_path / "out"
    assert grade_main([str(subs), "--out", str(out), "--assignment", "03_qkv_by_hand"]) == 2
    assert "No submissions for 03_qkv_by_hand" in capsys.readouterr().err
    assert not out.exists()
