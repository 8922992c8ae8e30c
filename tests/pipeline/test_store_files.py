"""Files written by the pipelines: the modes a plain open() would give, errors on bad output paths."""

from __future__ import annotations

import os
import stat

from affectgpt.cli import main
from affectgpt.pipeline.store import atomic_write_text


def test_atomic_writes_get_the_umask_mode_not_private_0600(tmp_path):
    p = tmp_path / "report.md"
    atomic_write_text(p, "hello")
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~mask and p.read_text() == "hello"
    assert [q.name for q in tmp_path.iterdir()] == ["report.md"]  # no temporary left


def test_an_output_path_that_cannot_be_written_is_one_line_exit_2(tmp_path, capsys, tiny_data):
    (tmp_path / "afile").write_text("x")
    preds = tmp_path / "p.csv"
    preds.write_text("name,sentiment\na,positive\nb,negative\n")
    gt = tmp_path / "gt.csv"
    gt.write_text("name,valence\na,1.0\nb,-2.0\n")
    code = main(["bench", "score", "--dataset", "cmumosi", "--labels", str(gt), "--predictions", str(preds),
                 "--data-dir", str(tiny_data), "--json", str(tmp_path / "afile" / "r.json"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and "afile" in err and "Traceback" not in err
