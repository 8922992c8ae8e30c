"""Which language a text is in (ground floor: used by subtitles, the text path and the scorer)."""

from __future__ import annotations

import re

__all__ = ["guess_language", "bilingual_parts", "is_pinyin", "join_lines", "join_cjk_gaps", "CJK_CHAR", "has_words", "speech_language_code", "unsupported_text", "identify_latin",
           "TEXT_LANGUAGES", "OTHER_LATIN_P", "OTHER_LATIN_LIKELY_P", "MAX_ENGLISH_P", "MIN_IDENTIFY_WORDS"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
#: a word in a script other than CJK ideographs (letters, with inner apostrophes or hyphens)
_OTHER_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_ABBREVIATION = re.compile(r"(?<![^\W\d_])(?:[^\W\d_]\.){2,}[^\W\d_]?")
#: languages the text heads read (Chinese heads for ``zh``, English heads for ``en``)
TEXT_LANGUAGES = ("zh", "en")


#: a Latin-script line is another language than English only when py3langid gives it at least this
#: probability. Measured: none of the 25,993 English subtitles of MELD, IEMOCAP and CMU-MOSI
#: reaches it for another language (the highest non-English readings stay below 0.9); whole
#: sentences in Vietnamese (1.00), German (1.00), French (0.97) and Italian (0.96) do.
OTHER_LATIN_P = 0.9
#: ... or, short of that, at least this probability while English gets at most
#: :data:`MAX_ENGLISH_P`: the lowest English probability among the 20,166 of those subtitles with
#: three distinct words or more is 0.0075 ("Nestlé Toll House?"), while short Spanish, Italian
#: and Indonesian sentences that do not reach 0.9 get 0.001 or less ("Tengo miedo de perderte":
#: Spanish 0.70, English 0.0002)
OTHER_LATIN_LIKELY_P = 0.5
MAX_ENGLISH_P = 0.002
#: Latin lines with fewer distinct words of three letters or more ("Oui", "Hola amigo",
#: "Go go go go go go") are not identified: too little to tell
MIN_IDENTIFY_WORDS = 3

#: names of languages in messages
LANGUAGE_NAMES = {"fr": "French", "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
                  "vi": "Vietnamese", "nl": "Dutch", "id": "Indonesian", "ms": "Malay", "tr": "Turkish",
                  "pl": "Polish", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish",
                  "cs": "Czech", "ro": "Romanian", "hu": "Hungarian", "tl": "Tagalog", "ja": "Japanese",
                  "ko": "Korean", "ru": "Russian", "ar": "Arabic", "gl": "Galician", "ca": "Catalan",
                  "oc": "Occitan", "eu": "Basque", "la": "Latin", "af": "Afrikaans", "an": "Aragonese",
                  "lb": "Luxembourgish", "mt": "Maltese", "sk": "Slovak", "sl": "Slovenian", "hr": "Croatian",
                  "et": "Estonian", "lv": "Latvian", "lt": "Lithuanian", "is": "Icelandic", "ga": "Irish",
                  "cy": "Welsh", "sq": "Albanian", "sw": "Swahili", "eo": "Esperanto",
                  "zh-Latn": "pinyin (romanised Chinese)"}

#: the syllables of Hanyu Pinyin without tones (ü written v), less the interjections n, m, ng, hm,
#: hng and r, which would let English "no" and "dum" parse
PINYIN_SYLLABLES = frozenset((
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu ca "
    "cai can cang cao ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua "
    "chuai chuan chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den "
    "deng di dia dian diao die din ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang "
    "fei fen feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang "
    "gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji "
    "jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng "
    "kong kou ku kua kuai kuan kuang kui kun kuo la lai lan lang lao le lei len leng li lia lian "
    "liang liao lie lin ling liu lo long lou lu luan lun luo lve ma mai man mang mao me mei men meng "
    "mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne nei nen neng ni nia nian niang "
    "niao nie nin ning niu nong nou nu nuan nun nuo nve o ou pa pai pan pang pao pei pen peng pi pian "
    "piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran "
    "rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha "
    "shai shan shang shao she shei shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si "
    "song sou su suan sui sun suo ta tai tan tang tao te tei teng ti tian tiao tie ting tong tou tu "
    "tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu xi xia xian xiang xiao xie xin xing "
    "xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai zan "
    "zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong zhou zhu zhua "
    "zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo "
).split())
#: a Latin-script line is pinyin (romanised Chinese, ``zh-Latn``) when it has at least this many
#: words, three of them distinct, each made of pinyin syllables (and py3langid finds English
#: unlikely, :data:`PINYIN_MAX_ENGLISH_P`). Measured on the 37,490 English subtitles of the six
#: MER-UniBench sets: 1 is pinyin by this rule, a line of real pinyin in CH-SIMS v2; of 2,000
#: Chinese subtitles of MER2023 and CH-SIMS v2 written in pinyin, 93.5% are found without tone
#: marks, 97.2% with them (most of the rest have fewer than four syllables)
PINYIN_MIN_WORDS = 4
#: ... and py3langid gives English less than this probability (without py3langid, no line is pinyin)
PINYIN_MAX_ENGLISH_P = 0.1


def _pinyin_word(word: str, syllables: frozenset = PINYIN_SYLLABLES) -> bool:
    """Whether a word (lower case, tone marks stripped) splits into pinyin syllables: which ends of
    a prefix can be reached, left to right (linear in the word's length; a syllable has at most 6
    letters)."""
    reached = [True] + [False] * len(word)
    for i in range(len(word)):
        if reached[i]:
            for k in range(1, min(6, len(word) - i) + 1):
                if word[i:i + k] in syllables:
                    reached[i + k] = True
    return reached[-1]


def is_pinyin(text: str) -> bool:
    """Whether a Latin-script ``text`` is pinyin: :data:`PINYIN_MIN_WORDS` words or more, three
    distinct, each made of :data:`PINYIN_SYLLABLES` (tone marks and apostrophes ignored: ``Xī'ān``),
    and English unlikely by py3langid (below :data:`PINYIN_MAX_ENGLISH_P`)."""
    import unicodedata

    words = []
    for w in _OTHER_WORD.findall(text):
        w = unicodedata.normalize("NFD", w.lower().replace("ü", "v"))
        words.append("".join(c for c in w if not unicodedata.combining(c) and c.isalpha()))
    if not (len(words) >= PINYIN_MIN_WORDS and len(set(words)) >= 3
            and all(w.isascii() and _pinyin_word(w) for w in words)):
        return False
    # English of short words splits into syllables too (are = a+re, sure = su+re: "Are you sure she
    # came?"); py3langid gives such English 0.2-0.9, pinyin below 0.04 (99% of 941 pinyin lines)
    found = identify_latin(text)
    return found is not None and found[2] < PINYIN_MAX_ENGLISH_P


_IDENTIFIER: list = []


def identify_latin(text: str) -> tuple[str, float, float] | None:
    """``(ISO 639 code, its probability, the probability of English)`` of a text by py3langid
    (Lui & Baldwin 2012, langid.py; a naive Bayes model over byte n-grams shipped in the py3langid
    0.4 wheel, BSD-3), or None when py3langid is not installed. The model loads on first use
    (about 0.5 s)."""
    if not _IDENTIFIER:
        try:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
        except ImportError:  # pragma: no cover - without the describe extra
            return None
        _IDENTIFIER.append(LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True))
    ranked = _IDENTIFIER[0].rank(text)
    code, p = ranked[0]
    return str(code), float(p), float(dict(ranked).get("en", 0.0))


