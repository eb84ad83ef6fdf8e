"""What ``unet-tp train``, ``evaluate``, ``predict`` and ``figures`` run: a network class
(``--model MODULE:NAME``, by default the reference U-Net of this checkout) trained on, or applied
to, BraTS cases. Their flags: :mod:`autograder.model_flags`."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

import torch

from autograder.model_flags import DEFAULT_MODEL
from unet_tp import train
from unet_tp.data import cache, pack
from unet_tp.data.cases import MODALITIES, DataError, find_cases, load_case
from unet_tp.data.split import patient_of
from unet_tp.device import run_device
from unet_tp.fileio import atomic_path, check_writable, save_json
from unet_tp.metrics import mean_metrics
from unet_tp.progress import case_progress, progress_bar
from unet_tp.settings import SETTING_NAMES, TrainConfig, preset_config


def resolve_model(spec: str) -> type[torch.nn.Module]:
    """The network class ``spec`` (``MODULE:NAME``) names; a one-line ValueError if none."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise ValueError(f"--model {spec}: expected MODULE:NAME, e.g. {DEFAULT_MODEL}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ValueError(f"--model {spec}: cannot import {module_name} ({exc})") from None
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"--model {spec}: {module_name} has no {name}") from None


def build_model(spec: str, config: TrainConfig) -> torch.nn.Module:
    """The network ``spec`` names, built with the run's model settings (a ValueError if it
    cannot take them)."""
    kwargs = config.model.kwargs()
    try:
        return resolve_model(spec)(**kwargs)
    except TypeError as exc:
        raise ValueError(
            f"--model {spec}: cannot build it with the run's model settings ({exc}); the class "
            f"must accept the keyword arguments {', '.join(kwargs)}"
        ) from None


def _flag_clashes(given: dict, recorded: dict, what: str) -> list[str]:
    """``--flag value (WHAT recorded)`` for each given setting that differs from the recorded."""
    return [
        f"--{k.replace('_', '-')} {v} ({what} {recorded[k]})"
        for k, v in given.items()
        if v is not None and v != recorded[k]
    ]


def _train_config(args: argparse.Namespace) -> tuple[TrainConfig, str | None]:
    """``(settings, network class)``: the checkpoint's when resuming (refusing flags that
    contradict them), else the preset's with the explicit flags (and no class)."""
    given = {k: getattr(args, k) for k in SETTING_NAMES if getattr(args, k, None) is not None}
    ckpt_path = Path(args.out) / "checkpoint.pt"
    if not args.resume:
        if ckpt_path.exists():
            raise FileExistsError(
                f"{ckpt_path} exists: pass --resume to continue that run, or choose another --out"
            )
        return preset_config(args.preset, **given), None
    ckpt = train.load_checkpoint(ckpt_path)
    config = train.run_settings(ckpt)
    free = {"epochs": None, "time_budget_minutes": None}  # a resumed run may change these
    clash = _flag_clashes({**given, **free}, config.flat(), "the run used")
    if clash:
        raise ValueError(f"cannot resume {args.out} with other settings: {', '.join(clash)}")
    if args.epochs is not None:
        config.optim.epochs = args.epochs
    config.optim.time_budget_minutes = args.time_budget_minutes
    return config, ckpt.get("model_class")


