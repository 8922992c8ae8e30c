"""`describe` on the situations users of the field reported (../shared/fieldcases), with media
built at test time from ../shared/data clips (never committed).

Each test asserts the right behaviour named in ../shared/fieldcases/README.md, for the whole
kind of situation (several containers, both left/right orders, several noise kinds ...).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("opensmile")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fieldmedia as fm  # noqa: E402

from affectgpt.analyzers.acoustic import FUNDAMENTAL_CUT_DISTORTS, UPPER_CUT_DISTORTS, AcousticAnalyzer  # noqa: E402
from affectgpt.describe.pipeline import DescribeConfig, Describer  # noqa: E402
from affectgpt.errors import InputError  # noqa: E402
from affectgpt.media.clip import Clip  # noqa: E402

VOCAL_CUES = {"pitch_level", "pitch_range", "loudness", "loudness_variation", "speaking_rate", "jitter", "shimmer", "hnr"}


@pytest.fixture(scope="module")
def describer():
    d = Describer(DescribeConfig(timeline=True))
    yield d
    d.close()


@pytest.fixture(scope="module")
def demo(data_dir) -> Path:
    return data_dir / "demo" / "sample_00000000.mp4"


@pytest.fixture(scope="module")
def crema(data_dir) -> Path:
    return data_dir / "crema_d" / "video_mp4"


def _describe_once(config: DescribeConfig, path, subtitle=None) -> dict:
    """Describe one clip with a describer of its own settings (closed afterwards)."""
    with Describer(config) as d:
        return d.describe(path, subtitle=subtitle)


def _digest(a: np.ndarray) -> str:
    return hashlib.md5(a.tobytes()).hexdigest()


# -- media timing and coverage --------------------------------------------------------------------
@pytest.mark.parametrize("fmt,suffix,offset", [("mpegts", "ts", 0.0), ("matroska", "mkv", 10.0),
                                               ("mov", "mov", 5.0)])
def test_streams_that_do_not_start_at_zero(tmp_path, demo, fmt, suffix, offset):
    ref = Clip.open(demo)
    moved = fm.remux(demo, tmp_path / f"offset.{suffix}", fmt, offset)
    clip = Clip.open(moved)
    assert abs(clip.duration_s - ref.duration_s) <= 0.05
    s = clip.frames_at(clip.uniform_times(8), distinct=True)
    assert len({_digest(f) for f in s.frames}) == 8  # no frame repeated
    assert s.times_s[0] < 0.5 and s.times_s[-1] > clip.duration_s - 0.5  # the whole clip is looked at
    assert all(0 <= t <= clip.duration_s for t in s.times_s)
    assert clip.audio is not None and abs(len(clip.audio) / 16000 - len(ref.audio) / 16000) < 0.05
    assert not clip.truncated


def test_an_mp4_edit_list_starts_the_clip_where_it_is_shown(tmp_path, demo):
    """Cut with ``ffmpeg -ss 0.7 -c copy``: packets from the key frame before 0.7 s are kept but
    marked discarded by the edit list; a player starts at 0.7 s of the source."""
    ref = Clip.open(demo)
    cut = fm.remux(demo, tmp_path / "editlist.mp4", "mp4", -0.7)
    clip = Clip.open(cut)
    assert abs(clip.origin_s) < 0.05 and abs(clip.duration_s - (ref.duration_s - 0.7)) <= 0.05
    shown = ref.frame_times[ref.frame_times - ref.origin_s >= 0.7 - 1e-3]
    assert len(clip.frame_times) == len(shown)  # the discarded frames are not frames of the clip
    s = clip.frames_at(clip.uniform_times(8), distinct=True)
    assert len({_digest(f) for f in s.frames}) == 8 and all(0 <= t < clip.duration_s for t in s.times_s)
    # the first frame shown is the source's first frame from 0.7 s on
    first = clip.frames_at([0.0]).frames[0]
    assert _digest(first) == _digest(ref.frames_at([float(shown[0] - ref.origin_s) + 1e-4]).frames[0])
    assert abs(len(clip.audio) / 16000 - (len(ref.audio) / 16000 - 0.7)) < 0.05


def test_the_default_video_stream_is_the_one_decoded(tmp_path, demo):
    ref = Clip.open(demo)
    clip = Clip.open(fm.with_decoy_video(demo, tmp_path / "two_videos.mkv"))
    assert (clip.info.width, clip.info.height) == (ref.info.width, ref.info.height)
    s = clip.frames_at(clip.uniform_times(4))
    assert s.frames[0].shape == ref.frames_at([0.0]).frames[0].shape


def test_timeline_stays_inside_an_offset_clip(tmp_path, demo, describer):
    moved = fm.remux(demo, tmp_path / "offset.ts", "mpegts", 1.4)
    r = describer.describe(moved, subtitle="I don't know!")
    assert abs(r["duration_s"] - Clip.open(demo).duration_s) <= 0.05
    assert r["timeline"][-1]["end_s"] <= r["duration_s"] + 1e-6


def test_truncated_file_is_reported_and_no_frame_repeats(tmp_path, demo, describer):
    frames, fps, audio, rate = fm.decode(demo)
    whole = fm.encode(tmp_path / "whole.mp4", frames, fps, audio, rate, faststart=True)
    data = whole.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    clip = Clip.open(cut)
    assert clip.truncated and clip.header_duration_s > 3.0 and clip.duration_s < 0.8 * clip.header_duration_s
    note = clip.timing()["note"]
    assert re.match(r"decoded \d+\.\d of 3\.5 s", note)
    s = clip.frames_at(clip.uniform_times(8), distinct=True)
    assert len({_digest(f) for f in s.frames}) == len(s.frames) and max(s.times_s) <= clip.duration_s
    r = describer.describe(cut, subtitle="I don't know!")
    assert r["timing"]["truncated"] and "cut or damaged" in r["description"]


def test_long_input_analysed_in_part_says_which_span(demo):
    r = _describe_once(DescribeConfig(timeline=True, window_s=0.5, max_audio_s=2.0), demo, subtitle="I don't know!")
    assert r["timing"]["partial"] and r["timing"]["analysed_span_s"] == [0.0, 2.0]
    assert "only 0.0-2.0 s of the 3.5 s clip" in r["description"]
    assert r["timeline"][-1]["end_s"] <= 2.0 + 1e-6
    for w in r["timeline"]:  # every window that lacks a modality says why
        for m in ("audio", "video", "text"):
            assert m in w["modalities"] or w["missing"][m]


def test_a_file_without_a_length_analysed_in_part_says_it_goes_on(tmp_path, demo):
    piped = fm.streamed_mkv(demo, tmp_path / "piped.mkv")  # ffmpeg ... -f matroska - > piped.mkv
    whole = Clip.open(piped)
    assert not whole.partial and abs(whole.duration_s - Clip.open(demo).duration_s) <= 0.05
    r = _describe_once(DescribeConfig(max_audio_s=2.0), piped, subtitle="I don't know!")
    assert r["timing"]["partial"] and r["timing"]["length_known"] is False
    assert r["timing"]["analysed_span_s"] == [0.0, 2.0]
    assert "only 0.0-2.0 s were analysed; the file goes on past that" in r["description"]


def test_decode_once_and_windows_use_their_own_frames(demo, describer):
    clip = Clip.open(demo)
    r = describer.describe_clip(clip, subtitle="I don't know!")
    assert clip.decode_passes == 1  # clip-level and timeline frames in one pass
    for w in r["timeline"]:
        assert w.get("frames", 0) >= 2
        if w["label"] and "video" in w["modalities"]:
            assert w["face_cues"] is not None


# -- speech: no speech, too little speech, telephone band ------------------------------------------
@pytest.mark.parametrize("kind", ["silence", "pink", "brown"])
def test_noise_only_soundtrack_gives_no_vocal_cue(tmp_path, crema, describer, kind):
    frames, fps, audio, rate = fm.decode(crema / "1001_DFA_NEU_XX.mp4")
    n = len(audio)
    track = {"silence": np.zeros(n, np.float32), "pink": fm.noise("pink", n / rate, rate, -45),
             "brown": fm.noise("brown", n / rate, rate, -25)}[kind]
    p = fm.encode(tmp_path / f"{kind}.mp4", frames, fps, track, rate)
    r = describer.describe(p)
    assert r["modalities"]["audio"] is False
    assert re.search(r"silence|no speech", r["missing"]["audio"])
    assert r["cues"]["audio"] == [] and "SD" not in r["description"]
    assert r["modalities"]["text"] is False and r["transcript"]["text"] == ""
    assert r["modalities"]["video"] is True  # the overall state comes from the face
    assert "supported by the video" in r["description"]


@pytest.mark.parametrize("start,seconds,video", [(0.6, 0.30, True), (0.6, 0.12, True), (0.6, 0.04, True),
                                                 (0.6, 0.20, False), (0.6, 0.05, False)])
def test_very_short_clips(tmp_path, crema, describer, start, seconds, video):
    frames, fps, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    a, b = int(start * rate), int((start + seconds) * rate)
    fa, fb = int(start * fps), max(int(start * fps) + 1, int((start + seconds) * fps))
    p = tmp_path / ("cut.mp4" if video else "cut.wav")
    fm.encode(p, frames[fa:fb] if video else None, fps, audio[a:b], rate if video else 16000) if video else \
        fm.encode(p, None, fps, _resample16k(audio[a:b], rate), 16000)
    r = describer.describe(p)
    assert r["modalities"]["audio"] is False
    assert re.search(r"too short|too little speech|no speech", r["missing"]["audio"])
    assert r["cues"]["audio"] == []
    if not r["modalities"]["video"] and not r["modalities"]["text"]:
        assert r["labels"] == [] and r["sentiment"] == {"label": "neutral", "score": 0.0, "polarity": "neutral"}


def _resample16k(x: np.ndarray, rate: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = np.gcd(rate, 16000)
    return resample_poly(x, 16000 // g, rate // g).astype(np.float32)


def test_telephone_band_is_recorded_and_distorted_cues_dropped(tmp_path, crema, describer):
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    tel, tel_rate = fm.telephone(audio, rate)
    p = fm.encode(tmp_path / "phone.wav", None, 0, tel, tel_rate)
    r = _describe_once(DescribeConfig(language="en"), p, subtitle="I'm on the phone.")
    a = r["audio"]
    assert a["sample_rate"] == 8000 and a["channels"] == 1 and a["narrowband"] and a["fundamental_cut"]
    assert a["bandwidth_hz"] < 4000 and a["band_low_hz"] >= 200
    # both limits: the upper band (loudness, jitter, shimmer) and the male voice's fundamental
    # (pitch, HNR, speaking rate) -- only loudness variation is left, flagged
    assert set(a["band_dropped_cues"]) == (UPPER_CUT_DISTORTS | FUNDAMENTAL_CUT_DISTORTS)
    names = {c["name"] for c in r["cues"]["audio"]}
    assert not names & set(a["band_dropped_cues"])
    # what is left (loudness variation) is flagged when it departs; the flag itself is unit-tested
    assert all(c.get("flag") == "narrow-band audio; fundamental cut" for c in r["cues"]["audio"])
    assert "narrow-band" in r["description"].lower() and "fundamental is cut" in r["description"]
    # the same speech at full band is not flagged
    wide = describer.describe(fm.encode(tmp_path / "wide.wav", None, 0, _resample16k(audio, rate), 16000),
                              subtitle="I'm here.")["audio"]
    assert not wide["narrowband"] and not wide["fundamental_cut"] and "band_dropped_cues" not in wide


def _band_limited(audio, rate, kind):
    """``audio`` at ``rate`` limited one way: ('8k', an 8 kHz file without a high-pass), ('11k', an
    11.025 kHz file), ('hp300', a 300 Hz high-pass at 16 kHz); returns (samples, file rate)."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    x = _resample16k(audio, rate)
    if kind == "hp300":
        return sosfiltfilt(butter(8, 300, "highpass", fs=16000, output="sos"), x).astype(np.float32), 16000
    out = {"8k": 8000, "11k": 11025}[kind]
    g = np.gcd(16000, out)
    return resample_poly(x, out // g, 16000 // g).astype(np.float32), out


@pytest.mark.parametrize("clip", ["crema_d/video_mp4/1001_DFA_ANG_XX.mp4",  # a man
                                  "ravdess/audio_16k_flac/Actor_02/03-01-02-01-01-01-02.flac"])  # a woman
def test_each_band_limit_drops_only_the_cues_it_distorts(tmp_path, data_dir, clip):
    c = Clip.open(data_dir / clip)
    audio, rate = c.audio, 16000
    ac = AcousticAnalyzer()
    res = {}
    for kind in ("8k", "11k", "hp300"):
        x, r = _band_limited(audio, rate, kind)
        c = Clip.open(fm.encode(tmp_path / f"{kind}.wav", None, 0, x, r))
        res[kind] = ac.analyze(c.audio, language="en", native_rate=c.info.audio_rate, channels=1)
    # 8 kHz without a high-pass: the upper band is cut, the fundamental is kept
    a = res["8k"].extra["audio"]
    assert a["sample_rate"] == 8000 and a["narrowband"] and not a["fundamental_cut"]
    assert set(a["band_dropped_cues"]) == UPPER_CUT_DISTORTS
    # 11.025 kHz reaches ~5 kHz: not narrow-band, nothing dropped
    a = res["11k"].extra["audio"]
    assert a["sample_rate"] == 11025 and not a["narrowband"] and not a["fundamental_cut"]
    assert "band_dropped_cues" not in a
    # a 300 Hz high-pass at 16 kHz: the fundamental is cut, the speaking rate with it
    a = res["hp300"].extra["audio"]
    assert not a["narrowband"] and a["fundamental_cut"] and set(a["band_dropped_cues"]) == FUNDAMENTAL_CUT_DISTORTS
    assert not {c.name for c in res["hp300"].cues} & FUNDAMENTAL_CUT_DISTORTS
    assert all(c.flag == "fundamental cut" for c in res["hp300"].cues)  # often none is left to flag
    assert "fundamental is cut" in res["hp300"].extra["band_note"]


def test_damaged_media_data_is_reported_and_its_voice_cues_dropped(tmp_path, demo, describer):
    """Bit errors in the media data (a broken transfer): the decoder rejects audio packets and
    conceals damaged video; both are counted, the voice cues are not measured, and the
    description says so instead of reading glitches as a lowered pitch or a loud voice."""
    bad = fm.damage_media_data(demo, tmp_path / "bitflip.mp4", n_bytes=200, seed=0)
    c = Clip.open(bad)
    dmg = c.audio_damage()
    assert dmg is not None and dmg["damaged_packets"] >= 2 and dmg["share"] == pytest.approx(
        dmg["damaged_packets"] / dmg["packets"], abs=1e-4)
    r = describer.describe(bad)
    a = r["audio"]
    assert a["damaged_packets"] == dmg["damaged_packets"] and a["damage"] == "drop"
    assert r["cues"]["audio"] == [] and "no voice cue was measured (the audio is damaged" in r["description"]
    assert all("voice_cues" not in w and "damaged" in w["voice_cues_note"]
               for w in r["timeline"] if "audio" in w["modalities"])
    assert 1 <= r["media"]["corrupt_frames"] <= r["media"]["frames_checked"]
    assert "damaged audio packet" in r["description"] and "video frames read were damaged" in r["description"]
    # the undamaged clip reports nothing of the kind
    clean = describer.describe(demo)
    assert "damaged_packets" not in clean["audio"] and "corrupt_frames" not in clean["media"]
    assert Clip.open(demo).audio_damage() is None


def test_one_damaged_packet_flags_the_voice_cues():
    from affectgpt.analyzers.acoustic import DAMAGED_DROP_SHARE

    assert DAMAGED_DROP_SHARE <= 0.02
    ac = AcousticAnalyzer()
    names, feats = ["F0semitoneFrom27.5Hz_sma3nz_amean", "VoicedSegmentsPerSec",
                    "F0semitoneFrom27.5Hz_sma3nz_percentile50.0"], np.array([30.0, 3.0, 40.0])
    ref = {"F0semitoneFrom27.5Hz_sma3nz_percentile50.0": (30.0, 2.0)}
    flagged = ac._cues(names, feats, ref, band={"damage": "flag"})
    assert [c.name for c in flagged] == ["pitch_level"] and flagged[0].flag == "damaged audio"
    # band limits: the cues a limit distorts are dropped, the others carry every flag that applies
    assert ac._cues(names, feats, ref, band={"fundamental_cut": True}) == []  # pitch is dropped
    lv = {"loudness_sma3_stddevNorm": (0.3, 0.1)}
    got = ac._cues(["loudness_sma3_stddevNorm", *names], np.array([0.6, *feats]), {**lv, "_speaker": True},
                   0.0, 1.0, band={"narrowband": True, "fundamental_cut": True, "damage": "flag"})
    assert [c.name for c in got] == ["loudness_variation"]
    assert got[0].flag == "narrow-band audio; fundamental cut; damaged audio"
    assert ac._cues(names, feats, ref, band={"damage": "drop"}) == []


def test_speaker_reference_for_a_language_without_norms(demo, describer):
    r = describer.describe(demo, subtitle="我哪知道啊")  # no --language: the voice is compared with itself
    assert r["reference"]["audio"] == "the speaker's own voice over the clip"
    assert "typical neutral speech" not in r["description"]
    assert r["cues"]["audio"]  # the demo's first phrase departs beyond the threshold (pitch range)
    assert all(c["start_s"] is not None for c in r["cues"]["audio"])  # each cue names its window
    thresholds = r["audio"]["departure_thresholds"]
    assert all(abs(c["z"]) >= thresholds[c["name"]] for c in r["cues"]["audio"])


# -- language -------------------------------------------------------------------------------------
def test_mandarin_without_subtitle_is_never_an_english_invention(demo, describer):
    r = describer.describe(demo)
    assert r["language"]["speech"] == "zh" and r["transcript"]["language"] == "zh"
    text = r["transcript"]["text"]
    if r["modalities"]["text"]:
        assert re.search(r"[\u4e00-\u9fff]", text) and not re.search(r"[A-Za-z]{3,}", text)
    else:
        assert "speech not recognised with confidence" in r["missing"]["text"]
    assert r["transcript"]["model"] == "base" and r["transcript"]["avg_logprob"] is not None


def test_english_control_clip(crema, describer):
    r = describer.describe(crema / "1001_DFA_HAP_XX.mp4")
    # Whisper base hears "Don't forget to check it" in the audio FFmpeg decodes (the AAC priming
    # dropped, as the file's edit list says); with the priming kept it heard "... a jacket"
    assert r["language"]["speech"] == "en" and "don't forget" in r["transcript"]["text"].lower()
    assert r["reference"]["audio"].startswith("RAVDESS")


def test_a_clip_in_two_languages_is_transcribed_in_each(crema, demo):
    """English then Mandarin speech: identified once, the Mandarin half was written as invented
    English; each stretch of speech now has its own language when the clip's is unsure."""
    from affectgpt.media.asr import Transcriber

    english = Clip.open(crema / "1001_DFA_HAP_XX.mp4").audio
    audio = np.concatenate([english, np.zeros(11000, np.float32), Clip.open(demo).audio]).astype(np.float32)
    t = Transcriber("base").transcribe(audio)
    langs = {x["language"] for x in t.extra["languages"]}
    assert langs == {"en", "zh"} and t.language_probability < 0.9
    assert "forget" in t.text.lower() and sum("\u4e00" <= ch <= "\u9fff" for ch in t.text) >= 5
    zh = [x for x in t.extra["languages"] if x["language"] == "zh"]
    assert all(x["start_s"] >= len(english) / 16000 - 0.1 for x in zh)  # the Mandarin is where it was said
    # one language, surely identified: one pass, no per-stretch identification
    assert "languages" not in Transcriber("base").transcribe(Clip.open(demo).audio).extra


def test_no_transcript_is_kept_when_no_language_is_clear(demo):
    """Loud pink noise over the Mandarin demo: Whisper cannot place the speech in a language
    (probability under 0.5) yet wrote invented English or Japanese ("I can't touch my head if it's
    in the air.", "Not at all."). No transcript may be kept when neither the clip's language nor
    a stretch's is clear."""
    from affectgpt.media.asr import MIN_LANGUAGE_P, Transcriber

    tr = Transcriber("base")
    audio = Clip.open(demo).audio
    unclear = 0
    for level, seed in ((-12, 8), (-14, 3), (-16, 4), (-20, 6)):
        noise = fm.noise("pink", len(audio) / 16000, 16000, level, seed=seed)[:len(audio)]
        t = tr.transcribe(audio + noise)
        spans_clear = [x for x in t.extra.get("languages", []) if (x["probability"] or 0) >= 0.9]
        if t.segments:
            assert t.language_probability >= MIN_LANGUAGE_P or spans_clear, (level, seed, t.text)
        if t.dropped and "no language is clear" in t.dropped:
            unclear += 1
            assert t.rejected_text  # the guess is kept for inspection, not as the transcript
    assert unclear >= 1
    assert tr.transcribe(audio).language == "zh"  # the clean clip is unaffected


def test_english_only_model_below_the_confidence_floor_is_dropped(demo):
    from affectgpt.media.asr import LOW_CONFIDENCE, Transcriber

    t = Transcriber("tiny.en").transcribe(Clip.open(demo).audio)
    assert t.segments == [] and t.dropped.startswith(LOW_CONFIDENCE) and t.avg_logprob < -1.0


def test_forced_language(demo):
    r = _describe_once(DescribeConfig(language="zh"), demo)
    assert r["transcript"]["language"] == "zh" and r["transcript"].get("language_forced")
    assert r["language"]["speech_source"] == "forced"


def test_the_forced_language_is_read_per_clip_not_fixed_when_the_asr_loads(demo):
    """A server changes ``config.language`` per request: the recogniser (loaded once) must follow."""
    with Describer(DescribeConfig(language="en")) as d:
        forced = d.describe(demo)
        d.config.language = None
        identified = d.describe(demo)
    assert forced["transcript"]["language"] == "en" and forced["transcript"].get("language_forced")
    assert identified["transcript"]["language"] == "zh" and not identified["transcript"].get("language_forced")


# -- subtitles ------------------------------------------------------------------------------------
def test_subtitle_files_in_windows_encodings(tmp_path, data_dir, demo, describer):
    import csv

    zh = next(r["chinese"] for r in csv.DictReader(open(
        data_dir / "merunibench/dataset/mer2023-dataset-process/transcription-engchi-polish.csv", encoding="utf-8"))
        if r["name"] == "sample_00000000")
    srt = "1\r\n00:00:00,000 --> 00:00:03,400\r\n{}\r\n".format(zh)
    for name, data in (("gbk.srt", srt.encode("gbk")), ("u16.srt", b"\xff\xfe" + srt.encode("utf-16-le")),
                       ("u8.srt", srt.encode("utf-8"))):
        (tmp_path / name).write_bytes(data)
        r = describer.describe(demo, subtitle=str(tmp_path / name))
        assert r["transcript"]["text"] == zh and r["transcript"]["language"] == "zh"
        assert r["language"]["text"] == "zh"
    with pytest.raises(InputError, match="missing.srt: subtitle file not found"):
        describer.describe(demo, subtitle=str(tmp_path / "missing.srt"))


def test_chinese_subtitle_goes_through_the_chinese_text_path(demo, describer):
    zh = describer.describe(demo, subtitle="我真的太开心了，今天是我最幸福的一天！")
    assert zh["language"]["text"] == "zh" and zh["text_model"].startswith("text_zh")
    assert zh["modality_probs"]["text"]["happy"] > 0.4 and zh["sentiment"]["label"] == "positive"
    assert "(Chinese)" in zh["description"] and "我真的太开心了" in zh["description"]
    sad = describer.describe(demo, subtitle="他走了以后，我每天都很难过，一直在哭。")
    assert sad["text_model"].startswith("text_zh") and sad["modality_probs"]["text"]["sad"] > 0.3
    en = describer.describe(demo, subtitle="I am so happy today!")
    assert en["language"]["text"] == "en" and en["text_model"] == "text"


def test_cli_missing_subtitle_and_missing_file_fail_before_models_load(tmp_path, demo, monkeypatch, capsys):
    from affectgpt import cli
    from affectgpt.describe import pipeline

    def boom(*a, **k):
        raise AssertionError("models were loaded")

    monkeypatch.setattr(pipeline.Describer, "__init__", boom)
    assert cli.main(["describe", "/nonexistent/clip.mp4"]) == 2
    assert "/nonexistent/clip.mp4: file not found" in capsys.readouterr().err
    assert cli.main(["describe", str(demo), "--subtitle", str(tmp_path / "nope.srt")]) == 2
    assert "nope.srt: subtitle file not found" in capsys.readouterr().err


def test_batch_subtitles_from_an_upstream_csv(tmp_path, data_dir, demo):
    import csv
    import shutil

    rows = {r["name"]: r for r in csv.DictReader(open(
        data_dir / "merunibench/dataset/mer2023-dataset-process/transcription-engchi-polish.csv", encoding="utf-8"))}
    table = tmp_path / "subs.csv"
    with open(table, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "chinese", "english"])
        w.writerow(["demo", rows["sample_00000000"]["chinese"], rows["sample_00000000"]["english"]])
    clips = tmp_path / "clips"
    clips.mkdir()
    shutil.copy(demo, clips / "demo.mp4")
    from affectgpt import cli

    out = tmp_path / "run"
    assert cli.main(["describe", str(clips), "--subtitles", str(table), "--subtitle-column", "english",
                     "--out", str(out), "--quiet"]) == 0
    import json

    rec = json.loads((out / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["transcript"]["text"] == rows["sample_00000000"]["english"] and rec["transcript"]["language"] == "en"


# -- the speaking face ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def talker(crema):
    frames, fps, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    still = fm.decode(crema / "1001_DFA_NEU_XX.mp4")[0][10]
    return frames, fps, audio, rate, still


@pytest.mark.parametrize("talker_left", [True, False])
@pytest.mark.parametrize("talker_scale,still_scale", [(0.6, 0.6), (0.3, 1.0)])
def test_the_face_whose_mouth_moves_with_the_voice_is_chosen(tmp_path, talker, describer, talker_left,
                                                             talker_scale, still_scale):
    frames, fps, audio, rate, still = talker
    canvas = fm.side_by_side(frames, still, talker_left, talker_scale=talker_scale, still_scale=still_scale)
    p = fm.encode(tmp_path / "two.mp4", canvas, fps, audio, rate)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    faces = r["faces"]
    assert faces["n_faces"] == 2 and not faces["uncertain"]
    assert faces["method"] == "mouth motion during speech"
    # the chosen face is on the talker's side
    clip = Clip.open(p)
    from affectgpt.media.vad import detect_speech

    fa = describer.visual.front.analyze(clip, clip.uniform_times(8), detect_speech(clip.audio))
    cx = np.mean([(o.box[0] + o.box[2]) / 2 for o in fa.speaker.observations])
    assert (cx < 640) == talker_left
    if talker_scale < still_scale:
        assert faces["small_face_search"]  # the small talker needed the second pass
    assert "the speaking person" in r["description"]


def _chosen_left(describer, p: Path) -> tuple[bool, dict]:
    from affectgpt.media.vad import detect_speech

    clip = Clip.open(p)
    fa = describer.visual.front.analyze(clip, clip.uniform_times(8), detect_speech(clip.audio))
    cx = np.mean([(o.box[0] + o.box[2]) / 2 for o in fa.speaker.observations])
    return bool(cx < fa.frames.width / 2), fa.info


@pytest.mark.parametrize("speaker_left", [True, False])
def test_a_listener_mouthing_along_late_is_not_the_speaker(tmp_path, talker, describer, speaker_left):
    """Both mouths move during the speech; only one opens and closes with the voice (the other
    is the same face 0.5 s late): mouth motion alone cannot tell them apart, the voice can."""
    frames, fps, audio, rate, _ = talker
    late = [frames[0]] * int(round(0.5 * fps)) + frames
    pair = (frames, late) if speaker_left else (late, frames)
    p = fm.encode(tmp_path / "pair.mp4", fm.two_talkers(*pair), fps, audio, rate)
    left, info = _chosen_left(describer, p)
    assert info["method"] == "mouth moving in time with the voice" and len(info["voice_sync"]) == 2
    assert left == speaker_left and not info["uncertain"]


@pytest.mark.parametrize("speaker_left", [True, False])
def test_a_muted_face_saying_the_same_words_is_never_confidently_the_speaker(tmp_path, crema, describer,
                                                                             speaker_left):
    """The trial's case: the same actor saying the same sentence angrily, muted, beside the
    neutral take whose voice is heard. Either the speaker is found or the choice is uncertain."""
    spk, fps, audio, rate = fm.decode(crema / "1001_DFA_NEU_XX.mp4")
    muted = fm.decode(crema / "1001_DFA_ANG_XX.mp4")[0]
    pair = (spk, muted) if speaker_left else (muted, spk)
    p = fm.encode(tmp_path / "muted.mp4", fm.two_talkers(*pair), fps, audio, rate)
    left, info = _chosen_left(describer, p)
    assert left == speaker_left or info["uncertain"], info


def test_two_people_cut_together_at_the_same_place_are_two_faces(tmp_path, talker, demo, describer):
    """A cut from one person to another framed alike: box overlap alone made them one track."""
    import cv2

    frames, fps, audio, rate, _ = talker
    other = fm.decode(demo)[0][:: max(1, int(round(25 / fps)))]

    def framed(img):  # the face at the same place of a 640x360 canvas
        canvas = np.full((360, 640, 3), 25, np.uint8)
        small = cv2.resize(img, (int(img.shape[1] * 300 / img.shape[0]), 300), interpolation=cv2.INTER_AREA)
        x = (640 - small.shape[1]) // 2
        canvas[30:330, max(0, x):max(0, x) + min(640, small.shape[1])] = small[:, :min(640, small.shape[1])]
        return canvas

    cut = [framed(f) for f in frames] + [framed(f) for f in other[: len(frames)]]
    p = fm.encode(tmp_path / "cut.mp4", cut, fps, np.concatenate([audio, audio]), rate)
    r = describer.describe(p, subtitle="Don't forget a jacket.")
    faces = r["faces"]
    assert faces["shots"] == 2 and abs(faces["shot_starts_s"][0] - len(frames) / fps) < 0.6
    assert faces["n_faces"] == 2 and faces["coverage"] < 0.9
    assert "the clip cuts between 2 shots" in r["description"]
    one = describer.describe(fm.encode(tmp_path / "one.mp4", [framed(f) for f in frames], fps, audio, rate),
                             subtitle="Don't forget a jacket.")
    assert one["faces"]["shots"] == 1 and "shot_starts_s" not in one["faces"]
    # cut back to the first person (A, B, A): A is one face again, B another
    third = len(frames) // 3
    aba = [framed(f) for f in frames[:third]] + [framed(f) for f in other[:third]] + \
        [framed(f) for f in frames[2 * third:]]
    r = describer.describe(fm.encode(tmp_path / "aba.mp4", aba, fps, audio[: len(aba) * rate // int(fps)], rate),
                           subtitle="Don't forget a jacket.")
    assert r["faces"]["shots"] == 3 and r["faces"]["n_faces"] == 2


def test_a_flash_or_a_fade_is_not_a_new_shot(tmp_path, talker):
    from affectgpt.media.faces import shot_starts

    frames = talker[0][::4]
    flash = list(frames)
    flash[len(flash) // 2] = np.full_like(frames[0], 250)  # one washed-out frame
    assert shot_starts(flash) == []
    fade = list(frames[:6]) + [(f * (1 - k / 6)).astype(np.uint8) for k, f in enumerate(frames[6:12], 1)]
    assert shot_starts(fade) == []  # darkening to black: no new shot


def test_two_still_faces_make_the_speaker_uncertain(tmp_path, talker, describer):
    frames, fps, audio, rate, still = talker
    canvas = fm.side_by_side([frames[0]] * len(frames), still, True, talker_scale=0.6, still_scale=0.6)
    p = fm.encode(tmp_path / "still.mp4", canvas, fps, audio, rate)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    assert r["faces"]["n_faces"] == 2 and r["faces"]["uncertain"]
    assert "speaker uncertain" in r["description"]


def test_small_face_in_a_wide_tv_frame_is_found(tmp_path, talker, describer):
    frames, fps, audio, rate, _ = talker
    import cv2

    canvas = []
    for f in frames:
        c = np.full((720, 1280, 3), 30, np.uint8)
        small = cv2.resize(f, (240, 180), interpolation=cv2.INTER_AREA)  # face well under 10% of the width
        c[400:580, 900:1140] = small
        canvas.append(c)
    p = fm.encode(tmp_path / "tv.mp4", canvas, fps, audio, rate)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    assert r["modalities"]["video"] and r["faces"]["small_face_search"]
    assert r["faces"]["n_faces"] == 1  # the tiles' partial views of the same face are not new faces


def test_third_party_log_lines_are_silenced_unless_verbose(demo, tmp_path):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in ("AFFECTGPT_VERBOSE", "GLOG_minloglevel")}
    cmd = [sys.executable, "-m", "affectgpt.cli", "describe", str(demo), "--subtitle", "I don't know!",
           "--json", str(tmp_path / "r.json")]
    quiet = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert quiet.returncode == 0 and (tmp_path / "r.json").is_file()
    for noise in ("XNNPACK", "W0000", "inference_feedback_manager", "Loading weights", "absl"):
        assert noise not in quiet.stderr, quiet.stderr[-2000:]
    loud = subprocess.run(cmd + ["--verbose"], capture_output=True, text=True, env=env, timeout=300)
    assert loud.returncode == 0 and ("XNNPACK" in loud.stderr or "W0000" in loud.stderr)


# -- review findings: each a behaviour that must hold ----------------------------------------------
def test_long_mpegts_reaches_every_frame_by_seeking(tmp_path):
    frames = [np.full((120, 160, 3), (i * 7) % 255, np.uint8) for i in range(65 * 5)]
    for i, f in enumerate(frames):
        f[:10, : i % 160] = 255
    mp4 = fm.encode(tmp_path / "long.mp4", frames, 5, None, 16000)
    ts = fm.remux(mp4, tmp_path / "long.ts", "mpegts", 0.0)
    clip = Clip.open(ts)
    assert clip._video.packets is None  # long: frames are reached by seeking
    s = clip.frames_at(clip.uniform_times(8), distinct=True)
    assert len(s.frames) == 8 and len({_digest(f) for f in s.frames}) == 8
    assert s.times_s[0] < 5 and s.times_s[-1] > 60


def test_results_do_not_depend_on_the_clip_described_before(demo, crema, describer):
    ref = _describe_once(DescribeConfig(timeline=True), crema / "1001_DFA_HAP_XX.mp4", subtitle="Don't forget a jacket.")
    describer.describe(demo, subtitle="I don't know!")
    after = describer.describe(crema / "1001_DFA_HAP_XX.mp4", subtitle="Don't forget a jacket.")
    assert after["modality_probs"]["video"] == ref["modality_probs"]["video"]
    assert after["description"] == ref["description"]


def test_clip_level_result_is_the_same_with_or_without_a_timeline(demo):
    a = _describe_once(DescribeConfig(), demo, subtitle="I don't know!")
    b = _describe_once(DescribeConfig(timeline=True, window_s=0.5), demo, subtitle="I don't know!")
    assert a["modality_probs"]["video"] == b["modality_probs"]["video"] and a["cues"]["video"] == b["cues"]["video"]


def test_an_english_only_or_unconfident_asr_does_not_select_english_norms(demo):
    r = _describe_once(DescribeConfig(asr_model="tiny.en"), demo)
    assert r["modalities"]["text"] is False and r["transcript"].get("dropped")
    assert r["language"]["speech"] is None and r["reference"]["audio"] == "the speaker's own voice over the clip"


def test_subtitle_text_with_slashes_or_long_text_is_text(tmp_path):
    from affectgpt.media.subtitles import read_subtitle_table, read_subtitles

    long = "我" * 300
    assert read_subtitles(long).text == long
    table = tmp_path / "t.csv"
    table.write_text("name,chinese\nclip,他说/我不知道\n", encoding="utf-8")
    t = read_subtitle_table(table)["clip"]
    assert read_subtitles(t).text == "他说/我不知道"  # a table row is never taken for a path
    with pytest.raises(InputError, match="t.csv: no row named 'other'"):
        read_subtitles(str(table), name="other")


def test_still_video_fills_every_timeline_window(tmp_path, crema, describer):
    frames, fps, audio, rate = fm.decode(crema / "1001_DFA_HAP_XX.mp4")
    p = fm.encode(tmp_path / "slow.mp4", frames[::12], fps / 12, audio, rate)  # about 2.5 frames per second
    r = _describe_once(DescribeConfig(timeline=True, window_s=0.25), p, subtitle="Don't forget a jacket.")
    assert all("video" in w["modalities"] for w in r["timeline"])


def test_vocal_measures_read_the_speech_not_the_noise_after_it(tmp_path, crema, describer):
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    track = np.concatenate([audio, fm.noise("pink", 15.0, rate, -30)])
    p = fm.encode(tmp_path / "speech_then_noise.wav", None, 0, _resample16k(track, rate), 16000)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    assert r["modalities"]["audio"] and r["audio"]["measured_s"] < 6.0 < r["duration_s"]


def _two_audio_streams(tmp_path, demo, default_second: bool) -> Path:
    """The demo clip's video with two audio streams: near-silence first, the speech second."""
    import av

    _, _, audio, rate = fm.decode(demo)
    quiet = fm.encode(tmp_path / "quiet.mka", None, 0, np.zeros_like(audio), rate)
    speech = fm.encode(tmp_path / "speech.mka", None, 0, audio, rate)
    dst = tmp_path / f"two_audio_{int(default_second)}.mkv"
    with av.open(str(demo)) as v, av.open(str(quiet)) as q, av.open(str(speech)) as sp, \
            av.open(str(dst), "w", format="matroska") as o:
        outs = [o.add_stream_from_template(src.streams[0]) for src in (v, q, sp)]
        for k, s in enumerate(outs[1:]):
            s.disposition = av.stream.Disposition.default if (k == 1) == default_second else av.stream.Disposition(0)
        for src, out in zip((v, q, sp), outs):
            for pk in src.demux(src.streams.video[0] if src is v else src.streams.audio[0]):
                if pk.dts is None:
                    continue
                pk.stream = out
                o.mux(pk)
    return dst


def test_several_audio_streams_default_flag_choice_and_override(tmp_path, demo):
    flagged = _describe_once(DescribeConfig(), _two_audio_streams(tmp_path, demo, True), subtitle="I don't know!")
    assert flagged["media"]["audio_streams"] == 2 and flagged["media"]["audio_stream"] == 1
    assert flagged["modalities"]["audio"]
    first = _two_audio_streams(tmp_path, demo, False)
    r = _describe_once(DescribeConfig(), first, subtitle="I don't know!")
    assert r["media"]["audio_stream"] == 0 and not r["modalities"]["audio"]
    assert "audio stream 0 of 2, --audio-stream picks another" in r["missing"]["audio"]
    picked = _describe_once(DescribeConfig(audio_stream=1), first, subtitle="I don't know!")
    assert picked["media"]["audio_stream"] == 1 and picked["modalities"]["audio"]
    with pytest.raises(InputError, match="has no audio stream 2 .its audio streams are 0-1"):
        Clip.open(first, audio_stream=2)


def _stereo_wav(path: Path, left: np.ndarray, right: np.ndarray, rate: int) -> Path:
    import av

    with av.open(str(path), "w") as c:
        st = c.add_stream("pcm_s16le", rate=rate)
        st.layout = "stereo"
        pcm = (np.clip(np.stack([left, right], 1), -1, 1) * 32767).astype(np.int16).reshape(1, -1)
        fr = av.AudioFrame.from_ndarray(pcm, format="s16", layout="stereo")
        fr.sample_rate = rate
        for pk in st.encode(fr):
            c.mux(pk)
        for pk in st.encode():
            c.mux(pk)
    return path


@pytest.mark.parametrize("sign", [-1.0, -0.9])
def test_phase_inverted_stereo_is_not_silence(tmp_path, crema, describer, sign):
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    p = _stereo_wav(tmp_path / "antiphase.wav", audio, sign * audio, rate)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    assert r["modalities"]["audio"] and r["speech"]["speech_s"] > 1.0
    assert "cancel when mixed" in r["audio"]["downmix"] and "phase-inverted" in r["description"]
    same = describer.describe(_stereo_wav(tmp_path / "inphase.wav", audio, audio, rate), subtitle="I'm on my way.")
    assert same["modalities"]["audio"] and "downmix" not in same["audio"]
    # the plain mix is FFmpeg's own downmix, (L + R) / sqrt 2
    import av

    with av.open(str(tmp_path / "inphase.wav")) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=16000)
        ref = np.concatenate([o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in res.resample(f)]
                             + [o.to_ndarray().reshape(-1) for o in res.resample(None)])
    ours = Clip.open(tmp_path / "inphase.wav").audio
    assert len(ours) == len(ref) and np.abs(ours - ref).max() < 1e-5


def test_wide_stereo_around_centred_speech_is_mixed_normally(tmp_path, crema, describer):
    """Speech in the centre, a louder wide (L - R) bed around it: the plain mix is the speech."""
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    t = np.arange(len(audio)) / rate
    bed = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t))
    bed = (bed / np.sqrt(np.mean(bed ** 2)) * 4 * np.sqrt(np.mean(audio ** 2))).astype(np.float32)
    p = _stereo_wav(tmp_path / "wide.wav", 0.3 * audio + 0.3 * bed, 0.3 * audio - 0.3 * bed, rate)
    r = describer.describe(p, subtitle="I'm on my way to the meeting.")
    assert "downmix" not in r["audio"] and r["modalities"]["audio"] and r["speech"]["speech_s"] > 1.0


def test_variable_frame_rate_reports_the_rate_it_has(tmp_path, demo):
    """Declared 25 fps; the first 1.2 s at 25 fps, then one frame every 0.2 s: 38 frames in 3.44 s."""
    from fractions import Fraction

    import av

    frames, _, _, _ = fm.decode(demo)
    times = [i * 0.04 for i in range(30)] + [1.2 + i * 0.2 for i in range(8)]
    p = tmp_path / "vfr.mkv"
    with av.open(str(p), "w", format="matroska") as c:
        vs = c.add_stream("libx264", rate=25)
        vs.width, vs.height, vs.pix_fmt = 720, 404, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1000)
        for t, img in zip(times, frames):
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:404, :720]), format="rgb24")
            fr.pts, fr.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for pk in vs.encode(fr):
                c.mux(pk)
        for pk in vs.encode():
            c.mux(pk)
    info = Clip.open(p).info
    assert info.fps == pytest.approx(37 / times[-1], rel=0.02)  # about 10.8, not the declared 25