#: Chinese characters per word, on average (about 1.5 in modern written Chinese): a mixed line's
#: Chinese part is counted in words, to weigh it against the words in another script.
HANZI_PER_WORD = 1.5


def guess_language(text: str) -> str | None:
    """The language of a subtitle, by its script (None for text without letters). The text is
    read in NFKC form first (full-width Latin letters are Latin: ``Ｉ ａｍ`` is English).

    * ``ja`` when kana make up at least 10% of the letters (Chinese text has none; Japanese with
      many kanji still has kana particles), ``ko`` when Hangul makes up at least 30%;
    * ``zh`` when the Chinese part is at least half of the words: CJK ideographs counted as
      words at :data:`HANZI_PER_WORD` characters each, against the runs of other letters (a
      dotted abbreviation is one, a word of one or two letters counts half; so a
      code-switched line such as ``这个 project 的 deadline 太 tight 了`` is Chinese, an English
      line naming ``北京`` is not; Cantonese included);
    * ``zh-Latn`` for pinyin (:func:`is_pinyin`: romanised Chinese, which the text heads cannot read);
    * for Latin-script text of at least :data:`MIN_IDENTIFY_WORDS` words, the language py3langid
      identifies (:func:`identify_latin`, on the Latin part) when it is not English with probability at least
      :data:`OTHER_LATIN_P`, or at least :data:`OTHER_LATIN_LIKELY_P` while English gets at most
      :data:`MAX_ENGLISH_P` (``fr``, ``de``, ``vi``, ``es`` ...);
    * ``en`` when the letters outside CJK ideographs are mostly (90%) ASCII Latin: other languages
      written in plain ASCII that py3langid is not sure of (pinyin, short lines) stay English;
    * else ``und``."""
    import unicodedata

    text = unicodedata.normalize("NFKC", text)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    n = len(letters)
    if sum(1 for ch in letters if _KANA.match(ch)) >= 0.1 * n:
        return "ja"
    if sum(1 for ch in letters if _HANGUL.match(ch)) >= 0.3 * n:
        return "ko"
    cjk = sum(1 for ch in letters if _CJK.match(ch))
    # a dotted abbreviation (C.E.O., G.I.) is one word; a word of one or two letters (OK, B, I)
    # counts half: short Latin tokens in a Chinese line must not outweigh it
    rest_text = _ABBREVIATION.sub(" X ", _CJK.sub(" ", text))
    other_words = sum(1.0 if len(w) > 2 else 0.5 for w in _OTHER_WORD.findall(rest_text))
    if cjk and cjk / HANZI_PER_WORD >= other_words:
        return "zh"
    rest = [ch for ch in letters if not _CJK.match(ch)]
    ascii_latin = sum(1 for ch in rest if ch.isascii())
    latin = sum(1 for ch in rest if unicodedata.name(ch, "").startswith("LATIN"))
    distinct = {w.lower() for w in _OTHER_WORD.findall(rest_text) if len(w) > 2}
    if latin >= 0.5 * len(rest) and is_pinyin(rest_text):
        return "zh-Latn"
    if latin >= 0.5 * len(rest) and len(distinct) >= MIN_IDENTIFY_WORDS:
        # the Latin part alone: Chinese characters beside it make py3langid say Cantonese ("嗯 好吧 Hmm. Okay. Huh?")
        found = identify_latin(" ".join(_CJK.sub(" ", text).split()))
        if found is not None and found[0] != "en" and (
                found[1] >= OTHER_LATIN_P or (found[1] >= OTHER_LATIN_LIKELY_P and found[2] <= MAX_ENGLISH_P)):
            return found[0]
    return "en" if ascii_latin >= 0.9 * len(rest) else "und"


