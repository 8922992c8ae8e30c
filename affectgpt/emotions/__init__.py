"""Emotion vocabulary: the five emotion wheels, synonyms, word forms and the paper's label mapping."""

from affectgpt.emotions.profiles import PROFILES, Profile, get_profile
from affectgpt.emotions.vocabulary import LEVELS, WHEELS, EmotionVocabulary, load_vocabulary

__all__ = ["EmotionVocabulary", "load_vocabulary", "Profile", "PROFILES", "get_profile", "WHEELS", "LEVELS"]