@pytest.mark.parametrize("extra_s", [4.0, 20.0])
def test_audio_that_runs_on_after_the_video_gets_no_repeated_frame(tmp_path, demo, extra_s):
    frames, fps, audio, rate = fm.decode(demo)
    video_s = len(frames) / fps
    track = np.concatenate([audio, fm.noise("pink", extra_s, rate, -50)])
    p = fm.encode(tmp_path / "audio_longer.mp4", frames, fps, track.astype(np.float32), rate)
    r = _describe_once(DescribeConfig(timeline=True, window_s=2.0), p, subtitle="I don't know!")
    vs = r["timing"]["video_span_s"]
    assert abs(vs[1] - video_s) < 0.1 and r["duration_s"] > video_s + extra_s - 0.2
    assert r["modalities"]["video"]
    assert all(c["start_s"] <= vs[1] for c in r["cues"]["video"])
    after = [w for w in r["timeline"] if w["start_s"] >= vs[1]]
    assert after and all("video" not in w["modalities"] and "no video in this window" in w["missing"]["video"]
                         and "face_cues" not in w for w in after)
    assert f"the video shows only 0.0-{vs[1]:.1f} s" in r["description"]
    # the clip-level face reading comes from frames spread over the video, as for the clip alone
    alone = _describe_once(DescribeConfig(), demo, subtitle="I don't know!")
    assert r["modality_probs"]["video"] == pytest.approx(alone["modality_probs"]["video"], abs=0.05)