#: a bilingual text's parts: each holds at least this many words (Chinese characters counted at
#: :data:`HANZI_PER_WORD`), and the smaller part at least :data:`BILINGUAL_MIN_SHARE` of the larger
BILINGUAL_MIN_WORDS = 2.0
BILINGUAL_MIN_SHARE = 0.3
#: ... and at least this share of the Latin part's words comes in runs of two words or more: a
#: translation is whole phrases, code-switching (``这个 project 的 deadline 太 tight 了``) single words
BILINGUAL_PHRASE_SHARE = 0.8
_IDEO_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\u31f0-\u31ff\u1100-\u11ff"
                       r"\u3130-\u318f\uac00-\ud7af]")


#: English pronouns and verbs: a line in capitals with one of them is a sentence, not a title
_SENTENCE_WORDS = frozenset("I YOU HE SHE IT WE THEY ME MY YOUR IS ARE WAS WERE AM BE DO DID DOES DON'T "
                            "DONT CAN CANT WILL HAVE HAS HAD NOT THIS THAT WHAT".split())


def bilingual_parts(text: str) -> dict[str, str] | None:
    """The parts of a bilingual subtitle, ``{language: text}`` in the order they appear, or None for
    a text in one language (code-switching included).

    Film and TV subtitles in China often give each line twice, in Chinese and in an English
    translation (``我爱你 I love you``; an SRT cue of two lines, joined by :func:`cue_text`). Read as
    one text, such a line goes to the heads of whichever part is longer and the other half is
    noise to them (measured on MER2023 test, Chinese + English subtitle: hit rate 62.1 -> 48.5).

    A text of several lines (a transcript's cues, :attr:`Transcript.lines`) is read line by line:
    each line is bilingual by the rule below, or in the one language of :func:`guess_language`; the
    text is bilingual when its two largest languages each hold at least
    :data:`BILINGUAL_MIN_WORDS` words and the smaller at least :data:`BILINGUAL_MIN_SHARE` of the
    larger (so one cue left untranslated does not undo a bilingual file, and a Chinese drama's
    one English remark does not make it bilingual). Each part joins its lines in order.

    One line is cut into runs of one script: Chinese, Japanese or Korean characters, or Latin words
    (digits, spaces and punctuation join the run before them). It is bilingual when

    * each side holds at least :data:`BILINGUAL_MIN_WORDS` words (Chinese characters counted at
      :data:`HANZI_PER_WORD` a word, a word of one or two Latin letters half) and the smaller side
      at least :data:`BILINGUAL_MIN_SHARE` of the larger (a translation is about as long as its
      source);
    * as many Latin runs as ideographic ones (a line and its translation, cue after cue; a Latin
      phrase inside a Chinese sentence, ``我们去 New York 吧``, leaves one over), at least
      :data:`BILINGUAL_PHRASE_SHARE` of the Latin words in runs of two words or more
      (code-switching inserts single words), and the Latin side a sentence: each run opens with
      a capital (a code-switched tail does not: ``我觉得还行吧 but I'm not sure``), three words or
      more, one of them in lower case and of four letters or more, or four or more in capitals
      with a pronoun or a verb (not a name or a title: ``我的名字是Brent Caption。``,
      ``我最喜欢的电影是 Pirates of the Caribbean``, ``我看了 THE LORD OF THE RINGS``);
    * the two sides are in different languages by :func:`guess_language`.

    Each side's language is :func:`guess_language` of that side alone (``zh``, ``ja``, ``ko``, ``en``,
    ``fr`` ...)."""
    lines = [ln for ln in (text or "").split("\n") if any(ch.isalpha() for ch in ln)]
    if len(lines) <= 1:
        return _bilingual_line(lines[0] if lines else "")
    pieces: dict[str, list[str]] = {}
    for line in lines:
        for lang, part in (_bilingual_line(line) or {guess_language(line): line.strip()}).items():
            pieces.setdefault(lang, []).append(part)
    if len(pieces) < 2:
        return None
    sizes = {lang: _words_in(" ".join(v)) for lang, v in pieces.items()}
    small, large = sorted(sizes.values())[-2:]
    if small < BILINGUAL_MIN_WORDS or small < BILINGUAL_MIN_SHARE * large:
        return None
    return {lang: join_lines(v) for lang, v in pieces.items()}


