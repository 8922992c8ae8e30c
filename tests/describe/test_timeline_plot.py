"""The timeline picture (`describe --plot`): drawn from the record's own windows, deterministic,
saying where a window had no signal, which modalities were missing and what was not analysed."""

from __future__ import annotations

import copy
import hashlib

import pytest

pytest.importorskip("matplotlib")

from affectgpt.describe.plot import save_timeline_plot, timeline_figure  # noqa: E402

BASIC = {"neutral": 0.1, "happy": 0.6, "sad": 0.1, "angry": 0.05, "fearful": 0.05, "disgusted": 0.05, "surprised": 0.05}


def _record(partial: bool = False) -> dict:
    windows = [
        {"start_s": 0.0, "end_s": 2.0, "modalities": ["video", "audio", "text"], "basic": BASIC, "label": "happy"},
        {"start_s": 2.0, "end_s": 4.0, "modalities": [], "basic": {}, "label": None,
         "missing": {"video": "no face in this window", "audio": "no speech in this window",
                     "text": "no subtitle text in this window"}},
        {"start_s": 4.0, "end_s": 6.0, "modalities": ["video"], "basic": dict(BASIC, happy=0.1, angry=0.55),
         "label": "angry", "missing": {"audio": "no speech in this window", "text": "no subtitle text in this window"}},
    ]
    timing = {"duration_s": 20.0 if partial else 6.0, "analysed_span_s": [0.0, 6.0]}
    return {"file": "clip.mp4", "labels": ["happy"], "timeline": windows, "timing": timing, "duration_s": 6.0}


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_each_window_is_a_bar_of_its_own_probabilities_and_a_signal_free_window_says_so():
    import matplotlib.pyplot as plt

    fig = timeline_figure(_record())
    emotions, strip = fig.axes
    texts = _texts(fig)
    assert texts.count("no signal") == 1 and "happy" in texts and "angry" in texts
    # window 1's happy segment: 0.6 high, 2 s wide, starting where the neutral segment ends
    happy = [p for p in emotions.patches if p.get_x() == 0.0 and abs(p.get_height() - 0.6) < 1e-9]
    assert len(happy) == 1 and happy[0].get_width() == 2.0 and happy[0].get_y() == pytest.approx(0.1)
    # the bars of a window stack to 1
    first = [p for p in emotions.patches if p.get_x() == 0.0]
    assert sum(p.get_height() for p in first) == pytest.approx(1.0)
    assert [t.get_text() for t in strip.get_yticklabels()] == ["face", "voice", "words"]
    assert strip.get_xlim() == (0.0, 6.0)
    plt.close(fig)


def test_the_span_left_unanalysed_is_marked():
    import matplotlib.pyplot as plt

    fig = timeline_figure(_record(partial=True))
    assert any(t.startswith("not analysed") and "6-20 s" in t for t in _texts(fig))
    assert fig.axes[1].get_xlim() == (0.0, 20.0)
    plt.close(fig)


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_the_same_record_gives_the_same_bytes(tmp_path, suffix, magic):
    a, b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    save_timeline_plot(_record(), a)
    save_timeline_plot(copy.deepcopy(_record()), b)
    assert a.read_bytes()[:5].startswith(magic)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    other = tmp_path / f"c{suffix}"
    changed = _record()
    changed["timeline"][0]["label"] = "sad"
    save_timeline_plot(changed, other)
    assert other.read_bytes() != a.read_bytes()


def test_a_record_without_a_timeline_or_a_bad_suffix_is_refused(tmp_path):
    with pytest.raises(ValueError, match="clip.mp4: no timeline to plot"):
        timeline_figure({"file": "clip.mp4", "timeline": []})
    with pytest.raises(ValueError, match=r"t.jpg: a timeline plot is written as .png, .svg, .pdf"):
        save_timeline_plot(_record(), tmp_path / "t.jpg")


def test_cli_plot_draws_each_clip_and_checks_the_path_first(media, tmp_path):
    from affectgpt import cli

    a, b = media.video("a.mp4", seconds=2.0), media.video("b.mp4", seconds=2.0)
    png = tmp_path / "one.png"
    assert cli.main(["describe", str(a), "--subtitle", "hi", "--window", "1", "--plot", str(png), "-q",
                     "--no-asr"]) == 0  # --plot turns the timeline on
    assert png.read_bytes().startswith(b"\x89PNG")
    folder = tmp_path / "plots"
    assert cli.main(["describe", str(a), str(b), "--subtitle", "hi", "--plot", f"{folder}/", "-q", "--no-asr"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png"]
    assert cli.main(["describe", str(a), "--plot", str(tmp_path / "t.jpg"), "-q", "--no-asr"]) == 2
    assert cli.main(["describe", str(a), str(b), "--plot", str(tmp_path / "x.png"), "-q", "--no-asr"]) == 2
    assert not (tmp_path / "x.png").exists()
