"""affectgpt: explainable multimodal emotion understanding (AffectGPT, ICML 2025), offline and reproducible."""

__version__ = "0.1.0"