@pytest.mark.parametrize("lead_s", [6.0, 11.5])
def test_vocal_cue_times_are_on_the_clip_clock(tmp_path, crema, describer, lead_s):
    """Speech placed late in a long quiet track: the vocal measures read the speech alone, but
    every cue's window is reported where it is in the file, and each window holds speech. Four
    lines of one speaker, the last angry: a departure from the speaker's own voice to report."""
    lines = []
    for emotion in ("NEU", "SAD", "NEU", "ANG"):
        _, _, audio, rate = fm.decode(crema / f"1001_DFA_{emotion}_XX.mp4")
        lines += [_resample16k(audio, rate), np.zeros(4800, np.float32)]
    speech = np.concatenate(lines)
    track = np.concatenate([fm.noise("pink", lead_s, 16000, -50), speech, fm.noise("pink", 12.0, 16000, -50)])
    p = fm.encode(tmp_path / "late_speech.wav", None, 0, track.astype(np.float32), 16000)
    r = _describe_once(DescribeConfig(language="fr"), p, subtitle="I'm on my way to the meeting.")  # speaker reference
    assert r["audio"]["measured_s"] < r["duration_s"] / 2  # the speech was cut out and joined
    segs = r["speech"]["segments"]
    assert segs and segs[0][0] >= lead_s - 0.1
    timed = [c for c in r["cues"]["audio"] if c["start_s"] is not None]
    assert timed
    for c in timed:
        inside = sum(max(0.0, min(b, c["end_s"]) - max(a, c["start_s"])) for a, b in segs)
        assert inside >= 0.4 - 1e-3, (c, segs)  # on the clip's clock, over the speech
    spans = [(float(a), float(b)) for a, b in re.findall(r"at (\d+\.\d)-(\d+\.\d) s", r["description"])]
    assert spans and all(segs[0][0] - 1.05 <= a and b <= segs[-1][1] + 1.05 for a, b in spans)


