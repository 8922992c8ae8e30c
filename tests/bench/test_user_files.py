"""`bench score` on the files users of the field hold: predictions keyed by file names, no name in
common, and sentiment-only files with words or MMSA-style numbers (inputs built at test time
from ../shared/data; see ../shared/fieldcases case13 and case15)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from affectgpt.bench import ScoreSettings, score
from affectgpt.cli import main
from affectgpt.errors import InputError, NoOverlapError

RUN = "results-mer2023"


def _released_labels(data_dir: Path) -> dict[str, str]:
    base = data_dir / "released_outputs/affectgpt" / RUN
    sub = [d for d in base.iterdir() if d.is_dir()]
    z = np.load((sub[0] if sub else base) / "checkpoint_000050_loss_0.527-openset.npz", allow_pickle=False)
    return dict(zip((str(n) for n in z["filenames"]), (str(x) for x in z["fileitems"])))


def _write(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _gt(data_dir: Path, name: str) -> list[dict]:
    return list(csv.DictReader(open(data_dir / f"merunibench/gt_csv/{name}.csv", encoding="utf-8")))


def _score(data_dir, dataset, pred):
    return score(ScoreSettings(dataset, str(data_dir / f"merunibench/gt_csv/{dataset}.csv"), str(pred),
                               data_dir=str(data_dir), bootstrap=0))


@pytest.mark.parametrize("form", ["{}.mp4", "videos/{}.mp4", "C:\\\\clips\\\\{}.avi"])
def test_file_names_match_by_stem_with_the_same_score(tmp_path, data_dir, form):
    pred = _released_labels(data_dir)
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    stem = _score(data_dir, "mer2023", _write(tmp_path / "stem.csv", ["name", "labels"],
                                              [(n, pred.get(n, "")) for n in names]))
    assert f"{stem['score']:.2f}" == "78.54"  # paper Table 2, MER2023, released epoch 50
    ext = _score(data_dir, "mer2023", _write(tmp_path / "ext.csv", ["name", "labels"],
                                             [(form.format(n), pred.get(n, "")) for n in names]))
    assert ext["score"] == stem["score"] and ext["n_scored"] == stem["n_scored"]
    assert any("matched to the ground truth by file stem" in w for w in ext["warnings"])


def test_no_name_in_common_is_an_error_not_a_score(tmp_path, data_dir, capsys):
    pred = _released_labels(data_dir)
    p = _write(tmp_path / "other.csv", ["name", "labels"], [(f"clip_{i:04d}", v) for i, v in enumerate(pred.values())])
    with pytest.raises(NoOverlapError, match="no prediction name matches the ground truth"):
        _score(data_dir, "mer2023", p)
    code = main(["bench", "score", "--dataset", "mer2023", "--labels", str(data_dir / "merunibench/gt_csv/mer2023.csv"),
                 "--predictions", str(p), "--data-dir", str(data_dir), "--bootstrap", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "clip_0000" in err and "sample_" in err


@pytest.mark.parametrize("header", [["name", "labels"], ["name", "sentiment"]])
def test_a_predictions_file_with_no_rows_is_an_error_not_a_score(tmp_path, data_dir, capsys, header):
    dataset = "mer2023" if "labels" in header else "cmumosi"
    p = _write(tmp_path / "empty.csv", header, [])
    code = main(["bench", "score", "--dataset", dataset, "--labels", str(data_dir / f"merunibench/gt_csv/{dataset}.csv"),
                 "--predictions", str(p), "--data-dir", str(data_dir), "--bootstrap", "0"])
    assert code == 1 and "empty.csv: holds no prediction rows" in capsys.readouterr().err


@pytest.mark.parametrize("pair", [("{}", "{}.mp4"), ("a/{}.mp4", "b/{}.mp4")])
def test_two_names_for_one_sample_are_refused(tmp_path, data_dir, pair):
    pred = _released_labels(data_dir)
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    rows = [(pair[0].format(n), pred.get(n, "")) for n in names] + [(pair[1].format(names[0]), "[sad]")]
    with pytest.raises(InputError, match=f"both stand for the sample '{names[0]}'"):
        _score(data_dir, "mer2023", _write(tmp_path / "two.csv", ["name", "labels"], rows))


def test_labels_the_wheels_do_not_know_are_counted_and_warned(tmp_path, data_dir):
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    rows = [(n, "[快乐]" if i % 2 else "[happpy]") for i, n in enumerate(names[:20])] + [(n, "[happy]") for n in names[20:]]
    r = _score(data_dir, "mer2023", _write(tmp_path / "oov.csv", ["name", "labels"], rows))
    assert r["n_answers_outside_vocabulary"] == 20 and set(r["outside_vocabulary_examples"]) == {"快乐", "happpy"}
    assert any("20 answers have labels none of which the emotion wheels know" in w for w in r["warnings"])


def _valence(data_dir: Path, dataset: str) -> list[tuple[str, float]]:
    rows = _gt(data_dir, dataset)
    key = "valence" if "valence" in rows[0] else "label"
    return [(r["name"], float(r[key])) for r in rows]


@pytest.mark.parametrize("dataset", ["cmumosi", "sims"])
@pytest.mark.parametrize("form", ["words", "Words", "regression", "regression+labels"])
def test_sentiment_only_files_score_perfectly_in_every_form(tmp_path, data_dir, dataset, form):
    gold = _valence(data_dir, dataset)

    def value(v):
        if form.startswith("regression"):
            return f"{v * 0.8:.3f}"  # an MMSA-style regression output: only its sign matters
        w = "positive" if v > 0 else "negative" if v < 0 else "neutral"
        return w.upper() if form == "Words" else w

    header = ["name", "sentiment"] + (["labels"] if form.endswith("+labels") else [])
    rows = [(n, value(v)) + (("[]",) if form.endswith("+labels") else ()) for n, v in gold]
    r = _score(data_dir, dataset, _write(tmp_path / "p.csv", header, rows))
    assert f"{r['score']:.2f}" == "100.00"
    assert r["n_empty_predictions"] == 0  # every sentiment cell is an answer, labels or not


def test_sentiment_all_neutral_is_not_perfect(tmp_path, data_dir):
    gold = _valence(data_dir, "cmumosi")
    r = _score(data_dir, "cmumosi", _write(tmp_path / "n.csv", ["name", "sentiment"], [(n, "neutral") for n, _ in gold]))
    assert r["score"] < 60


def test_a_sentiment_that_is_neither_word_nor_number_names_its_row(tmp_path, data_dir):
    gold = _valence(data_dir, "cmumosi")
    rows = [(n, "positive") for n, _ in gold]
    rows[4] = (rows[4][0], "kinda good")
    with pytest.raises(InputError, match=r"p.csv, row 6: sentiment 'kinda good' is neither"):
        _score(data_dir, "cmumosi", _write(tmp_path / "p.csv", ["name", "sentiment"], rows))


def _zip_of(tmp_path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    z = tmp_path / "groups.zip"
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return z


def _npy(value) -> bytes:
    import io

    b = io.BytesIO()
    np.save(b, value)
    return b.getvalue()


def test_mertools_synonym_groups_are_read_as_literals(tmp_path):
    from affectgpt.bench.synonyms import load_synonym_groups

    lit = "[['joyful', 'happy', 'relaxed'], ['complaining', 'helpless'], ['humorous']]"
    z = _zip_of(tmp_path, {"ov/sample_00000001.npy": _npy(np.array(lit))})
    assert load_synonym_groups(z) == {"sample_00000001": [["joyful", "happy", "relaxed"],
                                                          ["complaining", "helpless"], ["humorous"]]}


def test_synonym_literals_are_never_evaluated(tmp_path):
    from affectgpt.bench.synonyms import load_synonym_groups

    z = _zip_of(tmp_path, {"a.npy": _npy(np.array("__import__('os').system('echo pwned')"))})
    with pytest.raises(InputError, match="a.npy: not a literal list of synonym groups"):
        load_synonym_groups(z)


def test_synonym_archive_that_expands_too_far_is_refused(tmp_path):
    from affectgpt.bench.synonyms import MAX_MEMBER_BYTES, load_synonym_groups

    z = _zip_of(tmp_path, {"big.npy": b"\0" * (MAX_MEMBER_BYTES + 1)})
    assert z.stat().st_size < 64 * 1024  # small on disk
    with pytest.raises(InputError, match="big.npy: .* over the"):
        load_synonym_groups(z)


@pytest.mark.parametrize("cell,safe", [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+cmd", "'+cmd"), ("@SUM(A1)", "'@SUM(A1)"),
                                       ("-2+3", "'-2+3"), ("-1.280", "-1.280"), ("happy", "happy"), (0.5, 0.5)])
def test_csv_cells_are_spreadsheet_safe(cell, safe):
    from affectgpt.io import spreadsheet_safe

    assert spreadsheet_safe(cell) == safe


def test_per_sample_csv_does_not_carry_formulas(tmp_path, data_dir):
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    p = _write(tmp_path / "f.csv", ["name", "labels"], [(n, "=cmd|' /C calc'!A0") for n in names])
    out = tmp_path / "rows.csv"
    assert main(["bench", "score", "--dataset", "mer2023", "--labels", str(data_dir / "merunibench/gt_csv/mer2023.csv"),
                 "--predictions", str(p), "--data-dir", str(data_dir), "--bootstrap", "0", "--per-sample", str(out)]) == 0
    cells = [c for row in csv.reader(open(out, encoding="utf-8")) for c in row]
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_neutral_only_answers_are_counted_apart_from_empty_ones(tmp_path, data_dir):
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    rows = [(n, "[neutral]" if i % 3 == 0 else "" if i % 3 == 1 else "[happy]") for i, n in enumerate(names)]
    r = _score(data_dir, "mer2023", _write(tmp_path / "p.csv", ["name", "labels"], rows))
    assert r["n_neutral_only_predictions"] == len(names[::3]) and r["n_empty_predictions"] == len(names[1::3])


def test_npz_that_expands_too_far_is_refused_before_reading(tmp_path, monkeypatch):
    import zipfile

    from affectgpt.bench import io as bio

    monkeypatch.setattr(bio, "MAX_NPZ_MEMBER_BYTES", 1 << 20)
    p = tmp_path / "bomb-openset.npz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("filenames.npy", _npy(np.zeros(1 << 19, np.float32)))  # 2 MB of zeros, tiny on disk
    assert p.stat().st_size < 64 * 1024
    with pytest.raises(InputError, match="filenames.npy expands to .*refused before expanding"):
        bio.load_npz(p)


@pytest.mark.parametrize("arrays,problem", [
    ({"filenames": np.array(["a", "b"]), "fileitems": np.zeros((2, 3), np.float32)}, "'fileitems' holds floats"),
    ({"filenames": np.array([["a", "b"]]), "fileitems": np.array(["[happy]", "[sad]"])}, "'filenames' has shape"),
    ({"filenames": np.array(["a", "b"]), "fileitems": np.array([["[happy]"], ["[sad]"]])}, "'fileitems' has shape"),
])
def test_output_arrays_of_unexpected_dtype_or_shape_are_refused_naming_the_file(tmp_path, arrays, problem):
    from affectgpt.bench.predictions import read_predictions

    p = tmp_path / "checkpoint_000001-openset.npz"
    np.savez(p, **arrays)
    with pytest.raises(InputError, match=rf"checkpoint_000001-openset\.npz: array {problem}"):
        read_predictions(p)[0].labels  # noqa: B018 (reading is the test)


def test_label_npz_whose_split_is_not_a_dict_is_refused(tmp_path):
    from affectgpt.bench.datasets import load_ground_truth

    p = tmp_path / "label.npz"
    np.savez(p, test_corpus=np.arange(5.0))
    with pytest.raises(InputError, match=r"label\.npz: array 'test_corpus' holds floats"):
        load_ground_truth("cmumosi", p, trust_pickle=True)


def test_mer2024_metric_on_a_mertools_synonym_zip_matches_a_hand_computation(tmp_path, tiny_data):
    import json

    # MERTools layout: openset-synonym/<name>.npy, each a 0-d unicode array holding a list literal
    groups = {"a": [["happy", "joyful", "glad"], ["sad"], ["angry"]],
              "c": [["worried", "anxious", "nervous"]],
              "d": [["angry", "furious"], ["sad", "down"]]}
    z = _zip_of(tmp_path, {f"openset-synonym/{n}.npy": _npy(np.array(repr(g))) for n, g in groups.items()})
    gt = _write(tmp_path / "ov.csv", ["name", "openset"],
                [("a", "['joyful', 'sad']"), ("c", "['worried']"), ("d", "['angry', 'sad']")])
    preds = _write(tmp_path / "p.csv", ["name", "labels"],
                   [("a", "[glad, angry]"), ("c", "[nervous]"), ("d", "[down]")])
    out = tmp_path / "r.json"
    assert main(["bench", "score", "--dataset", "ovmerd", "--labels", str(gt), "--predictions", str(preds),
                 "--synonyms", str(z), "--data-dir", str(tiny_data), "--bootstrap", "0", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    # by hand, labels replaced by their group's first member:
    #   a: gold {happy, sad}, answer {happy, angry} -> P 1/2, R 1/2
    #   c: gold {worried},    answer {worried}      -> P 1,   R 1
    #   d: gold {angry, sad}, answer {sad}          -> P 1,   R 1/2
    p, rc = (0.5 + 1 + 1) / 3, (0.5 + 1 + 0.5) / 3
    assert r["metric"] == "synonym_group_fscore"
    assert r["score"] == pytest.approx(100 * 2 * p * rc / (p + rc))


@pytest.mark.parametrize("n", ["-5", "1", "19"])
def test_a_bootstrap_too_small_for_an_interval_is_a_usage_error(tmp_path, data_dir, capsys, n):
    p = _write(tmp_path / "p.csv", ["name", "labels"], [("x", "[happy]")])
    code = main(["bench", "score", "--dataset", "mer2023", "--labels", str(data_dir / "merunibench/gt_csv/mer2023.csv"),
                 "--predictions", str(p), "--data-dir", str(data_dir), "--bootstrap", n])
    assert code == 2 and "at least 20 resamples" in capsys.readouterr().err


@pytest.mark.parametrize("sep,suffix", [(";", ".csv"), ("\t", ".csv"), ("\t", ".tsv")])
def test_semicolon_and_tab_separated_predictions_score_like_csv(tmp_path, data_dir, sep, suffix):
    pred = _released_labels(data_dir)
    names = [r["name"] for r in _gt(data_dir, "mer2023")]
    ref = _score(data_dir, "mer2023", _write(tmp_path / "ref.csv", ["name", "labels"], [(n, pred.get(n, "")) for n in names]))
    p = tmp_path / f"p{suffix}"
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter=sep)
        w.writerow(["name", "labels"])
        w.writerows((n, pred.get(n, "")) for n in names)
    assert _score(data_dir, "mer2023", p)["score"] == ref["score"]


def test_ids_starting_with_a_dash_survive_the_csv_writers_and_escaped_ids_still_match(tmp_path, data_dir):
    """53 of the 4,659 CMU-MOSEI test ids start with '-'. The predictions and per-sample writers keep
    ids as they are (only other cells are spreadsheet-escaped), and a file whose ids a spreadsheet
    tool escaped ('-x) still scores every sample."""
    from affectgpt.describe.export import write_predictions_csv

    gt = _gt(data_dir, "cmumosei")
    dashed = [r["name"] for r in gt if r["name"].startswith("-")]
    assert len(dashed) >= 10
    records = [{"name": n, "file": n + ".mp4", "description": "-the wording sounds negative",
                "labels": ["sad"], "sentiment": {"label": "negative", "polarity": "negative"}} for n in dashed]
    pred = tmp_path / "pred.csv"
    write_predictions_csv(records, pred)
    rows = list(csv.DictReader(open(pred, encoding="utf-8")))
    assert [r["name"] for r in rows] == dashed
    assert all(r["text"].startswith("'-") for r in rows)  # free text stays escaped
    plain = _score(data_dir, "cmumosei", pred)
    assert plain["n_missing_predictions"] == len(gt) - len(dashed) and plain["n_extra_predictions"] == 0
    assert not any("not in the ground truth" in w for w in plain["warnings"])

    escaped = _write(tmp_path / "escaped.csv", ["name", "labels", "sentiment"],
                     [("'" + n, "[sad]", "negative") for n in dashed])
    again = _score(data_dir, "cmumosei", escaped)
    assert (again["score"], again["n_missing_predictions"], again["n_extra_predictions"]) == (
        plain["score"], plain["n_missing_predictions"], 0)
    assert any("spreadsheet apostrophes removed" in w for w in again["warnings"])

    from affectgpt.io import safe_id

    assert safe_id("-MeTTeMJBNc_0") == "-MeTTeMJBNc_0" and safe_id("+1 take 2") == "+1 take 2"
    assert safe_id('=2+5+HYPERLINK("evil.example")') == '\'=2+5+HYPERLINK("evil.example")'  # a formula stays escaped
    assert safe_id("@cmd") == "'@cmd" and safe_id("-2+3") == "'-2+3"

    per_sample = tmp_path / "rows.csv"
    assert main(["bench", "score", "--dataset", "cmumosei", "--predictions", str(pred), "--data-dir", str(data_dir),
                 "--per-sample", str(per_sample), "-q"]) == 0
    assert set(dashed) <= {r["name"] for r in csv.DictReader(open(per_sample, encoding="utf-8"))}
