"""Window functionals from low-level descriptors agree with openSMILE's own functionals."""

from __future__ import annotations

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