def test_audio_gap_keeps_later_audio_aligned(tmp_path, crema):
    import av

    src = crema / "1001_DFA_ANG_XX.mp4"
    # remux the audio only, dropping its packets between 0.5 and 1.0 s (a damaged stretch)
    dst = tmp_path / "gap.mka"
    with av.open(str(src)) as i, av.open(str(dst), "w", format="matroska") as o:
        a_in = i.streams.audio[0]
        a_out = o.add_stream_from_template(a_in)
        for pk in i.demux(a_in):
            if pk.dts is None:
                continue
            if pk.pts is not None and 0.5 <= float(pk.pts * pk.time_base) < 1.0:
                continue
            pk.stream = a_out
            o.mux(pk)
    gap = Clip.open(dst)
    # the reference: the same remux without the gap (Matroska keeps the AAC priming the MP4's edit list drops)
    ref = Clip.open(fm.copy_stream(src, tmp_path / "full.mka", "matroska", "audio"))
    assert abs(len(gap.audio) - len(ref.audio)) < 0.05 * 16000  # the gap is filled, not closed up
    # after the gap the audio lines up again: the best lag is within 5 ms (it would be 0.5 s if closed up)
    a, b = gap.audio[int(1.2 * 16000):int(1.8 * 16000)], ref.audio[int(1.2 * 16000):int(1.8 * 16000)]
    lags = range(-8000, 8001, 8)
    best = max(lags, key=lambda k: float(np.dot(a[max(0, k):len(a) + min(0, k)], b[max(0, -k):len(b) - max(0, k)])))
    assert abs(best) <= 80


