"""Speaker-relative voice cues are reported only beyond what neutral speech reaches.

Clips are joined at test time from RAVDESS utterances of the test actors (21-24; the packaged
calibration used actors 01-16 only).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

pytest.importorskip("opensmile")

from affectgpt.analyzers.acoustic import (SR, AcousticAnalyzer, WindowCalibration,  # noqa: E402
                                          load_window_calibration, packaged_window_calibration)
from affectgpt.errors import InputError  # noqa: E402
from affectgpt.media.audio import load_audio  # noqa: E402

TEST_ACTORS = ("21", "22", "23", "24")


def _rows(data_dir):
    with open(data_dir / "ravdess" / "manifest.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _joined(data_dir, files, gap_s=0.3):
    gap = np.zeros(int(gap_s * SR), np.float32)
    parts, spans, t = [], [], 0.0
    for f in files:
        a = load_audio(data_dir / "ravdess" / f)
        spans.append((t, t + len(a) / SR))
        parts += [a, gap]
        t += (len(a) + len(gap)) / SR
    return np.concatenate(parts), spans


def _neutral(rows, actor):
    return sorted(r["file"] for r in rows if r["actor"] == actor and r["emotion"] in ("neutral", "calm"))


@pytest.fixture(scope="module")
def analyzers():
    if packaged_window_calibration() is None:
        pytest.fail("the packaged window-cue calibration (weights/window_cues.json) is missing")
    return AcousticAnalyzer(), AcousticAnalyzer(calibration=False)


def test_neutral_speech_of_one_speaker_reads_as_no_departure(data_dir, analyzers):
    calibrated, plain = analyzers
    rows = _rows(data_dir)
    with_cue, plain_strong = 0, 0
    for actor in TEST_ACTORS:
        for start in (0, 4):  # two clips per actor: 8 neutral/calm lines each, 20-30 s
            audio, _ = _joined(data_dir, _neutral(rows, actor)[start:start + 8])
            res = calibrated.analyze(audio, language=None, native_rate=SR, channels=1)
            assert res.extra["reference_kind"] == "speaker"
            assert set(res.extra["departure_thresholds"]) >= {"pitch_level", "jitter", "hnr"}
            with_cue += bool(res.cues)
            plain_strong += any(c.strength == "strong" for c in plain.analyze(
                audio, language=None, native_rate=SR, channels=1).cues)
    # the most departing of ~40 windows of calm speech is "strong" without the calibration
    assert plain_strong >= 7
    assert with_cue <= 2


def test_an_emotional_line_among_neutral_ones_is_where_the_cue_is(data_dir, analyzers):
    calibrated, _ = analyzers
    rows = _rows(data_dir)
    found, elsewhere = 0, 0
    for actor in TEST_ACTORS:
        angry = sorted(r["file"] for r in rows if r["actor"] == actor and r["emotion"] == "angry"
                       and r["intensity"] == "strong")[0]
        files = _neutral(rows, actor)[:4]
        files.insert(2, angry)
        audio, spans = _joined(data_dir, files)
        res = calibrated.analyze(audio, language=None, native_rate=SR, channels=1)
        a, b = spans[2]
        inside = [c for c in res.cues if c.end_s > a and c.start_s < b]
        found += bool(inside)
        elsewhere += len(inside) < len(res.cues)
    assert found >= 3
    assert elsewhere <= 1


def test_timeline_windows_of_neutral_speech_carry_few_cues(data_dir, analyzers):
    from affectgpt.media.vad import detect_speech

    calibrated, plain = analyzers
    audio, _ = _joined(data_dir, _neutral(_rows(data_dir), "22")[:10])
    bounds = [(i * 2.0, (i + 1) * 2.0) for i in range(int(len(audio) / SR // 2))]
    speech = detect_speech(audio)
    cal = calibrated.window_cues(audio, bounds, speech=speech)
    raw = plain.window_cues(audio, bounds, speech=speech)
    n_cal = sum(len(w) for w in cal if w)
    n_raw = sum(len(w) for w in raw if w)
    assert n_raw >= 2 * len(bounds)  # at least 2 cues of 0.5 SD or more per window on average, uncalibrated
    assert n_cal <= 2
    thr = calibrated.calibration
    assert all(abs(c.z) >= thr.window_threshold(c.name, 2.0) for w in cal if w for c in w)


def test_calibration_is_written_reproducibly_and_read_back(data_dir, tmp_path):
    from affectgpt.analyzers.training import calibrate_window_cues

    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    card = calibrate_window_cues(data_dir, out1, actors=("01",), clips_per_actor=4)
    calibrate_window_cues(data_dir, out2, actors=("01",), clips_per_actor=4)
    assert out1.read_bytes() == out2.read_bytes()  # same data and seed, same file
    cal = load_window_calibration(out1)
    assert card["clips"] == 4 and "training split only" in card["split"]
    assert {"1.0", "2.0"} <= set(cal.window) <= {"1.0", "2.0", "4.0"}
    assert set(cal.window["2.0"]) >= {"pitch_level", "pitch_range", "loudness", "jitter", "shimmer", "hnr"}
    assert all(v > 0 for v in cal.window["1.0"].values())
    lo, hi = card["n_range"]
    assert lo >= 3 and hi >= lo


def test_thresholds_follow_the_window_count_and_the_window_length():
    cal = WindowCalibration({"jitter": (1.0, 1.0), "loudness": (5.0, -0.5)},
                            {"1.0": {"jitter": 5.0}, "2.0": {"jitter": 3.0}}, {"n_range": [6, 50]})
    assert cal.clip_threshold("jitter", 6) == pytest.approx(1 + np.log(6))
    assert cal.clip_threshold("jitter", 20) > cal.clip_threshold("jitter", 6)  # more windows, a larger null maximum
    assert cal.clip_threshold("jitter", 2) == cal.clip_threshold("jitter", 6)  # held at the fewest measured
    assert cal.clip_threshold("jitter", 500) == pytest.approx(1 + np.log(500))  # a rising fit extrapolated
    assert cal.clip_threshold("loudness", 500) == cal.clip_threshold("loudness", 50)  # a falling one held
    # a window uses the longest length measured that does not exceed its own (shorter = noisier)
    assert cal.window_threshold("jitter", 2.0) == 3.0 and cal.window_threshold("jitter", 30.0) == 3.0
    assert cal.window_threshold("jitter", 1.5) == 5.0 and cal.window_threshold("jitter", 0.5) == 5.0
    assert cal.clip_threshold("hnr", 20) == 0.0 and cal.window_threshold("hnr") == 0.0


@pytest.mark.parametrize("broken", [
    {"clip": {"jitter": [1.0]}, "window": {}},  # one coefficient
    {"clip": {}, "window": {"2.0": {"jitter": 3.0}}, "card": []},  # card not an object
    {"clip": {}, "window": {"2.0": {"jitter": 3.0}}, "card": {"n_range": "5-59"}},
    {"clip": {}, "window": {"2.0": {"jitter": 3.0}}, "card": {"n_range": [0, 0]}},
    {"clip": {"jitter": [1.0, float("nan")]}, "window": {}},
    {"clip": {}, "window": {"2.0": {"jitter": -1.0}}},
    {"clip": {}},  # no window thresholds
])
def test_a_broken_calibration_file_is_named(tmp_path, broken):
    bad = tmp_path / "window_cues.json"
    bad.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(InputError, match="window_cues.json.*not a window-cue calibration"):
        load_window_calibration(bad)


def test_the_most_departing_window_does_not_depend_on_where_the_grid_falls(data_dir, analyzers):
    """Silence before the same speech shifts the window grid; the windows slide densely (0.1 s)
    from the speech onset, so the clip's strongest departure stays where and what it was."""
    from affectgpt.media.clip import Clip

    _, plain = analyzers
    speech = Clip.open(data_dir / "demo" / "sample_00000000.mp4").audio
    got = []
    for lead_s in (0.0, 0.032, 0.064, 0.128, 0.25):
        audio = np.concatenate([np.zeros(int(lead_s * SR), np.float32), speech])
        res = plain.analyze(audio, language="zh", native_rate=SR, channels=1)
        cue = next(c for c in res.cues if c.name == "pitch_range")
        got.append((cue.z, cue.start_s - lead_s))
    z = [g[0] for g in got]
    assert min(z) >= 3.0 and max(z) - min(z) <= 1.5, got  # with a 0.5 s hop: 3.5, 3.8, 2.1, 2.2, 2.8
    assert max(g[1] for g in got) - min(g[1] for g in got) <= 0.35, got  # the same phrase
