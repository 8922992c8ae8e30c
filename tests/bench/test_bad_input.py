"""Bad input: a one-line error naming the file (and row), or an explicit count in the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from affectgpt.bench import ScoreSettings, load_ground_truth, read_predictions, score
from affectgpt.cli import main
from affectgpt.errors import InputError, UntrustedPickleError


@pytest.fixture()
def gt_csv(tmp_path):
    p = tmp_path / "gt.csv"
    p.write_text("name,label\na,happy\nb,sad\nc,neutral\n", encoding="utf-8")
    return p


def _settings(tiny_data, gt, preds, **kw):
    return ScoreSettings("mer2023", str(gt), str(preds), data_dir=str(tiny_data), bootstrap=0, **kw)


def test_truncated_and_non_npz_files(tmp_path):
    good = tmp_path / "x-openset.npz"
    np.savez(good, filenames=np.array(["a"]), fileitems=np.array(["[happy]"]))
    cut = tmp_path / "cut-openset.npz"
    cut.write_bytes(good.read_bytes()[:60])
    with pytest.raises(InputError, match=r"cut-openset\.npz: not an \.npz archive"):
        read_predictions(cut)
    txt = tmp_path / "t-openset.npz"
    txt.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match="t-openset.npz"):
        read_predictions(txt)
    empty = tmp_path / "e-openset.npz"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="0 bytes"):
        read_predictions(empty)


def test_pickled_answers_need_trust(tmp_path, tiny_data, gt_csv):
    f = tmp_path / "ck.npz"
    np.savez(f, name2reason=np.array({"a": "He is happy."}, dtype=object))
    with pytest.raises(UntrustedPickleError, match="--trust-pickle"):
        score(_settings(tiny_data, gt_csv, f, extractor="lexicon"))
    r = score(_settings(tiny_data, gt_csv, f, extractor="lexicon", trust_pickle=True))
    assert r["n_missing_predictions"] == 2 and r["score"] == pytest.approx(50.0)


def test_csv_wrong_columns_duplicates_and_encoding(tmp_path, tiny_data, gt_csv):
    bad = tmp_path / "p.csv"
    bad.write_text("id,answer\na,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.csv, row 1: missing column"):
        read_predictions(bad)
    dup = tmp_path / "d.csv"
    dup.write_text("name,labels\na,[happy]\nb,[sad]\na,[sad]\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"d\.csv, row 4: duplicate name 'a' \(first seen at row 2\)"):
        read_predictions(dup)
    enc = tmp_path / "enc.csv"
    enc.write_bytes("name,text\na,fine\nb,caf\xe9 triste\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"enc\.csv, row 3: not valid UTF-8"):
        read_predictions(enc)
    gdup = tmp_path / "gdup.csv"
    gdup.write_text("name,label\na,happy\na,sad\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate name"):
        load_ground_truth("mer2023", gdup)
    ragged = tmp_path / "r.csv"
    ragged.write_text("name,labels\na,[x],extra\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"r\.csv, row 2: expected 2 cells"):
        read_predictions(ragged)


def test_missing_extra_and_empty_predictions_are_counted(tmp_path, tiny_data, gt_csv):
    p = tmp_path / "p.jsonl"
    p.write_text("\n".join(json.dumps(x) for x in [
        {"name": "a", "labels": ["sunny"]}, {"name": "c", "labels": "[]"}, {"name": "zz", "labels": ["blue"]},
    ]) + "\n", encoding="utf-8")
    r = score(_settings(tiny_data, gt_csv, p))
    assert r["n_missing_predictions"] == 1 and r["missing_examples"] == ["b"]
    assert r["n_extra_predictions"] == 1 and r["extra_examples"] == ["zz"]
    assert r["n_empty_predictions"] == 2  # "c" answered [], "b" missing
    assert any("no prediction" in w for w in r["warnings"]) and any("not in the ground truth" in w for w in r["warnings"])
    assert r["n_total"] == 3 and r["n_scored"] == 2  # neutral excluded
    assert r["score"] == pytest.approx(50.0)


def test_bad_jsonl_line_is_named(tmp_path):
    p = tmp_path / "p.jsonl"
    p.write_text('{"name": "a", "text": "ok"}\n{"name": "b", \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"p\.jsonl, row 2: invalid JSON"):
        read_predictions(p)


def test_given_extractor_without_labels_says_what_to_do(tmp_path, tiny_data, gt_csv):
    p = tmp_path / "p.csv"
    p.write_text("name,text\na,He is glad.\n", encoding="utf-8")
    with pytest.raises(InputError, match="--extractor lexicon"):
        score(_settings(tiny_data, gt_csv, p))


def test_folder_with_several_checkpoints_needs_select(tmp_path, tiny_data, gt_csv):
    run = tmp_path / "run"
    run.mkdir()
    for e in (1, 2):
        np.savez(run / f"checkpoint_{e:06d}-openset.npz", filenames=np.array(["a", "b"]),
                 fileitems=np.array(["[sunny]", "[blue]" if e == 2 else "[]"]))
    with pytest.raises(InputError, match="--select best"):
        score(_settings(tiny_data, gt_csv, run))
    assert score(_settings(tiny_data, gt_csv, run, select="last"))["checkpoint"] == "checkpoint_000002"
    assert score(_settings(tiny_data, gt_csv, run, select="best"))["score"] == 100.0


def test_cli_prints_one_line_error_and_exit_2(tmp_path, tiny_data, gt_csv, capsys):
    bad = tmp_path / "p.csv"
    bad.write_text("id\n1\n", encoding="utf-8")
    rc = main(["bench", "score", "--dataset", "mer2023", "--labels", str(gt_csv), "--predictions", str(bad),
               "--data-dir", str(tiny_data)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "p.csv, row 1" in err


def test_unknown_dataset_suggests_a_name():
    from affectgpt.bench import get_dataset

    with pytest.raises(ValueError, match="Did you mean .*mer2023"):
        get_dataset("mer2032")


def test_sentiment_valence_must_be_numeric(tmp_path):
    p = tmp_path / "v.csv"
    p.write_text("name,valence\na,1.0\nb,high\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"v\.csv, row 3: valence 'high'"):
        load_ground_truth("cmumosi", p)


def test_mer2024_synonym_groups_from_upstream_zip(tmp_path, tiny_data):
    import io
    import zipfile

    gt = tmp_path / "ov.csv"
    gt.write_text("name,openset\na,\"['joyful', 'sad']\"\nb,[calm]\n", encoding="utf-8")
    preds = tmp_path / "p.csv"
    preds.write_text("name,labels\na,\"[glad, angry]\"\nb,[serene]\n", encoding="utf-8")
    zpath = tmp_path / "openset-synonym.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for name, groups in {"a": [["happy", "joyful", "glad"], ["sad"], ["angry"]],
                             "b": [["calm", "serene"]]}.items():
            buf = io.BytesIO()
            np.save(buf, np.array(groups, dtype=object), allow_pickle=True)
            zf.writestr(f"openset-synonym/{name}.npy", buf.getvalue())
    args = ["bench", "score", "--dataset", "ovmerd", "--labels", str(gt), "--predictions", str(preds),
            "--synonyms", str(zpath), "--data-dir", str(tiny_data), "--bootstrap", "0"]
    assert main(args) == 2  # object arrays are pickled: needs --trust-pickle
    out = tmp_path / "r.json"
    assert main(args + ["--trust-pickle", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    # a: {happy, sad} vs {happy, angry} -> P = R = 0.5 ; b: {calm} vs {calm} -> 1
    assert r["metric"] == "synonym_group_fscore" and r["score"] == pytest.approx(75.0)
    assert r["secondary"]["avg_score"] == pytest.approx(75.0) and "ew_fscore" in r["secondary"]
    assert r["inputs"]["synonyms"]["sha256"]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04broken")
    assert main(args[:-4] + ["--synonyms", str(bad), "--data-dir", str(tiny_data)]) == 2


@pytest.mark.parametrize("record,words", [
    ({"name": "a", "labels": {"x": "happy"}}, "'labels' must be a list of label words"),
    ({"name": "a", "labels": True}, "'labels' must be a list"),
    ({"name": "a", "labels": 5}, "'labels' must be a list"),
    ({"name": "a", "labels": ["happy", 3]}, "'labels' must be a list"),
    ({"name": "a", "text": ["I", "am", "glad"]}, "'text' must be text"),
    ({"name": "a", "text": {"answer": "glad"}}, "'text' must be text"),
    ({"name": "a", "sentiment": True}, "'sentiment' must be positive/negative/neutral or a number"),
    ({"name": True, "labels": ["happy"]}, "'name' must be text or a whole number"),
    ({"name": ["a"], "labels": ["happy"]}, "'name' must be text or a whole number"),
])
def test_jsonl_values_of_the_wrong_type_are_refused_by_row(tmp_path, record, words):
    p = tmp_path / "odd.jsonl"
    p.write_text(json.dumps({"name": "b", "labels": ["sad"]}) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=rf"odd\.jsonl, row 2: {words}"):
        read_predictions(p)


def test_jsonl_whole_number_names_and_capitalised_csv_headers_are_read(tmp_path):
    p = tmp_path / "ints.jsonl"
    p.write_text(json.dumps({"name": 0, "labels": ["happy"], "sentiment": -0.5}) + "\n", encoding="utf-8")
    (ps,) = read_predictions(p)
    assert ps.labels == {"0": ["happy"]} and ps.sentiments == {"0": "-0.5"}
    c = tmp_path / "caps.csv"
    c.write_text("Name,Labels,Sentiment\na,[happy],positive\n", encoding="utf-8")
    (ps,) = read_predictions(c)
    assert ps.labels == {"a": ["happy"]} and ps.sentiments == {"a": "positive"}


def test_chinese_label_words_get_advice_that_works(tmp_path, tiny_data, gt_csv):
    """Labels in Chinese score as misses; the advice must not send the user to an extractor that
    cannot read a labels-only file, and that extractor's error names the file."""
    p = tmp_path / "zh.csv"
    p.write_text("name,labels\na,[愤怒]\nb,[悲伤]\n", encoding="utf-8")
    r = score(_settings(tiny_data, gt_csv, p))
    advice = next(w for w in r["warnings"] if "emotion wheels know" in w)
    assert "give the labels in English" in advice and "lexicon or llm" not in advice
    with pytest.raises(InputError, match=r"zh\.csv: no free-form answers .*add a text column"):
        score(_settings(tiny_data, gt_csv, p, extractor="lexicon"))