# -- the file's own subtitle tracks -----------------------------------------------------------------
ZH_CUES = [(0.5, 1.8, "我哪知道啊"), (2.0, 3.2, "<i>你别问我</i>")]
EN_CUES = [(0.5, 1.8, "How would I know")]


@pytest.mark.parametrize("offset", [0.0, 10.0])
def test_embedded_text_subtitle_track_is_the_text_on_the_clip_clock(tmp_path, demo, describer, offset):
    mkv = fm.with_subtitle_tracks(demo, tmp_path / "film.mkv", [{"cues": ZH_CUES, "language": "chi"}], offset_s=offset)
    r = describer.describe(mkv)
    t = r["transcript"]
    assert t["source"] == "embedded" and t["stream"] == 0 and t["track_language"] == "chi" and t["language"] == "zh"
    assert t["text"] == "我哪知道啊你别问我"  # tags gone, Chinese cues joined without spaces
    origin = r["timing"]["origin_s"] - offset  # the clip's clock starts at its first audio/video timestamp
    assert [(s["start_s"], s["end_s"]) for s in t["segments"]] == [
        (round(a - origin, 3), round(b - origin, 3)) for a, b, _ in ZH_CUES]
    assert "language_probability" not in t and "model" not in t  # no speech recognition ran
    assert r["text_model"].startswith("text_zh") and r["modalities"]["text"]
    assert r["media"]["subtitle_streams"] == 1 and r["media"]["subtitle_stream"] == 0
    # the timeline reads each window's own cues
    texts = [(w["start_s"], w["end_s"], w.get("text") or "") for w in r["timeline"]]
    assert [x for _, _, x in texts] == ["我哪知道啊", "你别问我"]  # 2 s windows: one cue each