def _words_in(text: str) -> float:
    """Words in ``text``: Chinese, Japanese and Korean characters at :data:`HANZI_PER_WORD` a word,
    Latin words (a word of one or two letters half)."""
    ideo = sum(1 for ch in text if _IDEO_RUN.match(ch))
    rest = _IDEO_RUN.sub(" ", text)
    return ideo / HANZI_PER_WORD + sum(1.0 if len(w) > 2 else 0.5
                                       for w in _OTHER_WORD.findall(_ABBREVIATION.sub(" X ", rest)))


#: Chinese/Japanese characters, full-width punctuation and digits, not full-width Latin letters
#: (``Ｉ ａｍ`` typed with a Chinese input method is English whose spaces separate words)
CJK_CHAR = (r"[\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uff20\uff3b-\uff40"
            r"\uff5b-\uffef]")
_CJK_GAP = re.compile(rf"(?<={CJK_CHAR})[ \t\u3000]+(?={CJK_CHAR})")


def join_cjk_gaps(text: str) -> str:
    """``text`` without the spaces between two Chinese or Japanese characters (TV subtitles often
    put a space where a comma would be: the Chinese text models were trained on unspaced text)."""
    return _CJK_GAP.sub("", text)


def join_lines(lines) -> str:
    """Lines (a list, or a text with ``\\n`` between them) joined by a space, without one between two
    Chinese or Japanese characters: how a transcript's cues are read and quoted as one text."""
    if isinstance(lines, str):
        lines = lines.split("\n")
    return join_cjk_gaps(" ".join(ln.strip() for ln in lines if ln.strip())).strip()


