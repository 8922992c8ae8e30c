"""Window functionals from low-level descriptors agree with openSMILE's own functionals."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("opensmile")

from affectgpt.analyzers.acoustic import egemaps, egemaps_lld, normalize_level, window_functionals  # noqa: E402
from affectgpt.media.clip import Clip  # noqa: E402


@pytest.mark.parametrize("clip", ["1001_DFA_ANG_XX.mp4", "1001_DFA_HAP_XX.mp4"])
def test_window_functionals_match_opensmile(data_dir, clip):
    audio = normalize_level(Clip.open(data_dir / "crema_d" / "video_mp4" / clip).audio)
    names, full = egemaps(audio)
    ln, lld = egemaps_lld(audio)
    wn, mine = window_functionals(ln, lld, 0.0, len(audio) / 16000)
    ref = dict(zip(names, full))
    got = dict(zip(wn, mine))
    assert ref["F0semitoneFrom27.5Hz_sma3nz_amean"] > 0  # a voiced clip
    assert abs(got["F0semitoneFrom27.5Hz_sma3nz_percentile50.0"] - ref["F0semitoneFrom27.5Hz_sma3nz_percentile50.0"]) < 0.5
    assert abs(got["F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2"] - ref["F0semitoneFrom27.5Hz_sma3nz_pctlrange0-2"]) < 1.0
    assert got["loudness_sma3_amean"] == pytest.approx(ref["loudness_sma3_amean"], rel=0.05)
    assert got["HNRdBACF_sma3nz_amean"] == pytest.approx(ref["HNRdBACF_sma3nz_amean"], abs=1.0)
    assert got["jitterLocal_sma3nz_amean"] == pytest.approx(ref["jitterLocal_sma3nz_amean"], rel=0.25)


def test_unvoiced_window_defines_no_voice_feature(data_dir):
    import numpy as np

    audio = normalize_level(Clip.open(data_dir / "crema_d" / "video_mp4" / "1001_DFA_ANG_XX.mp4").audio)
    ln, lld = egemaps_lld(audio)
    wn, vals = window_functionals(ln, lld, 0.0, 0.3)  # before the speech starts (~0.45 s)
    got = dict(zip(wn, vals))
    assert got["F0semitoneFrom27.5Hz_sma3nz_amean"] == 0 and got["VoicedSegmentsPerSec"] == 0
    # undefined, not zero: an unvoiced window must not pull the speaker's median pitch down
    for k in ("F0semitoneFrom27.5Hz_sma3nz_percentile50.0", "jitterLocal_sma3nz_amean", "HNRdBACF_sma3nz_amean"):
        assert np.isnan(got[k])


def _voice_like(f0: float, seconds: float = 2.0):
    """A harmonic tone (the harmonics of ``f0`` Hz below 7.8 kHz, -6 dB per octave, 5 Hz vibrato) at 16 kHz."""
    import numpy as np

    t = np.arange(int(16000 * seconds)) / 16000
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 5 * t))) / 16000
    y = sum(np.sin(k * phase) / k for k in range(1, 80) if k * f0 < 7800)
    return (0.1 * y / np.abs(y).max()).astype(np.float32)


def _highpass(y, edge=300):
    from scipy.signal import butter, sosfiltfilt

    return sosfiltfilt(butter(8, edge, "highpass", fs=16000, output="sos"), y).astype("float32")


def _lowpass_rate(y, up, down):
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(y, up, down), down, up).astype("float32")


@pytest.mark.parametrize("f0", [110.0, 220.0])
def test_band_edges_follow_the_filters(f0):
    from affectgpt.analyzers.acoustic import audio_band

    full = audio_band(_voice_like(f0), 16000)
    assert not full["narrowband"] and full["band_low_hz"] <= f0 + 10 and full["bandwidth_hz"] > 5500
    cut = audio_band(_highpass(_voice_like(f0)), 16000)
    assert cut["band_low_hz"] >= 200 and not cut["narrowband"]  # the low band only
    eight = audio_band(_lowpass_rate(_voice_like(f0), 1, 2), 16000)
    assert eight["narrowband"] and eight["bandwidth_hz"] <= 4100  # upper band cut, detected without the rate
    assert audio_band(_voice_like(f0), 8000)["narrowband"]  # a native 8 kHz rate is narrow-band whatever it holds
    eleven = audio_band(_lowpass_rate(_voice_like(f0), 441, 640), 11025)
    assert not eleven["narrowband"]  # 11.025 kHz keeps the band up to ~5 kHz


def test_fundamental_cut_compares_the_band_edge_with_the_voice():
    from affectgpt.analyzers.acoustic import fundamental_cut

    st = lambda hz: 12 * np.log2(hz / 27.5)  # noqa: E731
    assert fundamental_cut(270.0, st(120.0))  # a low voice behind a 300 Hz high-pass
    assert not fundamental_cut(270.0, st(350.0))  # a high voice keeps its fundamental
    assert not fundamental_cut(55.0, st(120.0))  # full band
    for undefined in (None, 0.0, float("nan")):  # no voiced frame: no judgement
        assert not fundamental_cut(270.0, undefined)
    assert not fundamental_cut(None, st(120.0))


def test_band_drops_each_limit_its_own_cues():
    from affectgpt.analyzers.acoustic import FUNDAMENTAL_CUT_DISTORTS, UPPER_CUT_DISTORTS, band_drops, band_note

    assert band_drops({}) == (frozenset(), None) and band_note({}) is None
    drop, flag = band_drops({"narrowband": True})
    assert drop == UPPER_CUT_DISTORTS and flag == "narrow-band audio"
    assert not drop & {"pitch_level", "pitch_range", "speaking_rate"}  # an 8 kHz rate keeps the pitch
    drop, flag = band_drops({"fundamental_cut": True})
    assert drop == FUNDAMENTAL_CUT_DISTORTS and "speaking_rate" in drop and flag == "fundamental cut"
    drop, flag = band_drops({"narrowband": True, "fundamental_cut": True})
    assert drop == UPPER_CUT_DISTORTS | FUNDAMENTAL_CUT_DISTORTS and flag == "narrow-band audio; fundamental cut"
    note = band_note({"narrowband": True, "bandwidth_hz": 3600, "sample_rate": 8000, "fundamental_cut": True,
                      "band_low_hz": 270})
    assert "3600 Hz wide" in note and "below about 270 Hz" in note and "speaking rate" in note


@pytest.mark.parametrize("language", ["zh", "en"])  # speaker-relative and population references
def test_sound_outside_the_speech_does_not_change_the_voice_cues(data_dir, language):
    """A melody before the speech (film music, a jingle) was tracked as pitch and voice quality
    ("a clear, harmonic voice, +5.9 SD" in the window where the music ends): the cues read the
    speech segments only, so the same speech after music or after silence gives the same cues."""
    from affectgpt.analyzers.acoustic import AcousticAnalyzer, mask_non_speech
    from affectgpt.media.vad import detect_speech

    speech_audio = Clip.open(data_dir / "demo" / "sample_00000000.mp4").audio
    t = np.arange(4 * 16000) / 16000
    hz = 262 * 2 ** ((np.floor(t * 4) * 5 % 12) / 12)
    phase = 2 * np.pi * np.cumsum(hz) / 16000
    melody = (0.18 * np.sin(phase) + 0.09 * np.sin(2 * phase)).astype(np.float32)
    with_music = np.concatenate([melody, speech_audio])
    sp = detect_speech(with_music)
    assert sp.segments[0][0] > 3.9  # the melody is not speech
    with_silence = mask_non_speech(with_music, sp)
    assert not with_silence[: int(3.8 * 16000)].any() and with_silence[int(4.5 * 16000):].any()
    ac = AcousticAnalyzer(calibration=False)  # every departure of 0.5 SD: the measurements themselves
    got = [ac.analyze(x, language=language, speech=sp) for x in (with_music, with_silence)]
    # on the population path loudness is read over the whole recording, as its norms were
    keep = [[c for c in r.cues if language != "en" or not c.name.startswith("loudness")] for r in got]
    # identical but for the level normalisation, whose gain the music moves a little
    assert [(c.name, c.start_s) for c in keep[0]] == [(c.name, c.start_s) for c in keep[1]] and keep[0]
    assert all(abs(a.z - b.z) < 0.05 for a, b in zip(*keep))


def _melody(n: int, seed: int = 0) -> np.ndarray:
    """A tune of harmonic notes changing four times a second (film music under dialogue)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 16000
    hz = (220 * 2 ** (rng.integers(0, 12, n // 4000 + 2) / 12))[(t * 4).astype(int)]
    phase = 2 * np.pi * np.cumsum(hz) / 16000
    return (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.3 * np.sin(3 * phase)).astype(np.float32)


@pytest.mark.parametrize("snr_db,mode", [(5.0, "drop"), (12.0, "flag"), (None, None)])
def test_music_under_the_speech_is_measured_and_its_cues_dropped_or_flagged(data_dir, snr_db, mode):
    from affectgpt.analyzers.acoustic import AcousticAnalyzer, speech_to_background_db
    from affectgpt.media.vad import detect_speech

    audio = Clip.open(data_dir / "demo" / "sample_00000000.mp4").audio
    sp = detect_speech(audio)
    speech_power = float(np.mean(audio[int(sp.segments[0][0] * 16000):int(sp.segments[-1][1] * 16000)] ** 2))
    if snr_db is not None:
        music = _melody(len(audio))
        audio = audio + music * np.sqrt(speech_power / np.mean(music ** 2) / 10 ** (snr_db / 10)).astype(np.float32)
    measured = speech_to_background_db(audio, detect_speech(audio))
    r = AcousticAnalyzer().analyze(audio, language="zh")
    a = r.extra["audio"]
    assert a.get("background") == mode and a["snr_db"] == pytest.approx(measured, abs=0.06)
    if snr_db is not None:
        assert abs(measured - snr_db) < 3.0  # the estimate follows the mix
    if mode == "drop":
        assert r.cues == [] and "background sound" in r.extra["cues_dropped_reason"]
        assert r.present and r.probs  # the vocal tone is still read; only the cues are withheld
    elif mode == "flag":
        assert r.cues and all("background sound (speech 1" in c.flag for c in r.cues)
    else:
        assert measured > 15 and all(not c.flag for c in r.cues)


def test_population_loudness_is_measured_as_the_norms_were(data_dir):
    """Silencing the sound outside the speech must not make the loudness vary: on the English
    (population) path loudness is read over the whole recording, as the RAVDESS norms were."""
    from affectgpt.analyzers.acoustic import AcousticAnalyzer, egemaps

    ac = AcousticAnalyzer()
    seen = 0
    for f in sorted((data_dir / "ravdess" / "audio_16k_flac" / "Actor_02").glob("03-01-01-*.flac"))[:4]:
        audio = Clip.open(f).audio
        r = ac.analyze(audio, language="en")
        names, full = egemaps(normalize_level(audio))
        for c in r.cues:
            if c.name == "loudness_variation":
                seen += 1
                assert c.value == pytest.approx(float(full[names.index("loudness_sma3_stddevNorm")]), rel=1e-4)
    assert seen >= 1


def test_a_silent_lead_in_does_not_hide_the_background_music():
    from affectgpt.analyzers.acoustic import speech_to_background_db

    rng = np.random.default_rng(0)
    n = 10 * 16000
    speech = np.zeros(n, np.float32)
    for a, b in ((3, 5), (6, 8)):
        speech[a * 16000:b * 16000] = rng.standard_normal((b - a) * 16000) * 0.1
    music = _melody(n)
    music *= np.float32(np.sqrt(0.01 / np.mean(music ** 2) / 10 ** 0.3))  # 3 dB below the speech
    class Segments:  # the voice activity of the constructed clip
        segments = ((3.0, 5.0), (6.0, 8.0))

    for start_s in (0.0, 1.5, 2.0):
        mix = speech + np.where(np.arange(n) >= start_s * 16000, music, 0).astype(np.float32)
        assert speech_to_background_db(mix, Segments()) == pytest.approx(3.0, abs=1.0), start_s
    assert speech_to_background_db(speech, Segments()) == 99.0  # nothing but digital silence around it


def test_non_finite_samples_are_silence_not_a_crash(tmp_path):
    import soundfile as sf

    from affectgpt.analyzers.acoustic import AcousticAnalyzer

    x = _melody(3 * 16000) * 0.1
    x[1000:1010] = np.nan
    x[2000] = np.inf
    p = tmp_path / "nan.wav"
    sf.write(p, x, 16000, subtype="FLOAT")
    c = Clip.open(p)
    assert np.isfinite(c.audio).all() and c.audio[1000:1010].max() == 0
    r = AcousticAnalyzer().analyze(c.audio, language="en")  # a tune, not speech: gated, no crash
    assert not r.present or all(np.isfinite(cue.z) for cue in r.cues)
