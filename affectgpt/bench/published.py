"""Published numbers used as references in reports and tests (cited, not computed).

Sources: AffectGPT (Lian et al., ICML 2025) Table 2; OV-MER results figure
(``OV-MER/assert/results.png`` of the authors' repository), as transcribed in PAPER §4.1/§4.8.
The OV-MER values are means over several stochastic LLM extraction runs, so one run of
released labels reproduces them only approximately.
"""

from __future__ import annotations

__all__ = ["AFFECTGPT_TABLE2", "OVMER_COLUMNS", "OVMER_TABLE"]

#: AffectGPT (audio + video + text), paper Table 2, primary metric per dataset; Mean 74.77.
AFFECTGPT_TABLE2 = {
    "mer2023": 78.54, "mer2024": 78.80, "meld": 55.65, "iemocapfour": 60.54, "cmumosi": 81.30,
    "cmumosei": 80.90, "sims": 88.49, "simsv2": 86.18, "ovmerdplus": 62.52,
}

OVMER_COLUMNS = ("M1", "M2", "M3-W1-L1", "M3-W1-L2", "M3-W2-L1", "M3-W2-L2", "M3-W3-L1", "M3-W3-L2",
                 "M3-W4-L1", "M3-W4-L2", "M3-W5-L1", "M3-W5-L2", "M-avg")

#: OV-MER benchmark on OV-MERD (332 samples), for the baselines whose outputs are released.
OVMER_TABLE = {
    "Qwen-Audio": (20.49, 23.37, 43.85, 26.60, 41.52, 26.68, 39.46, 30.65, 36.64, 27.33, 35.89, 29.66, 31.84),
    "Otter": (22.21, 27.99, 49.75, 33.50, 49.93, 33.04, 51.03, 37.12, 47.54, 34.77, 50.51, 35.54, 39.41),
    "Video-LLaVA": (25.47, 30.73, 54.65, 37.65, 54.54, 38.25, 52.29, 40.58, 52.45, 39.91, 52.97, 39.69, 43.27),
    "SALMONN": (23.57, 28.83, 54.90, 38.93, 54.29, 37.79, 56.25, 43.01, 50.53, 38.54, 53.65, 42.09, 43.53),
    "Chat-UniVi": (28.89, 33.23, 57.00, 42.25, 57.50, 42.43, 56.80, 45.66, 55.86, 41.97, 55.81, 43.61, 46.75),
}
