"""Recipes: training and inference loops over the AffectGPT model."""