def _script_runs(text: str) -> list[list]:
    """``text`` cut into runs of one script, ``[kind, text]``: kind ``i`` (Chinese, Japanese or Korean
    characters) or ``l`` (Latin letters); digits, spaces and punctuation join the run before them."""
    import unicodedata

    runs: list[list] = []
    lead = ""  # punctuation before the first letter (an opening quote) opens the first run
    for ch in text or "":
        form = unicodedata.normalize("NFKC", ch)[:1]  # full-width Latin is Latin; the parts keep the original
        kind = "i" if _IDEO_RUN.match(form) else "l" if form.isalpha() else None
        if kind is None or (runs and runs[-1][0] == kind):
            if runs:
                runs[-1][1] += ch
            else:
                lead += ch
            continue
        runs.append([kind, lead + ch])
        lead = ""
    return runs


def _bilingual_line(text: str) -> dict[str, str] | None:
    """:func:`bilingual_parts` of one line."""
    runs = _script_runs(text)
    kinds = [r[0] for r in runs]
    n_ideo, n_latin = kinds.count("i"), kinds.count("l")
    # a translation alternates with its source (one line each, cue after cue): as many Latin runs as
    # ideographic ones; a Latin phrase inside a Chinese sentence (我们去 New York 吧) leaves one over
    if not n_ideo or n_ideo != n_latin:
        return None

    def words(part: str) -> list[str]:
        return _OTHER_WORD.findall(_ABBREVIATION.sub(" X ", part))

    def size(run: list) -> float:
        if run[0] == "i":
            return sum(1 for ch in run[1] if ch.isalpha()) / HANZI_PER_WORD
        return sum(1.0 if len(w) > 2 else 0.5 for w in words(run[1]))

    sizes = [size(r) for r in runs]
    latin_words = sum(z for r, z in zip(runs, sizes) if r[0] == "l")
    ideo_words = sum(z for r, z in zip(runs, sizes) if r[0] == "i")
    if min(latin_words, ideo_words) < BILINGUAL_MIN_WORDS or \
            min(latin_words, ideo_words) < BILINGUAL_MIN_SHARE * max(latin_words, ideo_words):
        return None
    for a, b in zip(sizes[::2], sizes[1::2]):  # each line and its translation, when either is long
        if max(a, b) >= 3 and min(a, b) < BILINGUAL_MIN_SHARE * max(a, b):
            return None
    phrases = sum(z for r, z in zip(runs, sizes) if r[0] == "l" and len(words(r[1])) >= 2)
    if phrases < BILINGUAL_PHRASE_SHARE * latin_words:
        return None
    import unicodedata

    latin_runs = [unicodedata.normalize("NFKC", r[1]) for r in runs if r[0] == "l"]
    tokens = [w for r in latin_runs for w in words(r)]
    # a translation is a sentence: each Latin run opens with a capital (a code-switched tail does
    # not: 我觉得还行吧 but I'm not sure; nor English in a Japanese line: 今日は楽しかった thank you so
    # much) and holds a word in lower case of four letters or more (a title or a name does not:
    # 我最喜欢的电影是 Pirates of the Caribbean, 我的名字是Brent Caption。), or is in capitals with a
    # pronoun or a verb among its words (ANYHOW IT WAS REALLY GOOD; not THE LORD OF THE RINGS)
    if len(tokens) < 3 or not all(next((ch for ch in r if ch.isalpha()), "").isupper() for r in latin_runs):
        return None
    sentence = any(w.islower() and len(w) >= 4 for w in tokens) or (
        len(tokens) >= 4 and all(w.isupper() for w in tokens) and any(w in _SENTENCE_WORDS for w in tokens))
    if not sentence:
        return None
    ideo = "".join(r[1] for r in runs if r[0] == "i").strip()
    latin = " ".join(" ".join(r[1].split()) for r in runs if r[0] == "l").strip()
    lang_i, lang_l = guess_language(ideo), guess_language(latin)
    if lang_i is None or lang_l is None or lang_i == lang_l:
        return None
    first_ideo = runs[0][0] == "i"
    pairs = [(lang_i, ideo), (lang_l, latin)]
    return dict(pairs if first_ideo else pairs[::-1])