def test_subtitle_track_choice_default_forced_and_override(tmp_path, demo):
    tracks = [{"cues": ZH_CUES, "language": "chi", "forced": True}, {"cues": EN_CUES, "language": "eng"},
              {"cues": [(0.5, 1.8, "Wie soll ich das wissen")], "language": "ger", "default": True}]
    mkv = fm.with_subtitle_tracks(demo, tmp_path / "three.mkv", tracks)
    assert Clip.open(mkv).subtitles.extra["track_language"] == "ger"  # default-flagged
    two = fm.with_subtitle_tracks(demo, tmp_path / "two.mkv", tracks[:2])
    assert Clip.open(two).subtitles.extra["track_language"] == "eng"  # the forced track is not the dialogue
    picked = Clip.open(two, subtitle_stream=0)
    assert picked.subtitles.text == "我哪知道啊你别问我" and picked.info.subtitle_stream == 0
    assert Clip.open(two, subtitles=False).subtitles is None
    with pytest.raises(InputError, match="has no subtitle stream 2 .its subtitle streams are 0-1"):
        Clip.open(two, subtitle_stream=2)
    with pytest.raises(InputError, match="has no subtitle stream"):
        Clip.open(demo, subtitle_stream=0)


def test_given_subtitle_or_switch_overrides_the_embedded_track(tmp_path, demo):
    mkv = fm.with_subtitle_tracks(demo, tmp_path / "film.mkv", [{"cues": EN_CUES, "language": "eng"}])
    given = _describe_once(DescribeConfig(), mkv, subtitle="我哪知道啊")
    assert given["transcript"]["source"] == "string" and given["transcript"]["language"] == "zh"
    assert given["media"]["subtitle_streams"] == 1 and given["media"]["subtitle_stream"] is None  # not the one read
    with pytest.raises(ValueError, match="give one of the two"):
        DescribeConfig(subtitle_stream=0, embedded_subtitles=False)
    japanese = _describe_once(DescribeConfig(asr=False), mkv, subtitle="私は知らないよ")
    assert not japanese["modalities"]["text"] and "Japanese" in japanese["missing"]["text"]
    assert japanese["language"]["text"] is None and japanese["transcript"]["language"] == "ja"
    off = _describe_once(DescribeConfig(embedded_subtitles=False, asr=False), mkv)
    assert off["transcript"]["source"] == "none" and not off["modalities"]["text"]
    assert "subtitle_note" not in off["media"]


def test_subtitle_track_without_words_in_the_span_leaves_the_speech_to_asr(tmp_path, demo):
    mkv = fm.with_subtitle_tracks(demo, tmp_path / "late.mkv",
                                  [{"cues": [(0.2, 0.8, "♪ ♪"), (30.0, 31.0, "我哪知道啊")], "language": "chi"}])
    clip = Clip.open(mkv)
    assert clip.subtitles is None and clip.subtitle_problem == "subtitle stream 0 has no words in the analysed span"
    r = _describe_once(DescribeConfig(asr=False), mkv)
    assert r["transcript"]["source"] == "none" and r["media"]["subtitle_note"] == clip.subtitle_problem