def _training_cache(
    args: argparse.Namespace, config: TrainConfig, distributed: bool, main: bool
) -> tuple[TrainConfig, Path, str | None]:
    """``(settings, cache folder, source data folder)``: ``--data`` itself when it is a cache or
    a course pack (its grid then taken), else the cache of ``--data`` (made by the main process)."""
    data = Path(args.data).expanduser()
    if pack.is_pack(args.data):  # an archive, its URL or its folder: unpacked once, then a cache
        data = pack.open_pack(args.data, progress=main)
    if (data / cache.META).exists():
        meta = cache.load_cache_meta(data)
        source = meta.get("source")  # None for a pack or a cache whose cases are elsewhere
        source = source if source and Path(source).is_dir() else None
        return _on_cache(config, meta["settings"], args, main), data, source
    settings = config.cache_settings()
    cache_dir = Path(args.cache) if args.cache else cache.default_cache_dir(data, settings)
    if main:
        report = cache.prepare_cache(
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


_CACHE_RECORDS = ("crop", "image_size", "tumour_free_fraction")


def _on_cache(
    config: TrainConfig, cache_json: dict, args: argparse.Namespace, say: bool
) -> TrainConfig:
    """The settings on a prepared cache (metadata ``cache_json``): its grid and tumour-free share
    (``say``: a notice of what changed; an explicit flag that differs is a ValueError)."""
    given = {k: getattr(args, k, None) for k in _CACHE_RECORDS}
    clash = _flag_clashes(given, cache_json, "the cache has")
    if clash:
        raise ValueError(
            f"{args.data} is a slice cache prepared with other settings: {', '.join(clash)}; "
            "drop these flags, or train on the cases folder (a cache is built for the settings)"
        )
    taken = config.on_cache(cache.CacheSettings.from_json(cache_json))
    before, after = config.flat(), taken.flat()
    differs = [f"{k} {before[k]} -> {after[k]}" for k in _CACHE_RECORDS if before[k] != after[k]]
    if differs and say:
        what = f"preset {args.preset}'s" if args.preset else "the default one"
        print(f"note: training on the cache's slice geometry, not {what}: {', '.join(differs)}")
    return taken


def _cmd_train(args: argparse.Namespace) -> int:
    """Settings, then the run (under torchrun: one process of several)."""
    config, trained = _train_config(args)
    spec = args.model or trained or DEFAULT_MODEL
    resolve_model(spec)  # a wrong --model fails now, not after preparing the data
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        _train(args, config, spec, distributed)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


def _patients(case_ids: list[str]) -> str:
    """``"12"``, or ``"12 (14 scans)"`` where a patient has several (BraTS 2024's timepoints)."""
    patients = len({patient_of(c) for c in case_ids})
    return f"{patients}" if patients == len(case_ids) else f"{patients} ({len(case_ids)} scans)"


def _train(args: argparse.Namespace, config: TrainConfig, spec: str, distributed: bool) -> None:
    """Cache, split, model, ``fit``, then (main process) the run's record and its validation."""
    main = not distributed or torch.distributed.get_rank() == 0
    config, cache_dir, source = _training_cache(args, config, distributed, main)
    data = Path(args.data).expanduser()
    ids = cache.split_patients(cache_dir, config.sampling.val_fraction, config.seed, source=data)
    split = {"train": ids[0], "val": ids[1]}
    if main:
        print(
            f"patients: {_patients(split['train'])} training, {_patients(split['val'])} "
            f"validation (split by patient, seed {config.seed})"
        )
    torch.manual_seed(config.seed)
    model = build_model(spec, config)
    state = train.RunState(config, split, str(cache_dir), source, model_class=spec)
    device = run_device(args.device or "auto")
    model.to(device)
    net = model
    if distributed:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
    val_set = cache.SliceDataset(cache_dir, split["val"]) if split["val"] else None
    train_set = cache.SliceDataset(cache_dir, split["train"])
    train.fit(
        net, train_set, val_set, config, args.out, resume=args.resume, state=state, device=device
    )
    if distributed:  # the ranks part together, then the main one evaluates alone
        del net
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    if main:
        _record_run(args, state, model, cache_dir, source, device)


def _record_run(args, state, model, cache_dir: Path, source: str | None, device) -> None:
    """``config.json``, then the validation patients in 3D (``metrics.json``)."""
    out = Path(args.out)
    slice_shape = next(iter(cache.load_cache_meta(cache_dir)["cases"].values()))["shape"][-2:]
    record = {"settings": state.config.to_json(), "slice_shape": list(slice_shape)}
    save_json(out / "config.json", record, indent=1)
    val_ids = state.split["val"]
    if val_ids and source is not None and not args.no_eval:
        by_id = {c.case_id: c for c in find_cases(source)}
        cases = [by_id[i] for i in val_ids if i in by_id]
        grid = state.config.grid
        m = _metrics(model, cases, grid, device, out / "metrics.json", split="validation")["mean"]
        print(
            f"validation patients (3D, {len(cases)}): Dice WT {m['dice_wt']:.3f} TC "
            f"{m['dice_tc']:.3f} ET {m['dice_et']:.3f}; HD95 WT {m['hd95_wt']:.1f} mm"
        )
    written = "checkpoint.pt, history.json, config.json"
    if (out / "metrics.json").exists():
        written += ", metrics.json"
    print(f"run written to {out}: {written}")


def _metrics(model, cases: list, grid, device, out: Path, **record) -> dict:
    """BraTS metrics of ``cases`` in 3D, per case and their mean, written to ``out`` (JSON)."""
    skipped: dict[str, str] = {}
    per_case = train.evaluate_cases(model, cases, grid, device, skipped=skipped)
    if not per_case and skipped:
        raise DataError(f"no case could be read ({len(skipped)}): {next(iter(skipped.values()))}")
    result = {**record, "cases": per_case, "mean": mean_metrics(per_case)}
    result |= {"skipped": skipped} if skipped else {}
    out.parent.mkdir(parents=True, exist_ok=True)
    save_json(out, result, indent=1)
    return result


def _load_model(path: str, args: argparse.Namespace):
    """``(model on its device, checkpoint, settings, device)``; the class: --model or the run's."""
    ckpt = train.load_checkpoint(path)
    config = train.run_settings(ckpt)
    trained = ckpt.get("model_class")
    spec = args.model or trained or DEFAULT_MODEL
    model = build_model(spec, config)
    try:
        train.load_weights(model, ckpt, path)
    except ValueError as exc:
        if trained and trained != spec:
            raise ValueError(f"{exc} (the run trained --model {trained}, not {spec})") from None
        raise
    device = run_device(args.device or "auto", training=False)
    return model.to(device), ckpt, config, device


def _chosen_cases(data: str, wanted: list[str] | None, ckpt: dict | None) -> tuple[list, str]:
    """``(cases, which)``: ``wanted``, else the run's validation patients, else all of ``data``."""
    cases = find_cases(data)
    by_id = {c.case_id: c for c in cases}
    unknown = [c for c in wanted or [] if c not in by_id]
    if unknown:
        raise DataError(f"{data}: no case {', '.join(unknown)}")
    if wanted:
        return [by_id[c] for c in wanted], "the cases named"
    val = [by_id[c] for c in (ckpt or {}).get("split", {}).get("val", []) if c in by_id]
    return (val, "the run's validation patients") if val else (cases, "every case")


def _trained_on(chosen: list, ckpt: dict) -> None:
    """Say which of the ``chosen`` cases are of the run's training patients (data round 20:
    their scores, optimistic, were given as every case's without a word)."""
    trained = {patient_of(c) for c in ckpt.get("split", {}).get("train", [])}
    seen = [c.case_id for c in chosen if patient_of(c.case_id) in trained]
    if seen:
        print(
            f"warning: {len(seen)} of these {len(chosen)} cases are of the run's training "
            f"patients (e.g. {seen[0]}): their scores are optimistic; evaluate the validation "
            "patients (no --cases, the run's data) for a fair one"
        )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _check_replaceable(Path(args.out), args.force)
    model, ckpt, config, device = _load_model(args.checkpoint, args)
    chosen, which = _chosen_cases(args.data, args.cases, ckpt)
    if not args.cases:
        print(f"evaluating {which} ({len(chosen)})")
    _trained_on(chosen, ckpt)
    missing_seg = [c.case_id for c in chosen if not c.has_seg]
    if missing_seg and (args.cases or len(missing_seg) == len(chosen)):
        raise DataError(
            f"cannot evaluate without ground truth: no seg file for {', '.join(missing_seg)}"
        )
    if missing_seg:  # among every case: those with a ground truth are evaluated
        print(f"left out, no seg file to compare with: {', '.join(missing_seg)}")
        chosen = [c for c in chosen if c.has_seg]
    result = _metrics(
        model, chosen, config.grid, device, Path(args.out), checkpoint=args.checkpoint
    )
    per_case = result["cases"]
    width = max(len(c) for c in per_case)
    keys = ["dice_wt", "dice_tc", "dice_et", "hd95_wt", "hd95_tc", "hd95_et"]
    print(f"{'case':{width}s} " + " ".join(f"{k:>8s}" for k in keys))
    for case_id, m in [*per_case.items(), ("mean", result["mean"])]:
        cells = [f"{m[k]:8.3f}" if k.startswith("dice") else f"{m[k]:8.1f}" for k in keys]
        print(f"{case_id:{width}s} " + " ".join(cells))
    print(f"written to {args.out}")
    return 0


def _check_replaceable(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that exists and is no metrics file evaluate wrote (a case's seg file
    was replaced by JSON), unless ``force``."""
    if not out.exists() or force:
        return
    try:
        ours = {"cases", "mean"} <= json.loads(out.read_bytes()).keys()  # (a run's metrics.json)
    except (OSError, ValueError, AttributeError):
        ours = False
    if out.is_dir() or not ours:
        raise FileExistsError(
            f"{out} exists and is not a metrics file of `unet-tp evaluate`; choose another --out "
            "(a .json file) or pass --force to replace it"
        )


def _nifti_name(out: Path) -> bool:
    return out.name.lower().endswith((".nii", ".nii.gz"))


def _predict_targets(args: argparse.Namespace) -> list[tuple]:
    """``(case, output file)`` pairs of ``--case`` or ``--data``, folders checked writable now."""
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
        targets = [(c, out / f"{c.case_id}.nii.gz") for c in find_cases(args.data)]
    existing = [str(t) for _, t in targets if t.exists()]
    if existing and not args.force and args.case is not None:
        raise FileExistsError(f"{existing[0]} exists; pass --force to replace")
    if existing and not args.force:  # a run cut short: what it wrote is kept, the rest done
        print(f"kept {len(existing)} segmentations already in {out} (--force redoes them)")
        targets = [(c, t) for c, t in targets if not t.exists()]
    for folder in {t.parent for _, t in targets}:
        check_writable(folder)
        folder.mkdir(parents=True, exist_ok=True)
    return targets


def _header_as_source(img, vol, source) -> None:
    """The segmentation's header codes and units as its case's first file's (a scanner's
    qform_code 2 and sform_code 4 kept; data round 19): a source without orientation, nor its
    segmentation, which every tool then reads on the source's grid."""
    codes = [int(source[k]) if vol.oriented else 0 for k in ("qform_code", "sform_code")]
    if vol.oriented and not any(codes):  # (oriented by a code nibabel read as set)
        codes = [1, 1]
    img.set_qform(vol.affine, code=codes[0])
    img.set_sform(vol.affine, code=codes[1])
    img.header.set_xyzt_units(*source.get_xyzt_units())


def _cmd_predict(args: argparse.Namespace) -> int:
    import nibabel as nib

    targets = _predict_targets(args)
    if not targets:
        return 0
    model, _, config, device = _load_model(args.checkpoint, args)
    many, unread = args.data is not None, []
    bar = progress_bar(targets, "segmenting", enabled=many, unit="case")
    for case, target in bar:
        try:
            vol = load_case(case, with_seg=False, strict=args.strict)
        except DataError as exc:
            if not many:
                raise
            unread.append(case.case_id)
            bar.write(f"skipped {exc}")  # the other cases are still segmented
            continue
        for line in vol.warnings:
            print(f"warning: {line}", file=sys.stderr)
        seg = train.predict_volume(model, vol, config.grid, device)
        seg = vol.to_source_orientation(seg).astype("uint8")
        edition = case.conventions  # written in the labels of the case's own seg files
        img = nib.Nifti1Image(edition.from_brats(seg), vol.affine)
        _header_as_source(img, vol, nib.load(str(case.files[MODALITIES[0]])).header)
        with atomic_path(target) as tmp:  # a temporary file beside it, removed on any failure
            img.to_filename(str(tmp))
        counts = {lab: int((seg == lab).sum()) for lab in (1, 2, 4)}
        line = (
            f"{case.case_id}: segmentation written to {target} "
            f"(voxels: NCR/NET {counts[1]}, ED {counts[2]}, ET {counts[4]})"
        )
        written = {k: v for k, v in edition.labels.items() if v}
        if any(k != v for k, v in written.items()):  # not 0/1/2/4: the line says which
            names = ", ".join(f"{k} {edition.label_names[k]}" for k in written)
            line += f"; labels as {edition.title} files: {names}"
        (bar.write if many else print)(line)
    if many:
        print(f"{len(targets) - len(unread)} cases segmented into {args.out}")
    if unread:
        print(f"error: {len(unread)} cases could not be read: {', '.join(unread)}", file=sys.stderr)
    return 1 if unread else 0


def _cmd_figures(args: argparse.Namespace) -> int:
    """A case; with ``--run``: the training curves, a prediction and the layer table."""
    import matplotlib

    matplotlib.use("Agg")
    from unet_tp import viz

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = ckpt = None
    if args.run:
        model, ckpt, config, device = _load_model(str(Path(args.run) / "checkpoint.pt"), args)
    chosen = _chosen_cases(args.data, [args.case] if args.case else None, ckpt)[0]
    case = next((c for c in chosen if c.has_seg or args.case), chosen[0])  # one to compare with
    vol = load_case(case, with_seg=True)
    written = []

    def save(fig, name):
        fig.savefig(out / name, dpi=args.dpi)
        written.append(out / name)

    save(viz.show_case(vol.image, vol.seg, title=case.case_id), "case.png")
    if model is not None:
        save(viz.plot_history(ckpt["history"]), "training.png")
        pred = train.predict_volume(model, vol, config.grid, device)
        save(viz.show_prediction(vol.image, vol.seg, pred), "prediction.png")
        table = viz.format_layer_table(viz.layer_table(model, (1, 4, *config.grid.input_size())))
        (out / "layers.txt").write_text(table + "\n")
        written.append(out / "layers.txt")
        print(table)
    print("figures: " + ", ".join(str(p) for p in written))
    return 0


COMMANDS = {
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "figures": _cmd_figures,
    "predict": _cmd_predict,
}
"""What each command runs (:func:`autograder.model_flags.register` names the flags)."""