def unsupported_text(language: str | None, text: str = "") -> str | None:
    """Why a text in ``language`` cannot be read by the text heads, or None when it can.

    ``zh`` and ``en`` are read (and None: unknown, read as English). ``und`` (by
    :func:`guess_language`) is refused only when most letters are not Latin (Cyrillic, Arabic,
    Thai ...): English with accented names stays readable. Any other code (``ja``, ``ko``, or a
    language Whisper identified in speech, such as ``fr``) is refused, unless ``text`` is bilingual
    with a part in Chinese or English (:func:`bilingual_parts`; that part is read)."""
    if language is None or language in TEXT_LANGUAGES:
        return None
    if text and any(k in TEXT_LANGUAGES for k in (bilingual_parts(text) or {})):
        return None  # a Japanese line with its English translation: the English part is read
    if language == "und":
        import unicodedata

        letters = [ch for ch in text if ch.isalpha()]
        latin = sum(1 for ch in letters if unicodedata.name(ch, "").startswith("LATIN"))
        if letters and latin >= 0.5 * len(letters):
            return None
    name = {"und": "a script the text models do not read"}.get(language) or LANGUAGE_NAMES.get(
        language, f"another language (code {language!r})")
    return f"the text is in {name}; the text models read Chinese and English only"


def has_words(text: str | None) -> bool:
    """Whether ``text`` holds any letter (Latin, CJK ideograph, kana, Hangul ...): a subtitle of
    emoji, punctuation or digits alone gives the text models nothing to read."""
    return bool(text) and any(ch.isalpha() for ch in text)


def speech_language_code(code: str) -> str:
    """A ``--language`` value checked and normalised: lower case, a region dropped (``zh-CN`` ->
    ``zh``), an ISO 639-1/-3 code that Whisper knows (``zh``, ``en``, ``ja`` ...; the list faster-whisper ships, or any 2-3 letter code
    without it).

    Raises:
        ValueError: not such a code (names the value and gives examples).
    """
    value = re.split(r"[-_]", str(code).strip().lower(), maxsplit=1)[0]  # zh-CN, en_US -> zh, en
    try:
        from faster_whisper.tokenizer import _LANGUAGE_CODES as known  # noqa: PLC2701 - its only list
    except ImportError:  # pragma: no cover - without the describe extra
        known = None
    ok = value in known if known else bool(re.fullmatch(r"[a-z]{2,3}", value))
    if not ok:
        raise ValueError(f"--language {code!r} is not a language code Whisper knows "
                         "(ISO 639-1, e.g. zh, en, fr, ja)")
    return value
