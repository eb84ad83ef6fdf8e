"""``unet-tp train``, ``evaluate`` and ``predict`` (instructor side: they use the reference U-Net)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import asdict, fields
from pathlib import Path

import torch

from unet_tp.cli import add_strict_flag, command


def _build_model(spec: str, model_config: dict) -> torch.nn.Module:
    """The network class ``spec`` names (``--model MODULE:NAME``), built with ``model_config``."""
    from unet_tp.instructor import resolve

    return resolve(spec)(**model_config)


def _add_model_option(p: argparse.ArgumentParser) -> None:
    from unet_tp.instructor import DEFAULT_MODEL

    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="MODULE:NAME",
        help="the network class (default: the reference U-Net of a checkout, "
        f"{DEFAULT_MODEL}; another importable class, built with the run's model settings)",
    )


def _init_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def _train_config(args: argparse.Namespace):
    """The run's settings: the checkpoint's when resuming (refusing flags that contradict them,
    except ``--epochs``), else the preset's with the explicit flags."""
    from unet_tp.train import load_checkpoint, preset_config

    overrides = {f.name: getattr(args, f.name, None) for f in fields(preset_config(None))}
    overrides.pop("device", None)
    ckpt_path = Path(args.out) / "checkpoint.pt"
    if args.resume:
        config = preset_config(None, **load_checkpoint(ckpt_path)["config"])
        clash = {
            k: (v, getattr(config, k))
            for k, v in overrides.items()
            if v is not None and v != getattr(config, k) and k != "epochs"
        }
        if clash:
            detail = ", ".join(
                f"--{k.replace('_', '-')} {a} (the run used {b})" for k, (a, b) in clash.items()
            )
            raise ValueError(f"cannot resume {args.out} with other settings: {detail}")
        if args.epochs is not None:
            config.epochs = args.epochs
    else:
        if ckpt_path.exists():
            raise FileExistsError(
                f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out"
            )
        config = preset_config(args.preset, **overrides)
    config.device = args.device or config.device
    return config


def _training_cache(args: argparse.Namespace, config, distributed: bool, main: bool):
    """``(cache folder, source data folder)`` to train on: ``--data`` itself when it is a
    prepared cache (its geometry taken into ``config``), else the cache of ``--data`` for
    ``config`` (prepared by the main process)."""
    from unet_tp.data.cache import META, default_cache_dir, load_cache_meta, prepare_cache
    from unet_tp.progress import case_progress

    data = Path(args.data).expanduser()
    if (data / META).exists():
        meta = load_cache_meta(data)
        _take_cache_geometry(config, meta["settings"], args, main)
        return data, meta.get("source")
    settings = config.cache_settings()
    cache_dir = Path(args.cache) if args.cache else default_cache_dir(data, settings)
    if main:
        report = prepare_cache(
            data,
            cache_dir,
            settings,
            skip_bad=args.skip_bad,
            progress=case_progress(),
            strict=args.strict,
        )
        print(report.summary())
    if distributed:
        torch.distributed.barrier()
    return cache_dir, str(data.resolve())


