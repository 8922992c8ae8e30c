"""Chinese emotion words and the English vocabulary word each one names (written for affectgpt).

Lets the offline ``lexicon`` extractor read answers written in Chinese, the language of the
MER datasets and of many MLLMs' answers. Every English target is a form of the benchmark
vocabulary (so it lands in the emotion wheels' sectors), and the clearly positive or negative
words keep their polarity on the wheels (checked by ``tests/emotions/test_zh_words.py`` against the wheel tables).
Longer words are matched first ("不开心" before "开心"); a word preceded by a negator within two
characters ("不太开心", "没有生气") is not a mention.
"""

from __future__ import annotations

__all__ = ["ZH_EMOTION_WORDS", "ZH_NEGATORS", "POSITIVE_ZH", "NEGATIVE_ZH"]

#: Chinese word -> English vocabulary word
ZH_EMOTION_WORDS: dict[str, str] = {
    # happiness
    "开心": "happy", "高兴": "happy", "快乐": "happy", "愉快": "pleased", "喜悦": "joyful", "欣喜": "delighted",
    "兴奋": "excited", "满意": "satisfied", "满足": "content", "欣慰": "relieved", "得意": "proud",
    "骄傲": "proud", "自豪": "proud", "幸福": "happy", "轻松": "relaxed", "放松": "relaxed",
    "感激": "grateful", "感动": "touched", "幽默": "amused", "调侃": "playful",
    # sadness
    "难过": "sad", "伤心": "sad", "悲伤": "sad", "悲痛": "sorrowful", "痛苦": "pained", "沮丧": "frustrated",
    "失望": "disappointed", "绝望": "desperate", "孤独": "lonely", "寂寞": "lonely", "委屈": "aggrieved",
    "遗憾": "regretful", "后悔": "regretful", "无奈": "helpless", "无助": "helpless", "忧郁": "depressed",
    "抑郁": "depressed", "心痛": "heartbroken", "哭泣": "sad",
    # anger
    "生气": "angry", "愤怒": "angry", "恼火": "annoyed", "烦躁": "irritated", "气愤": "angry",
    "暴怒": "furious", "不满": "dissatisfied", "抱怨": "dissatisfied", "埋怨": "blaming", "怨恨": "resentful",
    "责备": "blaming", "厌烦": "annoyed", "不耐烦": "impatient",
    # fear and worry
    "害怕": "afraid", "恐惧": "fearful", "担心": "worried", "担忧": "worried", "焦虑": "anxious",
    "紧张": "nervous", "不安": "uneasy", "惊恐": "terrified", "慌张": "flustered", "忐忑": "uneasy",
    # disgust and contempt
    "厌恶": "disgusted", "恶心": "disgusted", "反感": "averse", "嫌弃": "disgusted", "鄙视": "contemptuous",
    "轻蔑": "contemptuous", "不屑": "disdainful",
    # surprise
    "惊讶": "surprised", "吃惊": "surprised", "震惊": "shocked", "意外": "surprised", "惊喜": "surprised",
    "疑惑": "confused", "困惑": "confused", "好奇": "curious",
    # others the MER answers use
    "尴尬": "embarrassed", "羞愧": "ashamed", "愧疚": "guilty", "内疚": "guilty", "害羞": "shy",
    "平静": "calm", "冷静": "calm", "淡定": "calm",
    "坚定": "determined", "自信": "confident", "嘲讽": "sarcastic", "讽刺": "sarcastic",
}

#: characters / words that negate an emotion word right after them (within two characters)
ZH_NEGATORS = ("不", "没", "没有", "并不", "毫不", "无", "未", "别")

#: for tests: Chinese words whose English target must be positive / negative on the wheels
POSITIVE_ZH = ("开心", "高兴", "快乐", "愉快", "喜悦", "欣喜", "满意", "幸福", "感激")
NEGATIVE_ZH = ("难过", "伤心", "悲伤", "生气", "愤怒", "害怕", "恐惧", "担心", "焦虑", "厌恶", "失望", "沮丧")
