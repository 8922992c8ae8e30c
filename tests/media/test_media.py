"""Decoding media with PyAV: audio, frames, rotation, variable frame rate, bad files, subtitles."""

from __future__ import annotations

import numpy as np
import pytest

from affectgpt.errors import InputError
from affectgpt.media.audio import iter_audio, load_audio
from affectgpt.media.probe import probe
from affectgpt.media.subtitles import read_subtitles
from affectgpt.media.video import sample_frames, uniform_times


def test_probe_and_audio_resampled_to_16k_mono(media):
    p = media.video("a.mp4", seconds=2.0, audio="tone")
    info = probe(p)
    assert info.has_video and info.has_audio and info.width == 160 and abs(info.duration_s - 2.0) < 0.2
    audio = load_audio(p)
    assert audio.dtype == np.float32 and abs(len(audio) / 16000 - 2.0) < 0.15
    # a 220 Hz tone survives the AAC round trip and the resampler
    spec = np.abs(np.fft.rfft(audio[:16000]))
    assert abs(np.argmax(spec) - 220) <= 2


def test_audio_streams_in_chunks(media):
    p = media.audio("long.flac", seconds=25.0)
    chunks = list(iter_audio(p, chunk_s=10.0))
    assert len(chunks) == 3 and all(len(c) <= 10 * 16000 + 4096 for c in chunks)
    assert len(load_audio(p, max_duration_s=5.0)) == 5 * 16000


def test_uniform_frames_and_times(media):
    p = media.video("v.mp4", seconds=2.0, fps=10)
    s = sample_frames(p, 4)
    assert len(s.frames) == 4 and s.frames[0].shape == (120, 160, 3)
    # nearest frame to the centres 0.25, 0.75, ... (frames every 0.1 s: ties either way)
    assert np.all(np.abs(np.array(s.times_s) - [0.25, 0.75, 1.25, 1.75]) <= 0.051)
    assert uniform_times(2.0, 4) == [0.25, 0.75, 1.25, 1.75]


def test_rotation_is_applied(media):
    p = media.video("r.mp4", rotation=90, audio=None)
    assert probe(p).rotation_deg == 90
    s = sample_frames(p, 1)
    assert s.frames[0].shape == (160, 120, 3)  # portrait after applying the display matrix


def test_variable_frame_rate_uses_timestamps(media):
    p = media.video("vfr.mp4", seconds=2.0, fps=10, vfr=True, audio=None, n_frames=10)
    s = sample_frames(p, 5)
    assert all(b >= a for a, b in zip(s.times_s, s.times_s[1:]))
    assert s.times_s[-1] > 1.5  # frames spaced 100/300 ms: the clip lasts ~2 s, not 1 s


def test_one_frame_video(media):
    p = media.video("one.mp4", n_frames=1, audio=None)
    s = sample_frames(p, 8)
    assert len(s.frames) == 8 and all(f is s.frames[0] for f in s.frames)


def test_audio_only_and_video_only(media):
    a = media.audio("a.wav")
    with pytest.raises(InputError, match="a.wav: has no video stream"):
        sample_frames(a, 4)
    v = media.video("v.mp4", audio=None)
    with pytest.raises(InputError, match="v.mp4: has no audio stream"):
        load_audio(v)


@pytest.mark.parametrize("content,problem", [(b"", "0 bytes"), (b"not a video at all" * 10, "cannot be decoded")])
def test_corrupt_files_are_named(tmp_path, content, problem):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(InputError, match=f"bad.mp4: .*{problem}"):
        probe(p)


