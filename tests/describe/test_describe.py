"""End-to-end ``describe`` on small real media files: schema, missing modalities, batch, timeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mediapipe")
pytest.importorskip("opensmile")

from affectgpt.analyzers.base import BASIC_CLASSES  # noqa: E402
from affectgpt.cli import main  # noqa: E402
from affectgpt.describe.batch import collect_inputs, describe_many  # noqa: E402
from affectgpt.describe.pipeline import SCHEMA, DescribeConfig, Describer  # noqa: E402
from affectgpt.media.subtitles import read_subtitles  # noqa: E402


@pytest.fixture(scope="module")
def describer():
    d = Describer(DescribeConfig(timeline=True))
    yield d
    d.close()


def _check_schema(r: dict) -> None:
    assert r["schema"] == SCHEMA
    for key in ("description", "labels", "basic", "sentiment", "cues", "modalities", "timings_s", "versions"):
        assert key in r
    assert set(r["basic"]) == set(BASIC_CLASSES) and abs(sum(r["basic"].values()) - 1) < 1e-3
    assert r["sentiment"]["label"] in ("positive", "negative", "neutral")
    json.dumps(r)  # serialisable


def test_full_clip_with_face_voice_and_subtitle(describer, media):
    p = media.video("face.mp4", seconds=4.0, fps=10, size=(320, 240))
    r = describer.describe(p, subtitle="I am so happy, this is wonderful news!")
    _check_schema(r)
    assert r["modalities"] == {"video": True, "audio": True, "text": True}
    assert r["faces"]["n_faces"] == 1
    assert r["description"].startswith("In the video,") and "In the audio," in r["description"]
    assert '"I am so happy, this is wonderful news!"' in r["description"] and "Overall," in r["description"]
    assert any(c["name"] == "emotion_word" for c in r["cues"]["text"])
    assert r["modality_probs"]["text"]["happy"] > 0.3  # the words are clearly joyful
    assert len(r["timeline"]) == 2 and r["timeline"][0]["start_s"] == 0.0
    assert r["transcript"]["source"] == "string"


def test_blas_runs_on_one_thread_during_a_clip_and_is_restored_after(describer, media, monkeypatch):
    from threadpoolctl import threadpool_info

    before = {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}
    seen = []
    analyze = describer.acoustic.analyze

    def spy(*a, **k):
        seen.append({i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return analyze(*a, **k)

    monkeypatch.setattr(describer.acoustic, "analyze", spy)
    describer.describe(media.video("face.mp4", seconds=4.0, fps=10, size=(320, 240)), subtitle="fine")
    assert seen and set(seen[0]) >= set(before) and set(seen[0].values()) == {1}
    assert {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"} == before


def test_speech_encoder_thread_count_does_not_change_the_embedding(media):
    from affectgpt.analyzers.speech_encoder import WhisperEncoder
    from affectgpt.media.clip import Clip

    audio = Clip.open(media.video("face.mp4", seconds=4.0, fps=10, size=(320, 240))).audio
    one, two = WhisperEncoder(threads=1).embed(audio), WhisperEncoder(threads=2).embed(audio)
    assert one.shape == (768,) and np.array_equal(one, two)


@pytest.mark.parametrize("subtitle", ["😂😂😂❤️", "😭💔", "...!!!", "?? 123"])
def test_subtitle_without_words_leaves_the_text_missing(describer, media, subtitle):
    r = describer.describe(media.video("face.mp4", seconds=4.0, fps=10, size=(320, 240)), subtitle=subtitle)
    assert r["modalities"]["text"] is False and "no words" in r["missing"]["text"]
    assert r["modality_probs"]["text"] is None and r["cues"]["text"] == []
    texts = describer.describe_texts(["a", "b"], [subtitle, "   "])
    assert [t["modalities"]["text"] for t in texts] == [False, False]
    assert "no words" in texts[0]["missing"]["text"] and texts[1]["missing"]["text"] == "empty subtitle"


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
def test_blank_subtitle_is_no_subtitle(describer, media, blank):
    r = describer.describe(media.video("face.mp4", seconds=4.0, fps=10, size=(320, 240)), subtitle=blank)
    assert r["transcript"]["source"] != "string"  # speech recognition (or nothing), as with no subtitle
    assert r["missing"].get("text") != "empty subtitle"


def test_language_code_is_checked_before_any_model_loads(media, capsys, monkeypatch):
    assert DescribeConfig(language=" EN ").language == "en" and DescribeConfig(language="zh-HK").language == "zh"
    with pytest.raises(ValueError, match="no Cantonese; use --language zh"):
        DescribeConfig(language="yue")
    assert DescribeConfig(language="zh-CN").language == "zh" and DescribeConfig(language="en_US").language == "en"
    for bad in ("xx", "klingon", "x-zh", ""):
        with pytest.raises(ValueError, match="not a language code Whisper knows"):
            DescribeConfig(language=bad)
    monkeypatch.setattr(Describer, "__init__", lambda *a, **k: pytest.fail("a model loaded"))
    p = media.video("face.mp4", seconds=1.0, fps=10, size=(160, 120))
    assert main(["describe", str(p), "--subtitle", "hi", "--language", "klingon"]) == 2
    assert "'klingon' is not a language code" in capsys.readouterr().err


def test_audio_only_file_says_video_is_missing(describer, media):
    r = describer.describe(media.audio("voice.wav", seconds=2.0), subtitle="Leave me alone.")
    _check_schema(r)
    assert r["modalities"]["video"] is False and r["missing"]["video"] == "no video track"
    assert "facial cues could not be measured (no video track)" in r["description"]


def test_video_only_and_no_face(describer, media):
    r = describer.describe(media.video("noface.mp4", face=False, audio=None), subtitle="")
    assert r["modalities"] == {"video": False, "audio": False, "text": False}
    assert r["missing"]["video"] == "no face found in the sampled frames"
    assert r["missing"]["audio"] == "no audio track"
    assert "no modality could be analysed" in r["description"]
    assert r["labels"] == []  # nothing measured: nothing claimed
    assert r["sentiment"] == {"label": "neutral", "score": 0.0, "polarity": "neutral"}


def test_several_still_faces_leave_the_speaker_uncertain(describer, media):
    # two photographs and a voice: no mouth moves, so no face can be called the speaker
    r = describer.describe(media.video("two.mp4", two_faces=True, size=(320, 240)), subtitle="Hello.")
    assert r["faces"]["n_faces"] == 2 and r["faces"]["uncertain"]
    assert "speaker uncertain" in r["description"] and "the face most likely speaking" in r["description"]


def test_silence_gives_no_text_and_no_audio(describer, media):
    r = describer.describe(media.video("silent.mp4", audio="silence"))
    assert r["modalities"]["audio"] is False and "silence" in r["missing"]["audio"]
    assert r["transcript"]["text"] == "" and r["modalities"]["text"] is False


def test_one_frame_video(describer, media):
    r = describer.describe(media.video("one.mp4", n_frames=1, audio=None), subtitle="Fine.")
    assert r["modalities"]["video"] is True and r["modalities"]["text"] is True


def test_batch_records_failures_and_resumes(tmp_path, media):
    good = media.video("good.mp4", seconds=1.0)
    bad = tmp_path / "zero.mp4"
    bad.write_bytes(b"")
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 50)
    out = tmp_path / "out" / "results.jsonl"
    cfg = DescribeConfig(asr=False)
    recs = describe_many([good, bad, trunc], out, cfg, subtitle="ok", progress=False)
    assert [("error" in r) for r in recs] == [False, True, True]
    assert "zero.mp4: file is empty" in recs[1]["error"]
    lines = out.read_text().splitlines()
    assert len(lines) == 3
    again = describe_many([good, bad, trunc], out, cfg, subtitle="ok", resume=True, progress=False)
    assert len(out.read_text().splitlines()) == 3  # good kept once, the two failures retried
    assert again[0]["description"] == recs[0]["description"]


def test_inputs_sharing_a_name_are_refused_where_names_key_the_clips(tmp_path, media, capsys, monkeypatch):
    from affectgpt.errors import InputError
    from affectgpt.media.subtitles import Transcript
    from affectgpt.media.subtitles import Segment

    a = media.video("clip.mp4", seconds=1.0)
    (tmp_path / "more").mkdir()
    b = tmp_path / "more" / "clip.mp4"
    b.write_bytes(a.read_bytes())
    monkeypatch.setattr(Describer, "__init__", lambda *x, **k: pytest.fail("a model loaded"))
    assert main(["describe", str(a), str(b), "--predictions", str(tmp_path / "p.csv"), "--quiet"]) == 2
    assert "shares the name 'clip'" in capsys.readouterr().err and not (tmp_path / "p.csv").exists()
    with pytest.raises(InputError, match="shares the name 'clip'.*subtitles table"):
        describe_many([a, b], tmp_path / "o" / "r.jsonl", DescribeConfig(asr=False), progress=False,
                      subtitles={"clip": Transcript([Segment("hello")], "file")})


def test_single_file_run_leaves_no_temporary_folder(tmp_path, media, monkeypatch):
    import tempfile

    p = media.video("face.mp4", seconds=1.0, fps=10, size=(160, 120))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    assert main(["describe", str(p), "--subtitle", "fine", "--quiet", "--no-asr"]) == 0
    assert [q.name for q in scratch.iterdir() if not q.name.startswith("torchinductor")] == []  # torch's own cache aside


def test_collect_inputs_folders_and_globs(tmp_path, media):
    a = media.video("a.mp4", seconds=1.0)
    (tmp_path / "notes.txt").write_text("x")
    assert collect_inputs([str(tmp_path)]) == [a]
    assert collect_inputs([str(tmp_path / "*.mp4"), str(a)]) == [a]


def test_cli_describe_json_timeline_exports_and_predictions(tmp_path, media, capsys):
    p = media.video("clip.mp4", seconds=4.0, size=(320, 240))
    js, srt, vtt, pred = tmp_path / "r.json", tmp_path / "t.srt", tmp_path / "t.vtt", tmp_path / "pred.csv"
    rc = main(["describe", str(p), "--subtitle", "This is terrible, I hate it.", "--json", str(js), "--srt", str(srt),
               "--vtt", str(vtt), "--predictions", str(pred), "--no-asr"])
    assert rc == 0
    r = json.loads(js.read_text())
    assert r["file"] == "clip.mp4" and len(r["timeline"]) == 2
    cues = read_subtitles(srt)  # our own reader parses the exported timeline
    assert len(cues.segments) == 2 and cues.segments[1].start_s == 2.0
    assert vtt.read_text().startswith("WEBVTT")
    assert pred.read_text().splitlines()[0] == "name,text,labels,sentiment"
    assert "In the text, the subtitle reads" in capsys.readouterr().out


def test_predictions_are_scored_by_bench(tmp_path, media, tiny_data):
    from affectgpt.bench import ScoreSettings, score
    from affectgpt.describe.export import write_predictions_csv

    d = Describer(DescribeConfig(asr=False))
    res = d.describe_texts(["a", "b"], ["I am furious with you!", "What a lovely, happy day."])
    d.close()
    pred = tmp_path / "p.csv"
    write_predictions_csv(res, pred)
    gt = tmp_path / "gt.csv"
    gt.write_text("name,valence\na,-2\nb,2\n", encoding="utf-8")
    r = score(ScoreSettings("cmumosi", str(gt), str(pred), data_dir=str(tiny_data), bootstrap=0))
    assert r["sentiment_source"] == "given" and r["score"] == 100.0


def test_ten_minute_video_memory_is_bounded(describer, media):
    import resource

    p = media.video("long.mp4", seconds=600.0, fps=1, size=(160, 120))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = Describer.describe(describer, p, subtitle="A long talk.")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert abs(r["duration_s"] - 600) < 2 and r["modalities"]["audio"] and r["modalities"]["video"]
    assert len(r["timeline"]) == 120  # windows stretched to keep at most 120 of them
    assert grown_mb < 600, f"peak memory grew by {grown_mb:.0f} MB"


def test_parallel_workers_give_the_same_results(tmp_path, media):
    clips = [media.video(f"c{i}.mp4", seconds=1.0) for i in range(2)]
    cfg = DescribeConfig(asr=False)
    one = describe_many(clips, tmp_path / "a.jsonl", cfg, subtitle="Fine.", progress=False)
    two = describe_many(clips, tmp_path / "b.jsonl", cfg, subtitle="Fine.", workers=2, progress=False)
    assert [r["basic"] for r in one] == [r["basic"] for r in two]
    assert [r["description"] for r in one] == [r["description"] for r in two]
