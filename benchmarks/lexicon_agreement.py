"""How close is the offline ``lexicon`` extractor to the paper's Qwen2.5-7B extraction?

Compares, on every shipped free-form answer, the labels of ``lexicon`` with the labels that
the authors extracted with Qwen2.5-7B-Instruct (the ``-openset.npz`` files):

* list-level precision / recall of label strings (micro-averaged), on all labels and on the
  labels the vocabulary knows (only those can score);
* how each dataset's primary score moves when ``lexicon`` replaces the given labels
  (same checkpoint protocol: best for AffectGPT's folders, the single file for baselines).

Usage: python benchmarks/lexicon_agreement.py [--data-dir DIR]. Prints Markdown tables.
Target (regression guard): in-vocabulary recall >= 0.80.
"""

from __future__ import annotations

import argparse
import sys

from _common import data_dir, print_table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir")
    ap.add_argument("--profile", default="paper")
    a = ap.parse_args()
    d = data_dir(a.data_dir)

    from affectgpt.bench import ScoreSettings, read_predictions, score
    from affectgpt.bench.extractors import get_extractor
    from affectgpt.emotions import load_vocabulary

    vocab = load_vocabulary(a.profile, d)
    lex = get_extractor("lexicon", vocabulary=vocab)
    print("| source | answers | P (all) | R (all) | P (in vocab) | R (in vocab) |\n|---|---|---|---|---|---|")
    tot = [0, 0, 0, 0, 0, 0]
    for folder in sorted((d / "released_outputs").glob("*/*")):
        c = [0, 0, 0, 0, 0, 0]
        n = 0
        for ps in read_predictions(folder):
            if not ps.text_path or ps.labels is None:
                continue
            for name, text in ps.load_texts(trust_pickle=True).items():
                gold, pred = set(ps.labels.get(name, [])), set(lex.extract_one(text))
                gv = {x for x in gold if x in vocab.forms}
                c[0] += len(gold & pred); c[1] += len(pred); c[2] += len(gold)
                c[3] += len(gv & pred); c[4] += len(pred); c[5] += len(gv)
                n += 1
        if n:
            tot = [x + y for x, y in zip(tot, c)]
            print(f"| {folder.parent.name}/{folder.name} | {n} | {c[0]/c[1]:.3f} | {c[0]/c[2]:.3f} | "
                  f"{c[3]/c[4]:.3f} | {c[3]/c[5]:.3f} |")
    p_all, r_all, p_in, r_in = tot[0] / tot[1], tot[0] / tot[2], tot[3] / tot[4], tot[3] / tot[5]
    print(f"| **all** | | {p_all:.3f} | {r_all:.3f} | {p_in:.3f} | {r_in:.3f} |\n")

    jobs = [(ds, f"merunibench/gt_csv/{ds}.csv", f"released_outputs/affectgpt/results-{ds}", "best")
            for ds in ("mer2023", "cmumosi", "sims")]
    jobs += [("ovmerd", "ovmerd/ovlabel-gt.csv",
              f"released_outputs/ovmer_baselines/{m}/output-reason-7b-nosubtitle-addsub-eng.npz", "single")
             for m in ("Chat-UniVi", "Otter", "Qwen-Audio", "SALMONN", "Video-LLaVA")]
    print("| dataset | outputs | given (Qwen2.5 labels) | lexicon | change |\n|---|---|---|---|---|")
    for ds, gt, preds, sel in jobs:
        res = {}
        for ex in ("given", "lexicon"):
            r = score(ScoreSettings(ds, str(d / gt), str(d / preds), select=sel, extractor=ex, profile=a.profile,
                                    trust_pickle=True, data_dir=str(d), bootstrap=0))
            res[ex] = r["score"]
        label = preds.split("/")[-2] if ds == "ovmerd" else "AffectGPT"
        print(f"| {ds} | {label} | {res['given']:.2f} | {res['lexicon']:.2f} | {res['lexicon'] - res['given']:+.2f} |")
    print()
    ok = print_table([("lexicon in-vocabulary recall vs Qwen2.5 labels", r_in, ">= 0.80", r_in >= 0.80)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