def test_truncated_file_keeps_what_decodes(media):
    p = media.video("t.mp4", seconds=2.0)
    data = p.read_bytes()
    cut = p.with_name("cut.mp4")
    cut.write_bytes(data[: len(data) * 2 // 3])
    try:
        s = sample_frames(cut, 4)
        assert len(s.frames) == 4
    except InputError as exc:  # moov atom at the end: then the file is unreadable, and says so
        assert "cut.mp4" in str(exc)


def test_long_video_memory_is_bounded(media):
    import resource

    p = media.audio("ten_min.flac", seconds=600.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = sum(len(c) for c in iter_audio(p))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert n == 600 * 16000
    assert (after - before) / 1024 < 150  # streaming: far below the 37 MB x copies of a full decode


def test_subtitles_formats(tmp_path):
    srt = tmp_path / "a.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nI can't <i>believe</i> it!\n\n2\n00:00:02,500 --> 00:00:04,000\nWe won.\n",
                   encoding="utf-8")
    t = read_subtitles(srt)
    assert t.text == "I can't believe it! We won." and t.segments[0].start_s == 0.5
    assert t.text_between(2.1, 3.0) == "We won."
    vtt = tmp_path / "a.vtt"
    vtt.write_text("WEBVTT\n\n00:01.000 --> 00:02.500\nHello there\n", encoding="utf-8")
    assert read_subtitles(vtt).segments[0].end_s == 2.5
    csv = tmp_path / "subs.csv"
    csv.write_text("name,chinese,english\nclip1,你好,Hello\nclip2,再见,Goodbye\n", encoding="utf-8")
    # the upstream layout: the spoken language (Chinese) by default, any column on request
    assert read_subtitles(csv, name="clip2").text == "再见"
    assert read_subtitles(csv, name="clip2").language == "zh"
    assert read_subtitles(csv, name="clip2", column="english").text == "Goodbye"
    u16 = tmp_path / "u16.txt"
    u16.write_bytes("Grüße".encode("utf-16"))
    assert read_subtitles(u16).text == "Grüße"
    assert read_subtitles("just a string").source == "string"


def test_subtitle_encodings_read_or_refused_by_name(tmp_path):
    latin = tmp_path / "latin.srt"
    line = "\u201cI don\u2019t know! I don\u2019t have experience in this area\u2026\u201d"
    latin.write_bytes(f"1\n00:00:00,000 --> 00:00:01,000\n{line}\n".encode("cp1252"))
    t = read_subtitles(latin)
    assert t.text == line and t.encoding == "cp1252" and t.language == "en"
    gbk = tmp_path / "gbk.srt"
    gbk.write_bytes("1\r\n00:00:00,000 --> 00:00:03,400\r\n我哪知道啊，我没有这方面的经验。\r\n".encode("gbk"))
    t = read_subtitles(gbk)
    assert t.text == "我哪知道啊，我没有这方面的经验。" and t.encoding == "gb18030" and t.language == "zh"
    bad = tmp_path / "bad.srt"  # 0x81 is undefined in Windows-1252 and a lone byte is no GBK character
    bad.write_bytes(b"1\n00:00:00,000 --> 00:00:01,000\nCaf\x81 ok\n")
    with pytest.raises(InputError, match=r"bad\.srt, row 3: subtitle text is not UTF-8"):
        read_subtitles(bad)


_SRT = "1\n00:00:00,000 --> 00:00:01,500\n{}\n\n2\n00:00:01,500 --> 00:00:03,000\n{}\n"


@pytest.mark.parametrize("codec,lines,expected", [
    ("big5", ("我哪知道啊！", "我也沒有這方面的經驗。"), "big5hkscs"),  # Taiwan: traditional characters
    ("big5hkscs", ("我真係好嬲呀", "你哋搞乜嘢"), "big5hkscs"),  # Hong Kong: Cantonese characters of HKSCS
    ("gbk", ("我哪知道啊！", "我也沒有這方面的經驗。"), "gb18030"),  # traditional characters in GBK
    ("gbk", ("这事结婚前咱俩不是说好了？", "算了吧"), "gb18030"),
    ("cp1252", ("Déjà vu — naïve façade", "Über schön"), "cp1252"),
    ("big5hkscs", ("冇問題", "佢好嬲"), "big5hkscs"),  # short written Cantonese
    ("cp1252", ("créée", "Très bien, ça va"), "cp1252"),  # accents side by side
])
def test_legacy_chinese_encodings_are_told_apart(tmp_path, codec, lines, expected):
    text = _SRT.format(*lines)
    p = tmp_path / f"{codec}.srt"
    p.write_bytes(text.encode(codec))
    t = read_subtitles(p)
    assert t.encoding == expected and all(line in t.text for line in lines)


def test_vtt_entities_are_decoded_and_bytes_are_refused(tmp_path):
    p = tmp_path / "c.vtt"
    p.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<b>Wonderful &amp; great &lt;3</b> &quot;yes&quot;\n",
                 encoding="utf-8")
    assert read_subtitles(p).text == 'Wonderful & great <3 "yes"'
    with pytest.raises(TypeError, match="not bytes .decode the bytes first"):
        read_subtitles(b"bytes subtitle")


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark(tmp_path, codec):
    p = tmp_path / "u.srt"
    p.write_bytes(_SRT.format("I am so angry with you", "right now!").replace("\n", "\r\n").encode(codec))
    t = read_subtitles(p)
    assert t.encoding == "utf-16" and t.text == "I am so angry with you right now!" and len(t.segments) == 2
    b = tmp_path / "binary.txt"
    b.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match=r"binary\.txt: subtitle file holds NUL bytes"):
        read_subtitles(b)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("text", ["关你屁事，你以为你也能指导我吗", "关你屁事，\n你以为你也能指导我吗？\n我很生气",
                                  "我哪知道啊我也没有这方面的经验"])
def test_chinese_utf16_without_byte_order_mark_is_read_not_garbled(tmp_path, codec, text):
    """Chinese UTF-16 without a BOM has few or no NUL bytes: it was read as Windows-1252 garble."""
    p = tmp_path / "zh.txt"
    p.write_bytes(text.encode(codec))
    t = read_subtitles(p)
    assert t.encoding == "utf-16" and t.text == text.replace("\n", "") and t.language == "zh"


@pytest.mark.parametrize("text", ["Sí", "Ça", "Você", "Tú", "I\u2019m\n", "Até\n", "Olá, tudo bem?\x1a"])
def test_short_windows_1252_text_is_not_taken_for_utf16(tmp_path, text):
    """Two-byte Windows-1252 words read as one common Chinese character in UTF-16: they stay
    Windows-1252 (and a DOS end-of-file mark is dropped, not refused)."""
    p = tmp_path / "w.txt"
    p.write_bytes(text.encode("cp1252"))
    t = read_subtitles(p)
    assert t.encoding == "cp1252" and t.text == text.strip().rstrip("\x1a")


def test_text_in_another_legacy_encoding_is_refused_not_garbled(tmp_path):
    p = tmp_path / "japanese.srt"
    p.write_bytes(_SRT.format("本当に怒っている", "ありがとう").encode("shift_jis"))
    with pytest.raises(InputError, match=r"japanese\.srt: subtitle text decodes as .* common Chinese"):
        read_subtitles(p)


@pytest.mark.parametrize("value", ["missing.srt", "subs/clip01.vtt", "./subs/clip01", "notes.TXT", "x/y.csv"])
def test_subtitle_value_that_names_a_missing_file_is_an_error(tmp_path, value):
    with pytest.raises(InputError, match="subtitle file not found"):
        read_subtitles(str(tmp_path / value) if "/" in value else value)


@pytest.mark.parametrize("text", ["I can't believe it!", "yes and/or no", "我不想嫁给李茶"])
def test_subtitle_text_is_text(text):
    t = read_subtitles(text)
    assert t.source == "string" and t.text == text
