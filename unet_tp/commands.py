"""``unet-tp train``, ``evaluate``, ``predict`` and ``figures``: a network class (``--model
MODULE:NAME``, by default the reference U-Net of the instructor's checkout) trained on, or applied
to, BraTS cases."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from unet_tp.cli import add_strict_flag, command

if TYPE_CHECKING:
    from unet_tp.settings import TrainConfig


DEFAULT_MODEL = "solutions.unet:UNet"
"""What ``--model`` names by default: the reference U-Net, importable where the instructor's
checkout is installed in place (``pip install -e '.[instructor]'``)."""


def resolve_model(spec: str) -> type[torch.nn.Module]:
    """The network class ``spec`` (``MODULE:NAME``) names, imported the ordinary way.

    Raises:
        ValueError: ``spec`` is not ``MODULE:NAME``, the module cannot be imported, or it has no
            ``NAME``; for the default in a student install, one line saying what to do.
    """
    import importlib

    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--model {spec}: expected MODULE:NAME, e.g. {DEFAULT_MODEL}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if spec == DEFAULT_MODEL and exc.name in ("solutions", "solutions.unet"):
            raise ValueError(
                f"--model {spec}: the reference U-Net is not installed here (a student install: "
                "it comes with the instructor's checkout, `pip install -e '.[instructor]'`); "
                "name your own network class with --model MODULE:NAME"
            ) from None
        raise ValueError(f"--model {spec}: cannot import {module_name} ({exc})") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"--model {spec}: {module_name} has no {name}") from None


def build_model(spec: str, config: TrainConfig) -> torch.nn.Module:
    """The network ``spec`` names, built with the run's model settings.

    Raises:
        ValueError: the class cannot be built with those settings (one line naming them).
    """
    kwargs = config.model.kwargs()
    try:
        return resolve_model(spec)(**kwargs)
    except TypeError as exc:
        names = ", ".join(kwargs)
        raise ValueError(
            f"--model {spec}: cannot build it with the run's model settings ({exc}); the class "
            f"must accept the keyword arguments {names}"
        ) from None


def _add_model_option(p: argparse.ArgumentParser, training: bool) -> None:
    default = DEFAULT_MODEL if training else f"the checkpoint's class, else {DEFAULT_MODEL}"
    p.add_argument(
        "--model",
        metavar="MODULE:NAME",
        help=f"the network class (default: {default}, the reference U-Net of the instructor's "
        "checkout; another importable class is built with the run's model settings)",
    )


def _init_distributed() -> bool:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend=backend)
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return True


def _train_config(args: argparse.Namespace) -> tuple[TrainConfig, str | None]:
    """``(the run's settings, the network class it recorded)``: the checkpoint's when resuming
    (refusing flags that contradict them, except ``--epochs``), else the preset's with the
    explicit flags (and no class)."""
    from unet_tp.settings import SETTING_NAMES, preset_config
    from unet_tp.train import load_checkpoint, run_settings

    given = {k: getattr(args, k) for k in SETTING_NAMES if getattr(args, k, None) is not None}
    ckpt_path = Path(args.out) / "checkpoint.pt"
    if not args.resume:
        if ckpt_path.exists():
            raise FileExistsError(
                f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out"
            )
        return preset_config(args.preset, **given), None
    ckpt = load_checkpoint(ckpt_path)
    config = run_settings(ckpt)
    recorded = config.flat()
    clash = {k: (v, recorded[k]) for k, v in given.items() if v != recorded[k] and k != "epochs"}
    if clash:
        detail = ", ".join(
            f"--{k.replace('_', '-')} {a} (the run used {b})" for k, (a, b) in clash.items()
        )
        raise ValueError(f"cannot resume {args.out} with other settings: {detail}")
    if args.epochs is not None:
        config.optim.epochs = args.epochs
    return config, ckpt.get("model_class")


def _training_cache(
    args: argparse.Namespace, config: TrainConfig, distributed: bool, main: bool
) -> tuple[TrainConfig, Path, str | None]:
    """``(settings, cache folder, source data folder)`` to train on: ``--data`` itself when it
    is a prepared cache (the settings then take its grid: :func:`_on_cache`), else the cache of
    ``--data`` for ``config`` (prepared by the main process)."""
    from unet_tp.data.cache import META, default_cache_dir, load_cache_meta, prepare_cache
    from unet_tp.progress import case_progress

    data = Path(args.data).expanduser()
    if (data / META).exists():
        meta = load_cache_meta(data)
        return _on_cache(config, meta["settings"], args, main), data, meta.get("source")
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
    return config, cache_dir, str(data.resolve())


def _evaluate_validation(model, grid, out: Path, source: str, val_ids, device) -> None:
    """3D metrics of the validation patients on whole volumes -> ``out/metrics.json``."""
    from unet_tp.data.cases import find_cases
    from unet_tp.fileio import save_json
    from unet_tp.metrics import mean_metrics
    from unet_tp.train import evaluate_cases

    by_id = {c.case_id: c for c in find_cases(source)}
    cases = [by_id[i] for i in val_ids if i in by_id]
    per_case = evaluate_cases(model, cases, grid, device)
    result = {"cases": per_case, "mean": mean_metrics(per_case), "split": "validation"}
    save_json(out / "metrics.json", result, indent=1)
    m = result["mean"]
    print(
        f"validation patients (3D, {len(cases)}): Dice WT {m['dice_wt']:.3f} TC {m['dice_tc']:.3f} "
        f"ET {m['dice_et']:.3f}; HD95 WT {m['hd95_wt']:.1f} mm"
    )


def _cmd_train(args: argparse.Namespace) -> int:
    """Settings, cache, split, model, ``fit``, then the validation patients in 3D."""
    from unet_tp.data.cache import SliceDataset, load_cache_meta, split_patients
    from unet_tp.device import run_device
    from unet_tp.fileio import save_json
    from unet_tp.train import RunState, fit

    config, trained = _train_config(args)
    spec = args.model or trained or DEFAULT_MODEL
    resolve_model(spec)  # a wrong --model fails now, not after preparing the data
    out = Path(args.out)
    distributed = _init_distributed()
    main = not distributed or torch.distributed.get_rank() == 0
    try:
        config, cache_dir, source = _training_cache(args, config, distributed, main)
        data = Path(args.data).expanduser()
        train_ids, val_ids = split_patients(
            cache_dir, config.sampling.val_fraction, config.seed, source=data
        )
        if main:
            print(
                f"patients: {len(train_ids)} training, {len(val_ids)} validation "
                f"(split by patient, seed {config.seed})"
            )
        torch.manual_seed(config.seed)
        model = build_model(spec, config)
        split = {"train": train_ids, "val": val_ids}
        state = RunState(config, split, str(cache_dir), source, model_class=spec)
        device = run_device(args.device or "auto")
        model.to(device)
        wrapped = model
        if distributed:
            wrapped = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None
            )
        val_set = SliceDataset(cache_dir, val_ids) if val_ids else None
        fit(
            wrapped,
            SliceDataset(cache_dir, train_ids),
            val_set,
            config,
            out,
            resume=args.resume,
            state=state,
            device=device,
        )
        if main:
            slice_shape = next(iter(load_cache_meta(cache_dir)["cases"].values()))["shape"][-2:]
            record = {"settings": state.config.to_json(), "slice_shape": list(slice_shape)}
            save_json(out / "config.json", record, indent=1)
            if val_ids and source is not None and not args.no_eval:
                _evaluate_validation(model, config.grid, out, source, val_ids, device)
            written = "checkpoint.pt, history.json, config.json"
            if (out / "metrics.json").exists():
                written += ", metrics.json"
            print(f"run written to {out}: {written}")
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    return 0


_CACHE_RECORDS = ("crop", "image_size", "tumour_free_fraction")


def _on_cache(
    config: TrainConfig, cache_json: dict, args: argparse.Namespace, say: bool
) -> TrainConfig:
    """The settings for training on a prepared cache: its grid and tumour-free share (read from
    its metadata), refusing flags that contradict them.

    Args:
        config: the run's settings (a preset's, with the explicit flags).
        cache_json: the cache's settings (its metadata).
        args: the command line (explicit flags are not None).
        say: print the one notice when a preset's grid differs from the cache's.

    Raises:
        ValueError: an explicit --crop / --image-size / --tumour-free-fraction that differs
            from the cache's, naming both values.
    """
    from unet_tp.data.cache import CacheSettings

    cache = CacheSettings.from_json(cache_json)
    clash = [
        f"--{k.replace('_', '-')} {getattr(args, k)} (the cache has {cache_json[k]})"
        for k in _CACHE_RECORDS
        if getattr(args, k, None) is not None and getattr(args, k) != cache_json[k]
    ]
    if clash:
        raise ValueError(
            f"{args.data} is a slice cache prepared with other settings: {', '.join(clash)}; "
            "drop these flags, or train on the cases folder (a cache is built for the settings)"
        )
    taken = config.on_cache(cache)
    before, after = config.flat(), taken.flat()
    differs = [f"{k} {before[k]} -> {after[k]}" for k in _CACHE_RECORDS if before[k] != after[k]]
    if differs and say:
        what = f"preset {args.preset}'s" if args.preset else "the default one"
        print(f"note: training on the cache's slice geometry, not {what}: {', '.join(differs)}")
    return taken


def _load_model(path: str, args: argparse.Namespace):
    """``(model on its device, checkpoint, settings, device)`` of a checkpoint; the model class
    is ``--model``, else the one the run recorded, and the device ``--device``, chosen here once."""
    from unet_tp.device import run_device
    from unet_tp.train import load_checkpoint, load_weights, run_settings

    ckpt = load_checkpoint(path)
    config = run_settings(ckpt)
    trained = ckpt.get("model_class")
    spec = args.model or trained or DEFAULT_MODEL
    model = build_model(spec, config)
    try:
        load_weights(model, ckpt, path)
    except ValueError as exc:
        if trained and trained != spec:
            raise ValueError(f"{exc} (the run trained --model {trained}, not {spec})") from None
        raise
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


# what each preset is for, shown by `unet-tp train --help` (one entry per settings.PRESETS)
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
    from unet_tp.settings import PRESETS, TrainConfig

    default = TrainConfig().flat()[name]

    def shown(value: object) -> str:
        return "none" if value is None else str(value)

    per = ", ".join(f"{p} {shown(PRESETS[p].get(name, default))}" for p in PRESETS)
    return f"{text} (default {shown(default)}; with --preset: {per})"


def _presets_epilog() -> str:
    import textwrap

    from unet_tp.settings import PRESETS

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
    from unet_tp.settings import PRESETS

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
        "--tumour-free-fraction",
        type=float,
        help=_preset_help(
            "share of each case's tumour-free brain slices kept in the cache",
            "tumour_free_fraction",
        ),
    )
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
    _add_model_option(p, training=True)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "evaluate", help="BraTS metrics (Dice, HD95 per region) of a checkpoint on whole volumes"
    )
    p.add_argument("--data", required=True, help="folder of BraTS cases with their seg files")
    p.add_argument("--checkpoint", required=True, help="a run's checkpoint.pt")
    p.add_argument("--out", required=True, help="JSON file of the metrics")
    p.add_argument("--cases", nargs="+", help="case ids (default: the run's validation patients)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    _add_model_option(p, training=False)
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
    _add_model_option(p, training=False)
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
    _add_model_option(p, training=False)
    p.set_defaults(func=_cmd_predict)


if __name__ == "__main__":
    from unet_tp.cli import main

    sys.exit(main())
