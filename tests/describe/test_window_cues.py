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


def _tune(n: int, seed: int = 0) -> np.ndarray:
    """Harmonic notes changing four times a second (film music under dialogue)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    hz = (220 * 2 ** (rng.integers(0, 12, n // 4000 + 2) / 12))[(t * 4).astype(int)]
    phase = 2 * np.pi * np.cumsum(hz) / SR
    return (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.3 * np.sin(3 * phase)).astype(np.float32)


def _music_in_half(data_dir, half: str, snr_db: float = 5.0):
    """Ten neutral lines of one speaker; music ``snr_db`` below the speech in one half only."""
    from affectgpt.media.vad import detect_speech

    audio, _ = _joined(data_dir, _neutral(_rows(data_dir), "22")[:10])
    sp = detect_speech(audio)
    power = float(np.mean(np.concatenate([audio[int(a * SR):int(b * SR)] for a, b in sp.segments]) ** 2))
    music = _tune(len(audio))
    music *= np.float32(np.sqrt(power / np.mean(music ** 2) / 10 ** (snr_db / 10)))
    mid = len(audio) // 2
    where = np.arange(len(audio)) >= mid if half == "second" else np.arange(len(audio)) < mid
    mixed = (audio + np.where(where, music, 0)).astype(np.float32)
    return mixed, mid / SR, detect_speech(mixed)


@pytest.mark.parametrize("half", ["first", "second"])
def test_music_under_part_of_a_clip_is_judged_in_the_windows_it_plays_in(data_dir, analyzers, half):
    """Background sound used to be judged once per clip and applied to every timeline window:
    music under half of a clip either flagged the clean half too, or (its pauses outvoted by the
    quiet half) left the windows it plays in unflagged. Each window is now judged on its own."""
    from affectgpt.analyzers.acoustic import (WINDOW_BACKGROUND_CONTEXT_S, background_mode,
                                              speech_to_background_db, window_limits)

    calibrated, _ = analyzers
    audio, mid, speech = _music_in_half(data_dir, half)
    clip_snr = speech_to_background_db(audio, speech)
    clip_band = {"snr_db": round(clip_snr, 1)}
    if background_mode(clip_snr):
        clip_band["background"] = background_mode(clip_snr)
    bounds = [(i * 2.0, (i + 1) * 2.0) for i in range(int(len(audio) / SR // 2))]
    bands = window_limits(clip_band, audio, speech, bounds)
    ctx = WINDOW_BACKGROUND_CONTEXT_S
    with_music = [i for i, (a, b) in enumerate(bounds)
                  if (a - ctx >= mid if half == "second" else b + ctx <= mid)]
    clean = [i for i, (a, b) in enumerate(bounds) if (b + ctx <= mid if half == "second" else a - ctx >= mid)]
    assert len(with_music) >= 3 and len(clean) >= 3
    judged = [i for i in with_music + clean if bands[i].get("snr_scope") == "window"]
    assert len(judged) >= 0.8 * (len(with_music) + len(clean))  # the pauses between lines are enough to judge
    for i in judged:
        if i in with_music:
            assert bands[i]["background"] == "drop" and bands[i]["snr_db"] < 10, (i, bands[i])
        else:
            assert "background" not in bands[i] and bands[i]["snr_db"] > 25, (i, bands[i])
    per_window = calibrated.window_cues(audio, bounds, speech=speech, bands=bands)
    assert all(not per_window[i] for i in judged if i in with_music)  # nothing measured under the music
    assert any(per_window[i] is not None for i in judged if i in with_music)  # though the windows had speech
    # the clip's single verdict cannot be right for both halves
    assert {bands[i].get("background") for i in judged} == {"drop", None}


def test_window_limits_fall_back_to_the_clip_and_keep_its_other_limits():
    """A window of unbroken speech has no pause to measure: the clip's value stands, marked as
    the clip's; band limits, clipping and damage are the clip's in every window."""
    from affectgpt.analyzers.acoustic import window_limits
    from affectgpt.media.vad import SpeechActivity

    rng = np.random.default_rng(0)
    audio = (rng.standard_normal(6 * SR) * 0.1).astype(np.float32)
    audio[4 * SR:] *= 0.01  # quiet sound after the speech, 40 dB down
    speech = SpeechActivity(((0.0, 4.0),), 6.0)
    band = {"snr_db": 22.0, "damage": "flag", "clipping": "flag", "narrowband": True}
    out = window_limits(band, audio, speech, [(0.0, 2.0), (3.0, 5.0)])
    assert out[0]["snr_scope"] == "clip" and "background" not in out[0] and out[0]["snr_db"] == 22.0
    assert out[1]["snr_scope"] == "window" and out[1]["snr_db"] == pytest.approx(40.0, abs=1.0)
    assert "background" not in out[1]
    assert all(w["damage"] == "flag" and w["clipping"] == "flag" and w["narrowband"] for w in out)
    assert band == {"snr_db": 22.0, "damage": "flag", "clipping": "flag", "narrowband": True}
    flagged = window_limits({"snr_db": 12.0, "background": "flag"}, audio, speech, [(0.0, 2.0)])[0]
    assert flagged["snr_scope"] == "clip" and flagged["background"] == "flag" and flagged["snr_db"] == 12.0
    # a clip with background under part of its speech: an unmeasurable window takes the verdict of
    # the stretch it overlaps, and no background elsewhere
    part = {"snr_db": 40.0, "background": "flag",
            "background_spans": [{"start_s": 0.0, "end_s": 2.5, "snr_db": 6.0, "cues": "drop"}]}
    long_speech = SpeechActivity(((0.0, 6.0),), 6.0)
    got = window_limits(part, audio, long_speech, [(0.0, 2.0), (3.0, 5.0)])
    assert got[0]["snr_scope"] == "part" and got[0]["background"] == "drop" and got[0]["snr_db"] == 6.0
    assert got[1]["snr_scope"] == "clip" and got[1]["snr_db"] == 40.0 and "background" not in got[1]
    assert "background_spans" not in got[1]
    with pytest.raises(ValueError, match="2 measurement-limit sections for 3 windows"):
        AcousticAnalyzer(calibration=False).window_cues(audio, [(0, 2), (2, 4), (4, 6)], speech=speech, bands=out)


@pytest.mark.parametrize("half", ["first", "second"])
def test_music_under_part_of_a_clip_flags_the_clip_and_names_where(data_dir, half):
    """The clip's single speech-to-background ratio comes from the quietest quarter of all its
    pauses, so music under half of the clip read as no background at all (about 49 dB) and the
    clip's cues were reported unflagged. The stretches with music are now found and named."""
    from affectgpt.analyzers.acoustic import background_mode, background_spans, speech_to_background_db

    audio, mid, speech = _music_in_half(data_dir, half)
    assert background_mode(speech_to_background_db(audio, speech)) is None  # the fault: the clip ratio misses it
    spans = background_spans(audio, speech)
    assert spans and all(s["cues"] in ("flag", "drop") and s["snr_db"] < 15 for s in spans)
    covered = sum(s["end_s"] - s["start_s"] for s in spans)
    inside = sum(max(0.0, min(s["end_s"], mid + 1.0 if half == "first" else 1e9) -
                      max(s["start_s"], -1e9 if half == "first" else mid - 1.0)) for s in spans)
    assert inside == pytest.approx(covered)  # only where the music plays (to a window's width)
    assert covered >= 0.6 * (mid - speech.segments[0][0] if half == "first" else speech.segments[-1][1] - mid)
    r = AcousticAnalyzer(calibration=False).analyze(audio, language="zh", speech=speech)
    info = r.extra["audio"]
    assert info["background"] == "flag" and info["background_spans"] == spans
    assert r.cues and all("background sound under part of the speech (" in c.flag for c in r.cues)
    # no cue comes from a window under the music ("drop" stretches measure nothing)
    drops = [s for s in spans if s["cues"] == "drop"]
    assert drops and all(not any(s["start_s"] < c.end_s and s["end_s"] > c.start_s for s in drops)
                         for c in r.cues if c.start_s is not None)
    # a clean clip gets no such stretch
    clean, _ = _joined(data_dir, _neutral(_rows(data_dir), "22")[:10])
    from affectgpt.media.vad import detect_speech

    assert background_spans(clean, detect_speech(clean)) == []


