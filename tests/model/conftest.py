"""The tiny LLM fixture lives in tests/conftest.py (shared with the caption tests)."""