# -- pixels and samples as recorded ------------------------------------------------------------------
def test_anamorphic_video_is_read_as_displayed(tmp_path, demo, describer):
    import cv2
    from fractions import Fraction

    frames, fps, audio, rate = fm.decode(demo)
    h, w = frames[0].shape[:2]
    own = Clip.open(demo)  # its encoder wrote 359:360: square for every purpose, never resampled
    assert own.info.sample_aspect_ratio == 1.0 and own.frames_at([1.0]).frames[0].shape[:2] == (h, w)
    squeezed = [cv2.resize(f, (w // 2, h), interpolation=cv2.INTER_AREA) for f in frames]
    anamorphic = fm.encode(tmp_path / "anamorphic.mp4", squeezed, fps, audio, rate, sar=Fraction(2, 1))
    clip = Clip.open(anamorphic)
    assert clip.info.sample_aspect_ratio == 2.0 and abs(clip.info.width - w) <= 2 and clip.info.height == h
    assert clip.frames_at([1.0]).frames[0].shape[:2] == (h, clip.info.width)
    square = fm.encode(tmp_path / "square.mp4", frames, fps, audio, rate)
    got, ref = describer.describe(anamorphic), describer.describe(square)
    assert got["media"]["sample_aspect_ratio"] == 2.0 and ref["media"]["sample_aspect_ratio"] == 1.0
    cues = {c["name"]: c["value"] for c in got["cues"]["video"]}
    ref_cues = {c["name"]: c["value"] for c in ref["cues"]["video"]}
    # squeezed 2:1, the brows read 0.67 (strong) where the square clip reads 0.10
    assert abs(cues.get("brow_raising", 0) - ref_cues.get("brow_raising", 0)) < 0.1
    assert got["faces"]["n_faces"] == ref["faces"]["n_faces"]


def _wav_of(tmp_path, crema: Path, name: str, gain_db: float = 0.0, offset: float = 0.0) -> Path:
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    return fm.encode(tmp_path / name, None, 0, audio * 10 ** (gain_db / 20) + offset, rate)  # s16: cut at full scale


def test_dc_offset_does_not_move_the_voice_cues(tmp_path, crema, describer):
    clean = describer.describe(_wav_of(tmp_path, crema, "clean.wav"))
    offset = describer.describe(_wav_of(tmp_path, crema, "offset.wav", offset=0.05))
    z = {c["name"]: c["z"] for c in clean["cues"]["audio"]}
    z_off = {c["name"]: c["z"] for c in offset["cues"]["audio"]}
    assert set(z_off) == set(z)  # before: the offset turned a hoarse voice into a "clear, harmonic" one
    assert all(abs(z_off[k] - z[k]) < 0.3 for k in z)


@pytest.mark.parametrize("gain_db,mode", [(15.0, "flag"), (30.0, "drop")])
def test_clipped_audio_is_measured_and_its_distorted_cues_flagged_or_dropped(tmp_path, crema, describer, gain_db,
                                                                             mode):
    from affectgpt.analyzers.acoustic import CLIPPING_DISTORTS

    clean = describer.describe(_wav_of(tmp_path, crema, "clean.wav"))
    assert clean["audio"]["clipped_share"] == 0 and "clipping" not in clean["audio"]
    r = describer.describe(_wav_of(tmp_path, crema, f"loud{gain_db:.0f}.wav", gain_db=gain_db))
    assert r["audio"]["clipping"] == mode and r["audio"]["clipped_share"] > 0.001
    hit = [c for c in r["cues"]["audio"] if c["name"] in CLIPPING_DISTORTS]
    if mode == "drop":
        assert not hit and "the audio is clipped" in r["description"]
    else:
        assert all(c.get("flag") == "clipped audio" for c in hit)
    for w in r["timeline"]:
        assert all(c["name"] not in CLIPPING_DISTORTS or mode == "flag" for c in w.get("voice_cues", []))


def test_speech_recorded_far_too_low_is_analysed_and_digital_silence_is_not(tmp_path, crema, describer):
    ref = describer.describe(_wav_of(tmp_path, crema, "ref.wav"))
    quiet = describer.describe(_wav_of(tmp_path, crema, "quiet.wav", gain_db=-40.0))  # peak about -49 dBFS
    assert quiet["modalities"]["audio"], quiet["missing"]  # was "silence (no audible sound)" beside a transcript
    assert quiet["speech"]["speech_s"] > 0.5
    assert {c["name"] for c in quiet["cues"]["audio"]} == {c["name"] for c in ref["cues"]["audio"]}
    hush = describer.describe(_wav_of(tmp_path, crema, "hush.wav", gain_db=-75.0))  # below 16-bit resolution
    assert not hush["modalities"]["audio"] and hush["missing"]["audio"].startswith("silence")


@pytest.mark.parametrize("case", ["negative_rail", "mulaw", "alaw", "float_over_1", "aac_of_clipped"])
def test_clipping_is_measured_on_either_rail_for_any_sample_format(tmp_path, crema, case):
    """FFmpeg's 16-bit negative rail is -32768 (abs overflows in int16); G.711 tops out below
    the 16-bit full scale; floats beyond 1.0 hold their peaks (nothing is cut)."""
    _, _, audio, rate = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    loud = audio * 10 ** (12 / 20) - 0.6  # a DC shift down: only the negative peaks reach the rail
    if case == "negative_rail":
        path = fm.encode(tmp_path / "neg.wav", None, 0, loud, rate, s16_scale=32768.0)
        expected = np.mean(np.clip(np.round(loud * 32768), -32768, 32767) <= -32768 * 0.99)
    elif case in ("mulaw", "alaw"):
        path = fm.encode(tmp_path / f"{case}.wav", None, 0, audio * 10 ** (30 / 20), rate, audio_codec=f"pcm_{case}")
        expected = np.mean(np.abs(audio * 10 ** (30 / 20)) >= 0.99)
    elif case == "aac_of_clipped":  # clipped at 16 bits, then AAC: decoded floats overshoot past 1.0
        cut = np.clip(audio * 10 ** (20 / 20), -1, 1)
        path = fm.encode(tmp_path / "clipped.mp4", None, 0, cut, rate)
        expected = float(np.mean(np.abs(cut) >= 0.99))
    else:
        path = fm.encode(tmp_path / "f32.wav", None, 0, audio * 10 ** (30 / 20), rate, audio_codec="pcm_f32le")
        expected = 0.0
    clip = Clip.open(path)
    if case == "aac_of_clipped":  # lossy: not every clipped sample comes back at full scale
        assert clip.clipped_share > 0.001 and expected > 0.01
        return
    assert clip.clipped_share == pytest.approx(expected, abs=max(0.2 * expected, 1e-4))
    if case != "float_over_1":
        assert clip.clipped_share > 0.01


def test_a_cut_to_a_shot_without_the_face_while_speech_goes_on_makes_the_speaker_uncertain(tmp_path, demo, describer):
    """A cutaway (scenery, another angle) while the voice goes on: the voice there may be another
    person's, so the face described is not said to be the speaker without doubt."""
    frames, fps, audio, rate = fm.decode(demo)
    n = len(frames) // 2
    h, w = frames[0].shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    scenery = np.stack([xx * 255 // w, yy * 200 // h, np.full((h, w), 90)], -1).astype(np.uint8)
    r = describer.describe(fm.encode(tmp_path / "cutaway.mp4", frames[:n] + [scenery] * (len(frames) - n), fps,
                                     audio, rate))
    f = r["faces"]
    assert f["shots"] == 2 and f["uncertain"]
    assert "no face is seen in the shot at" in f["uncertain_reason"] and "speaker uncertain" in r["description"]
    a, b = map(float, re.search(r"shot at ([\d.]+)-([\d.]+) s", f["uncertain_reason"]).groups())
    assert n / fps - 0.1 <= a <= n / fps + 0.5 and b == pytest.approx(r["duration_s"], abs=0.1)
    # one continuous shot of the speaker: no such doubt
    assert not describer.describe(demo)["faces"]["uncertain"]


def test_every_timeline_window_with_audio_says_why_it_has_no_voice_cue(demo, describer):
    """The 3.5 s demo has two 2 s windows: too few to compare the voice with itself. The windows
    said nothing; each now gives the reason, and never a cue it did not measure."""
    r = describer.describe(demo)
    assert len(r["timeline"]) == 2
    for w in r["timeline"]:
        if "audio" in w["modalities"]:
            assert "voice_cues" not in w and "too few windows with speech" in w["voice_cues_note"]
            assert "(2 of 3 needed)" in w["voice_cues_note"]


def test_long_speech_keeps_the_windows_recognised_with_confidence(data_dir, demo):
    """The confidence floor applies per 30 s decoding window: the stretches Whisper loops on are
    dropped (with their text kept for inspection), the rest of a long file's transcript stays."""
    from affectgpt.describe.pipeline import _notes
    from affectgpt.media.asr import Transcriber

    ravdess = sorted((data_dir / "ravdess").rglob("Actor_21/*.flac"))[:40:4]  # 2 sentences, read over and over
    looped = np.concatenate([Clip.open(f).audio for f in ravdess])[: int(29.5 * 16000)]
    # then varied speech (Mandarin, CREMA-D and other RAVDESS speakers in turn, with pauses)
    crema = sorted((data_dir / "crema_d/video_mp4").glob("*.mp4"))
    others = sorted((data_dir / "ravdess").rglob("Actor_2[234]/*.flac"))
    pause = np.zeros(8000, np.float32)
    varied = [Clip.open(demo).audio, pause]
    for k in range(6):
        varied += [Clip.open(crema[k]).audio, pause, Clip.open(others[k * 7]).audio, pause]
    audio = np.concatenate([looped, pause, *varied]).astype(np.float32)
    t = Transcriber("base", language="en").transcribe(audio)
    assert t.dropped is None and t.segments and t.text
    assert t.extra["windows"] >= 2 and 1 <= t.extra["windows_dropped"] < t.extra["windows"]
    assert "compression ratio" in t.extra["windows_dropped_reason"] and t.rejected_text
    assert all(0 <= s.start_s < s.end_s <= len(audio) / 16000 + 0.01 for s in t.segments)
    d = t.to_dict()
    assert d["windows_dropped"] == t.extra["windows_dropped"] and d["rejected_text"] == t.rejected_text
    # the description and the empty timeline windows say that part of the speech was not transcribed
    note = _notes({"transcript": d, "modalities": {"text": True, "audio": True, "video": False}, "timing": {},
                   "audio": {}, "media": {}, "faces": {}})
    assert any(f"{d['windows_dropped']} of {d['windows']} 30 s stretches were not recognised" in n for n in note)
    assert "not recognised with confidence" in Describer._no_window_text(t, 0.0, 2.0)


def test_a_still_image_and_a_face_seen_in_part_of_the_clip_are_said(tmp_path, crema, describer):
    frames, fps, audio, rate = fm.decode(crema / "1001_DFA_HAP_XX.mp4")
    still = describer.describe(fm.encode(tmp_path / "still.mp4", frames[len(frames) // 2:][:1], fps, None, rate))
    assert still["media"]["video_frames"] == 1 and "single still image" in still["description"]
    cut = len(frames) * 2 // 3
    late = [np.zeros_like(f) for f in frames[:cut]] + frames[cut:]
    r = describer.describe(fm.encode(tmp_path / "late_face.mp4", late, fps, audio, rate), subtitle="Fine.")
    assert r["faces"]["coverage"] < 0.5 and "a face was visible in only" in r["description"]
    whole = describer.describe(crema / "1001_DFA_HAP_XX.mp4", subtitle="Fine.")
    assert "a face was visible in only" not in whole["description"] and "still image" not in whole["description"]


def test_subtitle_file_cues_after_the_analysed_span_are_left_out(tmp_path, crema, describer):
    """An external SRT whose cues run past the clip (another clip's file, a whole episode's
    subtitles): only cues starting inside the analysed span are read, the rest are counted."""
    clip = sorted(crema.glob("*.mp4"))[0]
    srt = tmp_path / "beyond.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nI am so happy today\n\n"
                   "2\n00:05:00,000 --> 00:05:02,000\nI hate you, I am furious\n", encoding="utf-8")
    r = describer.describe(clip, subtitle=str(srt))
    assert r["transcript"]["text"] == "I am so happy today"
    assert r["transcript"]["cues_after_span"] == 1 and r["transcript"]["first_cue_after_span_s"] == 300.0
    only_late = tmp_path / "late.srt"
    only_late.write_text("1\n00:05:00,000 --> 00:05:02,000\nI hate you, I am furious\n", encoding="utf-8")
    r = describer.describe(clip, subtitle=str(only_late))
    assert not r["modalities"]["text"] and "cues start at 300.0 s" in r["missing"]["text"]
    assert "I hate you" not in r["description"] and r["transcript"]["text"] == ""


def test_a_csv_given_as_subtitle_is_a_table_named_by_clip_names(tmp_path, demo):
    """`--subtitle table.csv` reads each clip's row like --subtitles, under --clip-names."""
    import json
    import shutil

    from affectgpt import cli

    folder = tmp_path / "Raw" / "video_0001"
    folder.mkdir(parents=True)
    shutil.copy(demo, folder / "0001.mp4")
    table = tmp_path / "sims.csv"
    table.write_text("name,chinese\nvideo_0001_0001,我真的太开心了\n", encoding="utf-8")
    out = tmp_path / "run"
    assert cli.main(["describe", str(tmp_path / "Raw"), "--clip-names", "parent_stem", "--subtitle", str(table),
                     "--out", str(out), "--no-asr", "-q"]) == 0
    rec = json.loads((out / "results.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["name"] == "video_0001_0001" and rec["transcript"]["text"] == "我真的太开心了"


# -- round 3 of odd media: a face seen only between the clip-level frames, short speech, DC offset,
# raw elementary streams, audio ending before the video, a still picture under a voice, repeats
def test_a_face_seen_only_between_the_clip_level_frames_is_described(tmp_path, demo, describer):
    """A long scene where the speaker is on screen for 2 s that none of the 8 clip-level frames
    falls in: the face is read from the frames that show it, never "not visible in this window"."""
    frames, fps, audio, rate = fm.decode(demo)
    step = 3  # about 8 frames per second keeps the file small
    looped = (frames[::step] * 8)[: int(24 * fps / step)]
    out_fps = fps / step
    track = np.tile(audio, 8)[: int(24 * rate)]
    dark = fm.encode(tmp_path / "dark.mp4", [np.zeros_like(f) for f in looped], out_fps, None, rate)
    clip_times = Clip.open(dark).uniform_times(describer.config.frames)  # where the clip-level frames fall
    gap = max(zip(clip_times, clip_times[1:]), key=lambda ab: ab[1] - ab[0])
    a, b = gap[0] + 0.4, gap[1] - 0.4  # the face is shown strictly between two clip-level frames
    shown = [f if a <= i / out_fps < b else np.zeros_like(f) for i, f in enumerate(looped)]
    p = fm.encode(tmp_path / "glimpse.mp4", shown, out_fps, track, rate)
    r = describer.describe(p, subtitle="我哪知道啊")
    assert r["modalities"]["video"], r["missing"]
    assert r["faces"]["frames_read"].startswith("frames outside the clip-level sample")
    assert "in this window" not in r["description"] and r["faces"]["coverage"] < 0.3
    # without a timeline no other frames are decoded: finding no face in 8 frames 3 s apart, the
    # front end looks at a frame every second before giving up
    flat = _describe_once(DescribeConfig(timeline=False), p, subtitle="我哪知道啊")
    assert flat["modalities"]["video"] and flat["faces"]["dense_search"], flat["missing"]


def test_too_little_speech_for_a_speaker_baseline_is_said_not_called_usual(tmp_path, demo, describer):
    frames, fps, audio, rate = fm.decode(demo)
    p = fm.encode(tmp_path / "cut2s.mp4", frames[: int(2 * fps)], fps, audio[: int(2 * rate)], rate)
    r = describer.describe(p)  # Mandarin speech: cues against the speaker's own voice, which needs 3 windows
    assert r["modalities"]["audio"] and r["cues"]["audio"] == []
    assert "too little speech" in r["audio"]["cues_not_measured"]
    assert "usual range over the clip" not in r["description"] and "too little speech to compare" in r["description"]


@pytest.mark.parametrize("offset", [0.1, 0.5])
def test_a_dc_offset_is_removed_before_voice_activity_and_asr(tmp_path, demo, offset):
    _, _, audio, rate = fm.decode(demo)
    quiet = 0.3 * audio
    clean = Clip.open(fm.encode(tmp_path / "clean.wav", None, 0, quiet, rate))
    shifted = Clip.open(fm.encode(tmp_path / "dc.wav", None, 0, quiet + offset, rate))
    assert shifted.dc_offset == pytest.approx(offset, abs=0.01) and clean.dc_offset is None
    assert abs(shifted.speech().speech_s - clean.speech().speech_s) < 0.1  # 1.41 of 2.49 s before, at 0.5


def test_the_dc_offset_leaves_the_silence_put_into_a_timestamp_gap_silent(tmp_path):
    """Audio with an offset of 0.4 and a 1 s hole in its timestamps: the hole is filled with
    silence, and removing the offset must not turn that silence into a -0.27 constant."""
    from fractions import Fraction

    import av

    from affectgpt.analyzers.acoustic import is_silent

    sr = 16000
    tone = (0.4 + 0.2 * np.sin(2 * np.pi * 220 * np.arange(sr) / sr)).astype(np.float32)
    path = tmp_path / "gap.mkv"
    with av.open(str(path), "w") as out:
        s = out.add_stream("pcm_s16le", rate=sr, layout="mono")
        for start in (0, 2 * sr):  # 0-1 s, then 2-3 s
            for i in range(0, sr, 1024):
                fr = av.AudioFrame.from_ndarray((tone[i:i + 1024] * 32767).astype(np.int16)[None], format="s16",
                                                layout="mono")
                fr.sample_rate, fr.pts, fr.time_base = sr, start + i, Fraction(1, sr)
                for p in s.encode(fr):
                    out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    c = Clip.open(path)
    a = c.audio
    assert c.dc_offset == pytest.approx(0.4, abs=0.01)
    assert is_silent(a[int(1.2 * sr):int(1.8 * sr)]) and abs(float(a[int(1.2 * sr):int(1.8 * sr)].mean())) < 1e-6
    for lo, hi in ((0.2, 0.8), (2.2, 2.8)):
        assert abs(float(a[int(lo * sr):int(hi * sr)].mean())) < 0.01


def test_a_talking_face_in_a_large_static_room_is_no_still_picture(crema):
    """The still-picture test reads cells of the frame: a moving face in a static 1280x720 room
    changes its cells; a looped still with encoder-like noise does not."""
    from affectgpt.media.faces import _unchanging

    frames, _, _, _ = fm.decode(crema / "1001_DFA_ANG_XX.mp4")
    rng = np.random.default_rng(0)
    room = rng.integers(40, 200, (720, 1280, 3)).astype(np.uint8)
    talking = []
    for f in frames[::8]:
        g = room.copy()
        s = f[::2, ::2]  # the face at about half size, in one part of the room
        g[150:150 + s.shape[0], 400:400 + s.shape[1]] = s
        talking.append(g)
    assert not _unchanging(talking)
    still = [np.clip(room.astype(np.int16) + rng.integers(-1, 2, room.shape), 0, 255).astype(np.uint8)
             for _ in range(8)]
    assert _unchanging(still)


def test_raw_h264_elementary_streams_are_read_frame_for_frame(tmp_path, demo):
    """A .h264 stream without a container has no timestamps: its frames are spaced by the packet
    duration and decode in order, the same pictures as the MP4's."""
    a, b = Clip.open(fm.copy_stream(demo, tmp_path / "raw.h264", "h264")), Clip.open(demo)
    assert a.video_problem is None and abs(a.duration_s - b.duration_s) < 0.05
    fa, fb = a.frames_at(a.uniform_times(8), distinct=True), b.frames_at(b.uniform_times(8), distinct=True)
    assert [_digest(x) for x in fa.frames] == [_digest(x) for x in fb.frames]
    assert np.allclose(fa.times_s, fb.times_s, atol=0.01)


def test_audio_ending_before_the_video_is_said_and_its_windows_say_why(tmp_path, demo, describer):
    frames, fps, audio, rate = fm.decode(demo)
    p = fm.encode(tmp_path / "a_short.mp4", frames, fps, audio[: int(1.2 * rate)], rate)
    r = describer.describe(p)
    assert r["timing"]["audio_span_s"][1] == pytest.approx(1.2, abs=0.05)
    assert "the audio covers only 0.0-1.2 s" in r["description"]
    last = r["timeline"][-1]
    assert last["missing"]["audio"].startswith("no audio in this window (the audio covers 0.0-1.2 s)")


def test_a_still_picture_under_a_voice_is_not_taken_for_the_speaker(tmp_path, demo, describer):
    frames, fps, audio, rate = fm.decode(demo)
    p = fm.encode(tmp_path / "still_voice.mp4", [frames[len(frames) // 2]] * len(frames), fps, audio, rate)
    r = describer.describe(p)
    faces = r["faces"]
    assert faces["still_picture"] and not faces["speaker_speaks"] and faces["uncertain"]
    assert "does not change over the clip" in r["description"] and "speaker uncertain" in r["description"]
    moving = describer.describe(demo)
    assert moving["faces"]["speaker_speaks"] and not moving["faces"]["uncertain"]
    assert "still_picture" not in moving["faces"]


def test_repeated_inputs_are_described_once_and_said(tmp_path, demo, caplog):
    from affectgpt.pipeline import collect_inputs

    link = tmp_path / "link.mp4"
    link.symlink_to(demo)
    with caplog.at_level("WARNING"):
        got = collect_inputs([str(demo), str(link), str(demo)])
    assert got == [demo] and "2 input(s) name a file already given" in caplog.text