def test_the_timeline_and_description_say_where_the_music_is(data_dir, tmp_path):
    """End to end on an audio file: the description names the stretch with music, and each
    timeline window is judged on its own sound."""
    import soundfile as sf

    from affectgpt.describe.pipeline import DescribeConfig, Describer

    audio, mid, _ = _music_in_half(data_dir, "second")
    path = tmp_path / "music_second_half.wav"
    sf.write(path, audio, SR)
    with Describer(DescribeConfig(timeline=True)) as d:
        r = d.describe(path)
    assert r["audio"]["background"] == "flag" and r["audio"]["background_spans"]
    assert any("under part of the speech (" in n for n in r["notes"])
    judged = [w for w in r["timeline"] if w.get("background", {}).get("judged_on") == "window"]
    music = [w for w in judged if w["start_s"] >= mid + 0.5]
    clean = [w for w in judged if w["end_s"] <= mid - 0.5]
    assert len(music) >= 3 and len(clean) >= 3
    assert all(w["background"]["cues"] == "drop" and "voice_cues" not in w
               and "background sound" in w["voice_cues_note"] for w in music)
    assert all(w["background"]["cues"] is None and "background sound" not in w.get("voice_cues_note", "")
               and not any("background" in c for c in w.get("voice_cues", [])) for w in clean)