def _evaluate_validation(model, config, out: Path, source: str, val_ids, device) -> None:
    """3D metrics of the validation patients on whole volumes -> ``out/metrics.json``."""
    from unet_tp.data.cases import find_cases
    from unet_tp.fileio import save_json
    from unet_tp.metrics import mean_metrics
    from unet_tp.train import evaluate_cases

    by_id = {c.case_id: c for c in find_cases(source)}
    cases = [by_id[i] for i in val_ids if i in by_id]
    per_case = evaluate_cases(model, cases, config.grid, device)
    result = {"cases": per_case, "mean": mean_metrics(per_case), "split": "validation"}
    save_json(out / "metrics.json", result, indent=1)
    m = result["mean"]
    print(
        f"validation patients (3D, {len(cases)}): Dice WT {m['dice_wt']:.3f} TC {m['dice_tc']:.3f} "
        f"ET {m['dice_et']:.3f}; HD95 WT {m['hd95_wt']:.1f} mm"
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from unet_tp.data.cache import SliceDataset, load_cache_meta, split_patients
    from unet_tp.device import run_device
    from unet_tp.fileio import save_json
    from unet_tp.train import RunState, fit

    config = _train_config(args)
    out = Path(args.out)
    distributed = _init_distributed()
    main = not distributed or torch.distributed.get_rank() == 0
    try:
        cache_dir, source = _training_cache(args, config, distributed, main)
        train_ids, val_ids = split_patients(
            cache_dir, config.val_fraction, config.seed, source=Path(args.data).expanduser()
        )
        if main:
            print(
                f"patients: {len(train_ids)} training, {len(val_ids)} validation (split by patient, seed {config.seed})"
            )
        torch.manual_seed(config.seed)
        model = _build_model(args.model, config.model_config())
        split = {"train": train_ids, "val": val_ids}
        state = RunState(config, config.model_config(), split, str(cache_dir), source)
        device = run_device(config.device)
        model.to(device)
        wrapped = model
        if distributed:
            wrapped = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        train_set, val_set = SliceDataset(cache_dir, train_ids), None
        if val_ids:
            val_set = SliceDataset(cache_dir, val_ids)
        fit(
            wrapped, train_set, val_set, config, out, resume=args.resume, state=state, device=device
        )
        if main:
            slice_shape = next(iter(load_cache_meta(cache_dir)["cases"].values()))["shape"][-2:]
            record = {"train": asdict(config), "model": config.model_config()}
            save_json(out / "config.json", {**record, "slice_shape": list(slice_shape)}, indent=1)
            if val_ids and source is not None and not args.no_eval:
                _evaluate_validation(model, config, out, source, val_ids, device)
            print(f"run written to {out}: checkpoint.pt, history.json, metrics.json")
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    return 0


_GEOMETRY = ("crop", "image_size", "tumour_free_fraction")


def _take_cache_geometry(config, cache_settings: dict, args: argparse.Namespace, say: bool) -> None:
    """Train on a prepared cache with its slice geometry, refusing flags that contradict it.

    Args:
        config: the training settings, updated in place with the cache's values.
        cache_settings: the cache's settings (its metadata).
        args: the command line (explicit flags are not None).
        say: print the one notice when a preset's geometry differs from the cache's.

    Raises:
        ValueError: an explicit --crop / --image-size / --tumour-free-fraction that differs
            from the cache's, naming both values.
    """
    clash = [
        f"--{k.replace('_', '-')} {getattr(args, k)} (the cache has {cache_settings[k]})"
        for k in _GEOMETRY
        if getattr(args, k, None) is not None and getattr(args, k) != cache_settings[k]
    ]
    if clash:
        raise ValueError(
            f"{args.data} is a slice cache prepared with other settings: {', '.join(clash)}; "
            "drop these flags, or train on the cases folder (a cache is built for the settings)"
        )
    differs = [
        f"{k} {getattr(config, k)} -> {cache_settings[k]}"
        for k in _GEOMETRY
        if getattr(config, k) != cache_settings[k]
    ]
    if differs and say:
        what = f"preset {args.preset}'s" if args.preset else "the default one"
        print(f"note: training on the cache's slice geometry, not {what}: {', '.join(differs)}")
    for k in _GEOMETRY:
        setattr(config, k, cache_settings[k])


def _load_model(path: str, args: argparse.Namespace):
    """``(model on its device, checkpoint, settings, device)`` of a checkpoint; the model class
    is ``--model`` and the device ``--device``, chosen here once."""
    from unet_tp.device import run_device
    from unet_tp.train import load_checkpoint, load_weights, preset_config

    ckpt = load_checkpoint(path)
    model = _build_model(args.model, ckpt["model_config"])
    load_weights(model, ckpt, path)
    config = preset_config(None, **ckpt["config"])
    device = run_device(args.device or "auto", training=False)
    return model.to(device), ckpt, config, device


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from unet_tp.data.cases import DataError, find_cases
    from unet_tp.fileio import save_json
    from unet_tp.metrics import mean_metrics
    from unet_tp.train import evaluate_cases

    model, ckpt, config, device = _load_model(args.checkpoint, args)
    cases = find_cases(args.data)
    by_id = {c.case_id: c for c in cases}
    if args.cases:
        unknown = [c for c in args.cases if c not in by_id]
        if unknown:
            raise DataError(f"{args.data}: no case {', '.join(unknown)}")
        chosen = [by_id[c] for c in args.cases]
    else:
        val = [by_id[c] for c in ckpt["split"].get("val", []) if c in by_id]
        chosen = val or cases
        which = "the run's validation patients" if val else "every case"
        print(f"evaluating {which} ({len(chosen)})")
    missing_seg = [c.case_id for c in chosen if not c.has_seg]
    if missing_seg:
        raise DataError(
            f"cannot evaluate without ground truth: no seg file for {', '.join(missing_seg)}"
        )
    per_case = evaluate_cases(model, chosen, config.grid, device)
    result = {"checkpoint": str(args.checkpoint), "cases": per_case, "mean": mean_metrics(per_case)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_json(args.out, result, indent=1)
    width = max(len(c) for c in per_case)
    keys = ["dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et"]
    print(f"{'case':{width}s} " + " ".join(f"{k:>8s}" for k in keys))
    for case_id, m in [*per_case.items(), ("mean", result["mean"])]:
        print(
            f"{case_id:{width}s} "
            + " ".join(f"{m[k]:8.3f}" if k.startswith("dice") else f"{m[k]:8.1f}" for k in keys)
        )
    print(f"written to {args.out}")
    return 0


def _nifti_name(out: Path) -> bool:
    return out.name.lower().endswith((".nii", ".nii.gz"))


def _write_seg(seg, affine, out: Path) -> None:
    """Write a segmentation atomically: a temporary file beside ``out``, removed on any failure."""
    import nibabel as nib

    from unet_tp.fileio import atomic_path

    img = nib.Nifti1Image(seg, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_path(out) as tmp:
        img.to_filename(str(tmp))


def _cmd_predict(args: argparse.Namespace) -> int:
    from unet_tp.data.cases import DataError, find_cases, load_case
    from unet_tp.progress import progress_bar
    from unet_tp.train import predict_volume

    if (args.case is None) == (args.data is None):
        raise ValueError("give either --case CASE_DIR (one case) or --data DIR (every case of DIR)")
    out = Path(args.out)
    if args.case is not None:
        if not _nifti_name(out):
            raise ValueError(
                f"{out}: --out must name a NIfTI file ending in .nii.gz or .nii "
                f"(e.g. {out.name}.nii.gz)"
            )
        cases = find_cases(args.case)
        if len(cases) != 1:
            raise DataError(f"{args.case}: expected one case folder, found {len(cases)} cases")
        targets = [(cases[0], out)]
    else:
        if _nifti_name(out) or out.is_file():
            raise ValueError(f"{out}: with --data, --out is a folder (OUT_DIR/<case>.nii.gz)")
        cases = find_cases(args.data)
        targets = [(c, out / f"{c.case_id}.nii.gz") for c in cases]
    existing = [str(t) for _, t in targets if t.exists()]
    if existing and not args.force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise FileExistsError(f"{existing[0]}{more} exists; pass --force to replace")
    for folder in {t.parent for _, t in targets}:  # fail now on a path that cannot be written,
        folder.mkdir(parents=True, exist_ok=True)  # not after inference (the OS says why)
        with tempfile.TemporaryFile(dir=folder, prefix=".unet_tp-write-test-"):
            pass
    model, _, config, device = _load_model(args.checkpoint, args)
    bar = progress_bar(targets, "segmenting", enabled=len(targets) > 1, unit="case")
    for case, target in bar:
        vol = load_case(case, with_seg=False, strict=args.strict)
        for line in vol.warnings:
            print(f"warning: {line}", file=sys.stderr)
        seg = predict_volume(model, vol, config.grid, device)
        seg = vol.to_source_orientation(seg).astype("uint8")
        _write_seg(seg, vol.affine, target)
        counts = {lab: int((seg == lab).sum()) for lab in (1, 2, 4)}
        line = (
            f"{case.case_id}: segmentation written to {target} "
            f"(voxels: NCR/NET {counts[1]}, ED {counts[2]}, ET {counts[4]})"
        )
        if len(targets) > 1:
            bar.write(line)
        else:
            print(line)
    if len(targets) > 1:
        print(f"{len(targets)} cases segmented into {out}")
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from unet_tp import viz
    from unet_tp.data.cases import DataError, find_cases, load_case
    from unet_tp.train import predict_volume

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = find_cases(args.data)
    by_id = {c.case_id: c for c in cases}
    written = []
    model = config = device = ckpt = None
    if args.run:
        model, ckpt, config, device = _load_model(str(Path(args.run) / "checkpoint.pt"), args)
    if args.case:
        if args.case not in by_id:
            raise DataError(f"{args.data}: no case {args.case}")
        case = by_id[args.case]
    else:
        val = [by_id[c] for c in (ckpt["split"].get("val", []) if ckpt else []) if c in by_id]
        case = (val or cases)[0]
    vol = load_case(case, with_seg=True)

    def save(fig, name):
        fig.savefig(out / name, dpi=args.dpi)
        written.append(out / name)

    save(viz.show_case(vol.image, vol.seg, title=case.case_id), "case.png")
    if model is not None:
        history = ckpt["history"]
        save(viz.plot_history(history), "training.png")
        pred = predict_volume(model, vol, config.grid, device)
        save(viz.show_prediction(vol.image, vol.seg, pred), "prediction.png")
        table = viz.format_layer_table(viz.layer_table(model, (1, 4, *config.grid.input_size())))
        (out / "layers.txt").write_text(table + "\n")
        written.append(out / "layers.txt")
        print(table)
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


# what each preset is for, shown by `unet-tp train --help` (one entry per train.PRESETS)
PRESET_HELP = {
    "cpu-quick": "a machine without GPU: 96x96 slices (192 crop halved), U-Net 16->256, 6 epochs, "
    "cross-entropy + Dice; about 2.5 minutes for the 16 sample cases on 2 CPU cores",
    "colab-t4": "a Colab T4 GPU: full 192x192 crops, U-Net 32->512, 15 epochs, mixed precision",
    "paper": "the paper's widths 64->1024 without batch norm, 30 epochs: a reference run on a "
    "large GPU",
    "notebook-cpu": "what the notebook trains without a GPU: 64x64 slices, U-Net 16->128 "
    "(depth 3), 8 epochs, cross-entropy; about a minute on 2 CPU cores",
    "tiny": "smoke tests and autograding: 48x48 slices, U-Net 4->32 (depth 3), 1 epoch; seconds",
}


def _preset_help(text: str, name: str) -> str:
    """``text`` with the flag's default and each preset's value of setting ``name``."""
    from unet_tp.train import PRESETS, TrainConfig

    default = getattr(TrainConfig(), name)

    def shown(value: object) -> str:
        return "none" if value is None else str(value)

    per = ", ".join(f"{p} {shown(PRESETS[p].get(name, default))}" for p in PRESETS)
    return f"{text} (default {shown(default)}; with --preset: {per})"


def _presets_epilog() -> str:
    import textwrap

    from unet_tp.train import PRESETS

    lines = [
        textwrap.fill(
            PRESET_HELP.get(name, ""),
            width=78,
            initial_indent=f"  {name:13s} ",
            subsequent_indent=" " * 16,
        )
        for name in PRESETS
    ]
    return (
        "presets (--preset P sets the defaults; explicit flags override them):\n"
        + "\n".join(lines)
        + "\n\nWithout a GPU training is slow: prefer --preset cpu-quick. Multi-GPU:\n"
        "  torchrun --nproc_per_node=N -m unet_tp train --data DIR --out RUN --preset paper"
    )


@command
def _register(sub: argparse._SubParsersAction) -> None:
    """The train, evaluate, figures and predict parsers: flag after flag, it reads better whole."""
    from unet_tp.train import PRESETS

    p = sub.add_parser(
        "train",
        help="train the reference U-Net (runs under torchrun too)",
        description="Train the reference U-Net of solutions/ on BraTS cases or a slice cache.",
        epilog=_presets_epilog(),
    )
    p.add_argument("--data", required=True, help="folder of BraTS cases, or a prepared slice cache")
    p.add_argument(
        "--out", required=True, help="run folder: checkpoint.pt, history.json, metrics.json"
    )
    p.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="a set of defaults, described below (default: none, the defaults shown per flag)",
    )
    p.add_argument(
        "--epochs", type=int, help=_preset_help("passes over the training slices", "epochs")
    )
    p.add_argument("--batch-size", type=int, help=_preset_help("slices per step", "batch_size"))
    p.add_argument(
        "--lr", type=float, help=_preset_help("peak learning rate of Adam (cosine decay)", "lr")
    )
    p.add_argument(
        "--base-channels",
        type=int,
        help=_preset_help("channels of the first level (64 in the paper)", "base_channels"),
    )
    p.add_argument(
        "--depth", type=int, help=_preset_help("pooling steps (4 in the paper)", "depth")
    )
    p.add_argument(
        "--image-size",
        type=int,
        help=_preset_help("slice size seen by the network (none: the crop's size)", "image_size"),
    )
    p.add_argument("--crop", type=int, help=_preset_help("centre crop before resizing", "crop"))
    p.add_argument(
        "--loss",
        choices=["ce", "ce+dice"],
        help=_preset_help("cross-entropy (Eq. 1), or cross-entropy + soft Dice", "loss"),
    )
    p.add_argument(
        "--val-fraction",
        type=float,
        help=_preset_help("share of patients held out for validation", "val_fraction"),
    )
    p.add_argument(
        "--seed",
        type=int,
        help=_preset_help("seeds the split, the weights, the data order", "seed"),
    )
    p.add_argument(
        "--num-workers", type=int, help=_preset_help("DataLoader worker processes", "num_workers")
    )
    p.add_argument(
        "--deterministic",
        action="store_true",
        default=None,
        help="deterministic algorithms: bit-identical reruns for one seed (slower on GPU; "
        "default: off)",
    )
    p.add_argument(
        "--device", help="auto, cpu, cuda, cuda:N or mps (default: auto, a GPU when there is one)"
    )
    p.add_argument("--cache", help="slice cache folder (default: one under ~/.cache/unet_tp)")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out (default: a new run)"
    )
    p.add_argument(
        "--skip-bad", action="store_true", help="leave out unreadable cases (default: stop)"
    )
    p.add_argument(
        "--no-eval",
        action="store_true",
        help="skip the 3D evaluation of the validation patients at the end (default: evaluate)",
    )
    add_strict_flag(p)
    _add_model_option(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate", help="BraTS metrics (Dice, HD95 per region) of a checkpoint on whole volumes"
    )
    p.add_argument("--data", required=True, help="folder of BraTS cases with their seg files")
    p.add_argument("--checkpoint", required=True, help="a run's checkpoint.pt")
    p.add_argument("--out", required=True, help="JSON file of the metrics")
    p.add_argument("--cases", nargs="+", help="case ids (default: the run's validation patients)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_model_option(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "figures", help="write the kit's figures (a case; with --run: curves, prediction, layers)"
    )
    p.add_argument("--data", required=True, help="folder of BraTS cases")
    p.add_argument("--run", help="a training run folder (holding checkpoint.pt)")
    p.add_argument("--case", help="case id (default: the first validation patient)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNG files")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_model_option(p)
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser(
        "predict", help="segment one case, or every case of a folder, into BraTS-label NIfTI files"
    )
    p.add_argument("--case", help="one case folder (--out: a .nii.gz file)")
    p.add_argument(
        "--data", help="a folder of cases, seg or not (--out: a folder, OUT/<case>.nii.gz)"
    )
    p.add_argument("--checkpoint", required=True, help="a run's checkpoint.pt")
    p.add_argument("--out", required=True, help="output .nii.gz (--case) or folder (--data)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    p.add_argument("--force", action="store_true", help="replace existing output files")
    add_strict_flag(p)
    _add_model_option(p)
    p.set_defaults(func=_cmd_predict)


def _cmd_notebook_build(args: argparse.Namespace) -> int:
    from unet_tp.instructor import import_autograder

    build = import_autograder("build")
    report = build.build(check=args.check, repository=args.repository, ref=args.ref)
    if report.synced_cells:
        verb = "would take" if args.check else "took"
        print(f"source notebook {verb} cells {', '.join(report.synced_cells)} from solutions/")
    print(report.summary())
    if args.check and report.changed:
        print("run `unet-tp notebook build` to regenerate them", file=sys.stderr)
        return 1
    return 0


@command
def _register_notebook(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("notebook", help="instructor: build the student notebook")
    nsub = p.add_subparsers(dest="notebook_command", required=True)
    b = nsub.add_parser(
        "build",
        help="sync the source notebook with solutions/, regenerate notebooks/TP_sujet.ipynb "
        "and the solution notebook (nbgrader generate_assignment)",
    )
    b.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if out of date (default: write the notebooks)",
    )
    b.add_argument(
        "--repository",
        metavar="OWNER/NAME",
        help="publish: the GitHub repository students install from and open in Colab, written "
        "into unet_tp/sources.py, the README's Colab badge and the notebook's install cell "
        "(default: REPOSITORY in unet_tp/sources.py)",
    )
    b.add_argument(
        "--ref",
        metavar="TAG",
        help="publish: the branch or tag students install and open (default: REF in "
        "unet_tp/sources.py)",
    )
    b.set_defaults(func=_cmd_notebook_build)


def _cmd_grade(args: argparse.Namespace) -> int:
    from unet_tp.instructor import import_autograder

    grading = import_autograder("grade")
    results = grading.grade_all(
        Path(args.submissions),
        Path(args.out),
        jobs=args.jobs,
        force=args.force,
        pattern=args.pattern,
        db_url=args.db,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        memory_limit=int(args.memory_limit * 2**30) if args.memory_limit else None,
        sandbox=args.sandbox,
    )
    print(grading.summary_table(results))
    out = Path(args.out)
    print(
        f"grades: {out / 'grades.csv'}; feedback: {out / 'feedback'}/; class report: {out / 'report.html'}"
    )
    return 0


@command
def _register_grade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grade", help="instructor: autograde a folder (or LMS zip) of downloaded notebooks"
    )
    p.add_argument("submissions", help="folder of .ipynb files (one folder per student) or a zip")
    p.add_argument("--out", required=True, help="output folder: grades.csv, feedback/, gradebook")
    p.add_argument("--jobs", type=int, default=1, help="notebooks graded in parallel")
    p.add_argument(
        "--force",
        action="store_true",
        help="regrade unchanged submissions too (default: only new or changed ones)",
    )
    p.add_argument(
        "--pattern", help="regular expression with a group 'id' (and 'name') matched in each path"
    )
    p.add_argument("--db", help="gradebook SQLAlchemy URL (default sqlite OUT/gradebook.db)")
    p.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    p.add_argument(
        "--notebook-timeout", type=int, default=900, help="seconds per notebook (default 900)"
    )
    p.add_argument(
        "--memory-limit", type=float, default=8, help="GiB of address space per kernel (0: none)"
    )
    p.add_argument(
        "--sandbox",
        choices=["bwrap", "none"],
        default="bwrap",
        help="bwrap: each notebook's kernel in a bubblewrap sandbox (no network, nothing of the "
        "instructor side visible); none: run notebooks with your rights (every row flagged)",
    )
    p.set_defaults(func=_cmd_grade)


def _cmd_report(args: argparse.Namespace) -> int:
    from unet_tp.instructor import import_autograder

    path = import_autograder("report").write_report(Path(args.out))
    print(f"report: {path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from unet_tp.instructor import import_autograder

    export = import_autograder("export")
    report = export.export(
        Path(args.out_dir),
        args.format,
        roster=Path(args.roster) if args.roster else None,
        out=Path(args.out) if args.out else None,
        assignment=args.assignment,
    )
    print(report.summary())
    return 0


@command
def _register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="instructor: class report OUT/report.html of a grading run")
    p.add_argument("out", metavar="OUT", help="the grading output folder (holding results.json)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="instructor: grades for Moodle, Canvas or a plain CSV")
    p.add_argument("out_dir", metavar="OUT", help="the grading output folder (results.json)")
    p.add_argument(
        "--format",
        required=True,
        choices=["moodle", "canvas", "csv"],
        help="moodle: the offline grading worksheet; canvas: the gradebook import CSV; csv: plain",
    )
    p.add_argument(
        "--roster",
        metavar="FILE",
        help="the grading worksheet (Moodle) or gradebook export (Canvas) downloaded from the LMS",
    )
    p.add_argument("--out", metavar="FILE", help="file to write (default: a file in OUT)")
    p.add_argument("--assignment", help="Canvas: the assignment column, 'Title (id)' or its id")
    p.set_defaults(func=_cmd_export)


if __name__ == "__main__":
    from unet_tp.cli import main

    sys.exit(main())