def test_background_stretches_on_a_constructed_clip():
    """Without any data: bursts of noise stand for speech, with pauses between them; a tune plays
    under the second half only. The stretches found are those with the tune; digital silence
    (a late audio start) gives no level and leaves the clip's verdict standing."""
    from affectgpt.analyzers.acoustic import background_spans, speech_to_background_db, window_background_db
    from affectgpt.media.vad import SpeechActivity

    rng = np.random.default_rng(0)
    n = 20 * SR
    segs = tuple((float(a), a + 1.2) for a in range(1, 19, 2))  # 1.2 s "lines", 0.8 s pauses
    audio = np.zeros(n, np.float32)
    for a, b in segs:
        i, j = int(round(a * SR)), int(round(b * SR))
        audio[i:j] = rng.standard_normal(j - i) * 0.1
    audio += (rng.standard_normal(n) * 0.0003).astype(np.float32)  # room tone, about 50 dB down
    speech = SpeechActivity(segs, 20.0)
    music = _tune(n)
    music *= np.float32(np.sqrt(0.01 / np.mean(music ** 2) / 10 ** 0.5))  # 5 dB below the "speech"
    mixed = audio + np.where(np.arange(n) >= 10 * SR, music, 0).astype(np.float32)
    assert speech_to_background_db(mixed, speech) > 40  # the clip's ratio: the quiet half outvotes
    spans = background_spans(mixed, speech)
    assert spans and all(s["cues"] == "drop" and s["start_s"] >= 9.0 for s in spans)
    assert spans[-1]["end_s"] == pytest.approx(segs[-1][1]) and spans[0]["start_s"] <= 11.0
    assert background_spans(audio, speech) == []
    # the quiet half's windows are judged clean, the music's dropped
    assert window_background_db(mixed, speech, 2.0, 4.0) > 40
    assert window_background_db(mixed, speech, 14.0, 16.0) == pytest.approx(5.0, abs=1.5)
    # speech after a digitally silent lead-in: no level around it, so no verdict of its own
    late = np.concatenate([np.zeros(3 * SR, np.float32), rng.standard_normal(2 * SR).astype(np.float32) * 0.1])
    assert window_background_db(late, SpeechActivity(((3.0, 5.0),), 5.0), 3.0, 5.0) is None


def test_a_window_is_never_judged_milder_than_a_clip_flagged_as_a_whole():
    """Music under the whole clip flags the clip; a window's few pause frames may read a few dB
    higher, but it must not then report unflagged cues (the clip's verdict is a floor)."""
    from affectgpt.analyzers.acoustic import window_limits
    from affectgpt.media.vad import SpeechActivity

    rng = np.random.default_rng(1)
    audio = (rng.standard_normal(8 * SR) * 0.1).astype(np.float32)
    audio[3 * SR:5 * SR] *= 0.01  # a pause 40 dB down: the window around it reads clean
    speech = SpeechActivity(((0.0, 3.0), (5.0, 8.0)), 8.0)
    whole = {"snr_db": 12.0, "background": "flag"}
    got = window_limits(whole, audio, speech, [(2.0, 6.0)])[0]
    assert got["background"] == "flag" and got["snr_scope"] == "clip" and got["snr_db"] == 12.0
    # a window louder in background than the clip's verdict takes its own, harsher one
    loud = audio.copy()
    loud[3 * SR:5 * SR] = rng.standard_normal(2 * SR).astype(np.float32) * 0.05  # 6 dB down
    got = window_limits(whole, loud, speech, [(2.0, 6.0)])[0]
    assert got["background"] == "drop" and got["snr_scope"] == "window" and got["snr_db"] < 10
