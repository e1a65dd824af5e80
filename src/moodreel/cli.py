"""The ``moodreel`` command line.

    moodreel models                               registered models, params and MACs
    moodreel profile mini_xception --budget-ms 1  adds measured CPU latency
    moodreel train --config configs/mini_xception.yaml [--resume]
    moodreel eval --data ../shared/data/fer2013 [--model CKPT|ONNX] [--json]
    moodreel export runs/mini_xception/best.pt -o model.onnx
    moodreel predict photo.jpg [--json] [--annotate out.png]
    moodreel explain photo.jpg [--method cam|gradcam|guided|guided-gradcam] -o why.png
    moodreel explain --gallery --data ../shared/data/fer2013 --per-class 4 -o gallery.png
    moodreel video clip.mp4 --csv faces.csv
    moodreel live [--camera 0 | --video clip.mp4] [--no-display --out out.mp4]
    moodreel serve [--port 5000]                  the web app and JSON API
    moodreel feedback export OUT_DIR              kept snapshots as a dataset to fine-tune on

Training commands import torch lazily, so the serving install runs the rest without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from moodreel import __version__
from moodreel.movies.cli import db, recommend
from moodreel.web.cli import feedback, serve

if TYPE_CHECKING:
    from moodreel.data.preprocess import Preprocessing
    from moodreel.vision.explain_figures import Explainer

log = logging.getLogger("moodreel")

TRAIN_EXTRAS_HINT = "this command needs the training extras: pip install 'moodreel[train]'"
#: ``cam`` reads the ONNX model's class maps (no torch); the others are gradient methods.
EXPLAIN_METHODS = ("cam", "gradcam", "guided", "guided-gradcam")
#: `predict` notes a face tilted at least this many degrees (it was read turned upright).
TILT_NOTED = 5


#: The errors a user can cause that are not ``ValueError``s (``ValueError`` covers the rest:
#: bad data, models, specs, checkpoints), by the module defining each. They are looked up only
#: in modules already imported, where alone they can come from, so that catching them never
#: costs a command the import of torch (two seconds for ``predict``).
USER_ERROR_CLASSES = (("moodreel.nn.registry", "UnknownModelError"),
                      ("moodreel.train.trainer", "TrainError"),
                      ("moodreel.vision.display", "DisplayError"))


def user_error_types() -> tuple[type[Exception], ...]:
    loaded = (getattr(sys.modules[module], name) for module, name in USER_ERROR_CLASSES
              if module in sys.modules)
    return (ValueError, FileNotFoundError, *loaded)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause (bad data, paths, specs) into a message and exit 1."""
    try:
        yield
    except Exception as error:
        if not isinstance(error, user_error_types()):
            raise
        log.debug("details of the error below", exc_info=True)  # shown with -v
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        raise click.ClickException(message) from None


def require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise click.ClickException(TRAIN_EXTRAS_HINT) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moodreel")
@click.option("-v", "--verbose", is_flag=True, help="Show debug logging.")
def cli(verbose: bool) -> None:
    """moodreel: faces to emotions to movies, with a small real-time CNN."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(message)s", stream=sys.stderr)
    if not verbose:  # Alembic's step-by-step log (and, from 1.16, its plugins on import)
        logging.getLogger("alembic").setLevel(logging.WARNING)


@cli.command()
@click.option("--input", "input_size", default=48, show_default=True, help="Input side.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(input_size: int, as_json: bool) -> None:
    """List registered models with parameters and MACs."""
    require_torch()
    from moodreel.nn.profile import profile_model
    from moodreel.nn.registry import create_model, list_models

    rows = [profile_model(create_model(name), input_size, latency=False)
            for name in list_models()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'model':<24}{'params':>12}{'MMACs':>10}   (input {input_size}x{input_size})")
    for row in rows:
        click.echo(f"{row['name']:<24}{row['params']:>12,}{row['macs'] / 1e6:>10.2f}")


@cli.command()
@click.argument("model")
@click.option("--input", "input_size", default=48, show_default=True, help="Input side.")
@click.option("--threads", default=1, show_default=True, help="CPU threads for timing.")
@click.option("--budget-ms", type=float, default=None,
              help="Latency budget per face (ONNX Runtime, batch 1); exit 1 if missed.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def profile(model: str, input_size: int, threads: int, budget_ms: float | None,
            as_json: bool) -> None:
    """Size and measured CPU latency of MODEL (a registered name or a spec YAML)."""
    require_torch()
    from moodreel.nn.profile import profile_model
    from moodreel.nn.registry import create_model

    with user_errors():
        result = profile_model(create_model(model), input_size, threads=threads)
    met = None
    if budget_ms is not None:
        met = result["latency_ms"]["onnxruntime"]["batch_1"] <= budget_ms
        result["budget_ms"], result["budget_met"] = budget_ms, met
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{result['name']}: {result['params']:,} params, "
                   f"{result['macs'] / 1e6:.2f} MMACs at {input_size}x{input_size}")
        click.echo(f"latency on {threads} CPU thread(s), median ms per batch (per image):")
        for engine, timings in result["latency_ms"].items():
            cells = "  ".join(f"{key.replace('_', ' ')}: {ms:.3f} ({ms / int(key[6:]):.3f})"
                              for key, ms in timings.items())
            click.echo(f"  {engine:<12} {cells}")
        if met is not None:
            ms = result["latency_ms"]["onnxruntime"]["batch_1"]
            click.echo(f"budget {budget_ms} ms per face: {'met' if met else 'MISSED'} "
                       f"(ONNX Runtime batch 1: {ms:.3f} ms)")
    if met is False:
        sys.exit(1)


def _duration(context: click.Context, parameter: click.Parameter, value: str | None
              ) -> float | None:
    """A ``--time-limit`` in seconds (``moodreel.train.time_limit.parse_duration``)."""
    if value is None:
        return None
    from moodreel.train.time_limit import parse_duration

    try:
        return parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@cli.command()
@click.option("--data", type=click.Path(), help="FER-2013 CSV file or image-folder root.")
@click.option("--model", help="Registered model name or spec YAML.")
@click.option("--config", "config_path", type=click.Path(), help="Training preset (YAML).")
@click.option("--out", help="Run directory for checkpoints, metrics and plots.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from last.pt.")
@click.option("--finetune", type=click.Path(),
              help="Start from this checkpoint's model and weights (e.g. on feedback data).")
@click.option("--init-from", type=click.Path(),
              help="Start --model from this checkpoint's or ONNX model's weights wherever a "
                   "tensor's name and shape match (another network or input size).")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float, help="Peak learning rate.")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]))
@click.option("--weight-decay", type=float)
@click.option("--schedule", type=click.Choice(["cosine", "onecycle", "constant"]))
@click.option("--warmup-epochs", type=float)
@click.option("--label-smoothing", type=float)
@click.option("--class-weights", type=click.Choice(["none", "balanced", "sqrt"]))
@click.option("--patience", type=int, help="Early stopping after N epochs without gain.")
@click.option("--input-size", type=int)
@click.option("--mixup", type=float, help="Mixup alpha (0 = off).")
@click.option("--cutmix", type=float, help="CutMix alpha (0 = off).")
@click.option("--erasing", type=float, help="Random-erasing probability.")
@click.option("--occlude", type=float,
              help="Probability of synthetic dark glasses or a mouth mask.")
@click.option("--blur", type=float, help="Probability of a Gaussian blur.")
@click.option("--teacher", "teachers", multiple=True, type=click.Path(dir_okay=False),
              help="Distil from this checkpoint or ONNX model (repeat for an ensemble).")
@click.option("--distill-weight", type=float, help="Share of the teachers' term in the loss.")
@click.option("--distill-temperature", type=float, help="Softmax temperature of distillation.")
@click.option("--distill-flip", is_flag=True, default=None,
              help="Teachers also see the mirrored face.")
@click.option("--distill-cache", is_flag=True, default=None,
              help="Teachers score each training face once, unaugmented (much faster).")
@click.option("--ema-decay", type=float,
              help="Keep an exponential moving average of the weights (e.g. 0.999; 0 = off).")
@click.option("--sam-rho", type=float,
              help="Sharpness-aware steps of this radius (e.g. 0.05; 0 = off); twice the "
                   "passes per step.")
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--precision", type=click.Choice(["fp32", "bf16"]),
              help="bf16: bfloat16 autocast, for large models on a GPU or a CPU with "
                   "AVX-512 BF16 or AMX (default fp32).")
@click.option("--threads", type=int, help="CPU threads (default: all cores).")
@click.option("--skip-bad", is_flag=True, default=None,
              help="Skip unreadable dataset entries (counted) instead of stopping.")
@click.option("--time-limit", callback=_duration,
              help="Time this invocation may spend on epochs (5400, 90m, 1.5h): a fresh run "
                   "fits its schedule to it after the first epoch, and no epoch starts that "
                   "would end past it.")
@click.option("--max-steps-per-epoch", type=int, hidden=True)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def train(config_path: str | None, resume: bool, no_progress: bool, **options: Any) -> None:
    """Train a model on FER-2013; checkpoints, metrics and plots go to --out."""
    require_torch()
    from moodreel.train.config import TrainConfig, load_config
    from moodreel.train.trainer import run_training

    options["teachers"] = list(options["teachers"]) or None
    overrides = {key: value for key, value in options.items() if value is not None}
    for key in ("mixup", "cutmix", "erasing", "occlude", "blur"):
        if key in overrides:
            overrides[f"augment.{key}"] = overrides.pop(key)
    with user_errors():
        base = load_config(config_path) if config_path else TrainConfig()
        config = base.updated(**overrides)
        if "out" not in overrides and not config_path and "model" in overrides:
            config = config.updated(out=f"runs/{Path(str(config.model)).stem}")
        result = run_training(config, resume=resume, progress=not no_progress,
                              resume_overrides=overrides)
    if result.history:
        kept = (f"best val accuracy {result.best_accuracy:.2%} at epoch {result.best_epoch}"
                if result.select_on == "clean" else
                f"kept epoch {result.best_epoch}, the best on clean and occluded val together "
                f"(val accuracy {result.best_accuracy:.2%})")
        click.echo(f"{kept}; checkpoints and plots in {result.out}")


@cli.command("eval")
@click.option("--data", type=click.Path(), required=True,
              help="FER-2013 CSV file or image-folder root.")
@click.option("--model", type=click.Path(),
              help="Checkpoint (.pt) or ONNX model; default: the shipped model.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val",
              show_default=True)
@click.option("--tta", type=click.Choice(["none", "flip"]), default="none", show_default=True,
              help="Test-time augmentation.")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable entries instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(data: str, model: str | None, split: str, tta: str, skip_bad: bool,
             as_json: bool) -> None:
    """Accuracy, per-class metrics and confusion, for 7 classes and the 4-class view."""
    from moodreel.train.evaluate import evaluate_model
    from moodreel.train.metrics import format_report

    if model is not None and not model.endswith(".onnx"):
        require_torch()
    with user_errors():
        report = evaluate_model(data, model, split=split, tta_flip=tta == "flip",
                                skip_bad=skip_bad)
    if as_json:
        click.echo(json.dumps(report))
    else:
        click.echo(f"model {report['model']} on {split} of {data}"
                   + (" (flip TTA)" if tta == "flip" else ""))
        click.echo(format_report(report))


@cli.command()
@click.option("--data", type=click.Path(), required=True,
              help="FER-2013 CSV file or image-folder root.")
@click.option("--model", type=click.Path(), help="ONNX model; default: the shipped model.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val",
              show_default=True, help="Split to fit on (never the test split for choices).")
@click.option("--write", is_flag=True,
              help="Store the fitted temperature in the model's metadata and card.")
@click.option("--plot", type=click.Path(), help="Write a reliability diagram (PNG).")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable entries instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calibrate(data: str, model: str | None, split: str, write: bool, plot: str | None,
              skip_bad: bool, as_json: bool) -> None:
    """Fit a temperature so the model's percentages match how often it is right."""
    from moodreel.train.evaluate import calibrate_model

    if write or plot:
        require_torch()  # onnx and matplotlib come with the training extras
    with user_errors():
        report = calibrate_model(data, model, split=split, write=write, skip_bad=skip_bad)
    if plot:
        from moodreel.train.plots import plot_reliability

        plot_reliability(report, plot)
    if as_json:
        click.echo(json.dumps(report))
        return
    click.echo(f"{report['model']} on {split} of {data} ({report['n']} faces)")
    click.echo(f"temperature {report['temperature']:.3f} (was {report['previous_temperature']:g})")
    click.echo(f"NLL {report['nll_before']:.4f} -> {report['nll_after']:.4f} "
               f"({report['nll_after_heldout']:.4f} fitted on the other half); "
               f"ECE {100 * report['ece_before']:.2f}% -> {100 * report['ece_after']:.2f}% "
               f"({100 * report['ece_after_heldout']:.2f}%)")
    if write:
        click.echo(f"stored in {report['model']}")


@cli.command()
@click.option("--data", type=click.Path(), required=True,
              help="FER-2013 CSV file or image-folder root.")
@click.option("--model", type=click.Path(), help="ONNX model; default: the shipped model.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val",
              show_default=True)
@click.option("--card", type=click.Path(dir_okay=False),
              help="Write the table into this model card (between audit markers).")
@click.option("--skip-bad", is_flag=True, help="Skip unreadable entries instead of stopping.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def audit(data: str, model: str | None, split: str, card: str | None, skip_bad: bool,
          as_json: bool) -> None:
    """Accuracy and reading shifts under glasses, masks, light, blur, rotation, mirroring."""
    from moodreel.train.audit import audit_markdown, audit_model, write_card_section

    with user_errors():
        report = audit_model(data, model, split=split, skip_bad=skip_bad)
    table = audit_markdown(report)
    if card:
        write_card_section(card, table)
    click.echo(json.dumps(report) if as_json else table)


@cli.command()
@click.argument("checkpoint", type=click.Path())
@click.option("-o", "--output", type=click.Path(), required=True, help="ONNX file to write.")
def export(checkpoint: str, output: str) -> None:
    """Export CHECKPOINT to ONNX (dynamic batch, metadata) and check parity with PyTorch."""
    require_torch()
    from moodreel.train.export import export_onnx

    with user_errors():
        report = export_onnx(checkpoint, output)
    click.echo(f"wrote {report.path} ({report.size_bytes / 1024:.0f} KiB); max |ONNX - PyTorch| "
               f"= {report.max_abs_diff:.2e} over batches {list(report.batch_sizes)}")
    if report.max_abs_diff > 1e-3:
        raise click.ClickException("parity check failed: ONNX output differs from PyTorch")


@cli.command("teacher-scores")
@click.argument("teachers", nargs=-1, required=True, type=click.Path())
@click.option("--data", type=click.Path(), required=True,
              help="FER-2013 CSV file or image-folder root; its train split is scored.")
@click.option("-o", "--out", type=click.Path(), required=True, help=".npz file to write.")
@click.option("--flip", is_flag=True, help="Score the mirrored faces too (distill_flip).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto",
              show_default=True)
@click.option("--skip-bad", is_flag=True, help="Skip unreadable entries instead of stopping.")
def teacher_scores(teachers: tuple[str, ...], data: str, out: str, flip: bool, device: str,
                   skip_bad: bool) -> None:
    """Save TEACHERS' (.pt or .onnx) logits for every training face, for cached distillation
    from the file alone (``teachers: [FILE.npz]`` with ``distill_cache``)."""
    require_torch()
    from moodreel.train.trainer import score_teachers

    started = time.perf_counter()
    with user_errors():
        scores = score_teachers(list(teachers), data, out, flip=flip, device=device,
                                skip_bad=skip_bad)
    faces, views, _ = scores.logits.shape
    click.echo(f"scored {faces:,} training faces, {views} view(s) each, in "
               f"{time.perf_counter() - started:.0f} s; wrote {out} "
               f"({Path(out).stat().st_size / 1024:.0f} KiB)")


@cli.command()
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--model", type=click.Path(), help="ONNX model; default: the shipped model.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one item per image.")
@click.option("--annotate", type=click.Path(),
              help="Write the image with boxes and bars (a directory for several images).")
@click.option("--threads", default=1, show_default=True, help="ONNX Runtime threads.")
def predict(images: tuple[str, ...], model: str | None, as_json: bool, annotate: str | None,
            threads: int) -> None:
    """Faces and emotions in each IMAGE; a bad file is reported and the rest still run."""
    from moodreel.vision.draw import draw_faces
    from moodreel.vision.image import ImageError, read_image
    from moodreel.vision.recognizer import Recognizer

    with user_errors():
        recognizer = Recognizer(model, threads=threads)
    out_dir = Path(annotate) if annotate and len(images) > 1 else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for path in images:
        try:
            image = read_image(path)
            faces = recognizer.analyze(image)
        except ImageError as error:
            click.echo(f"error: {error}", err=True)
            results.append({"image": path, "error": str(error)})
            continue
        results.append({"image": path, "faces": [face.to_dict() for face in faces]})
        if annotate:
            target = out_dir / f"{Path(path).stem}.png" if out_dir else Path(annotate)
            if not _write_image(target, draw_faces(image, faces)):
                click.echo(f"error: could not write {target}", err=True)
                results[-1]["error"] = f"could not write {target}"
        if not as_json:
            click.echo(f"{path}: {len(faces)} face(s)")
            for i, face in enumerate(faces, 1):
                ranked = sorted(face.emotions.items(), key=lambda kv: -kv[1])
                others = ", ".join(f"{name} {p:.0%}" for name, p in ranked[1:4])
                flag = " (uncertain)" if face.uncertain else ""
                tilt = f", tilted {abs(face.roll):.0f} deg" if abs(face.roll) >= TILT_NOTED else ""
                click.echo(f"  face {i} at {list(face.box)}{tilt}: {face.top} "
                           f"{face.confidence:.0%}{flag}; then {others}")
    if as_json:
        click.echo(json.dumps(results, indent=2))
    if any("error" in result for result in results):
        sys.exit(1)


@cli.command()
@click.argument("image", type=click.Path(), required=False)
@click.option("--method", type=click.Choice(EXPLAIN_METHODS), default="gradcam",
              show_default=True, help="cam: the ONNX model's class activation maps (no torch); "
              "gradcam, guided, guided-gradcam: gradients in PyTorch.")
@click.option("--model", type=click.Path(),
              help="Checkpoint (.pt) or ONNX model; default: the shipped model.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Picture to write (PNG).")
@click.option("--gallery", is_flag=True, help="Explain faces of each class from --data.")
@click.option("--data", type=click.Path(), help="FER-2013 CSV file or image-folder root.")
@click.option("--split", type=click.Choice(["train", "val", "test"]), default="val",
              show_default=True, help="Split the gallery's faces come from.")
@click.option("--per-class", type=click.IntRange(1, 50), default=4, show_default=True,
              help="Gallery faces per class.")
def explain(image: str | None, method: str, model: str | None, output: str, gallery: bool,
            data: str | None, split: str, per_class: int) -> None:
    """Why the model reads a face as it does: a heat map of where it found the evidence.

    Over each face of IMAGE (or over IMAGE itself when it is a small face crop), with the
    top three emotions; or, with --gallery, for the first --per-class faces of each class.
    """
    from moodreel.vision.explain_figures import explain_gallery, explain_image
    from moodreel.vision.image import read_image

    if gallery == (image is not None):
        raise click.UsageError("give an IMAGE, or --gallery with --data, not both")
    if gallery and not data:
        raise click.UsageError("--gallery needs --data (a FER-2013 CSV or folder tree)")
    with user_errors():
        explainer, preprocessing = _explainer(method, model)
        if gallery:
            from moodreel.data.fer2013 import load_split

            dataset = load_split(data, split, image_size=preprocessing.size)
            picture = explain_gallery(dataset.images, dataset.labels, explainer, per_class,
                                      title=f"{method}, {split} split of {data}")
        else:
            picture, faces = explain_image(read_image(image), explainer, preprocessing)
            for i, face in enumerate(faces, 1):
                top3 = ", ".join(f"{name} {p:.0%}" for name, p in face["top3"])
                click.echo(f"face {i} at {face['box']}: {top3}")
    if not _write_image(Path(output), picture):
        raise click.ClickException(f"could not write {output} (use a .png name)")
    click.echo(f"wrote {output}")


def _explainer(method: str, model: str | None) -> tuple[Explainer, Preprocessing]:
    """The explainer for ``moodreel explain`` and the preprocessing its model expects."""
    if method == "cam":
        from moodreel.vision.classifier import EmotionClassifier

        if model is not None and Path(model).suffix != ".onnx":
            raise click.UsageError("--method cam reads an ONNX model; export the checkpoint "
                                   "first, or use a gradient method")
        classifier = EmotionClassifier(model)
        return classifier.explain, classifier.info.preprocessing
    require_torch()
    from moodreel.train.explain import load_explainer

    explainer = load_explainer(model, method)
    return explainer, explainer.preprocessing


@cli.command()
@click.argument("video", type=click.Path())
@click.option("--csv", "csv_path", type=click.Path(), required=True, help="CSV file to write.")
@click.option("--every", default=1, show_default=True, help="Analyse every N-th frame.")
@click.option("--model", type=click.Path(), help="ONNX model; default: the shipped model.")
@click.option("--threads", default=1, show_default=True, help="ONNX Runtime threads.")
def video(video: str, csv_path: str, every: int, model: str | None, threads: int) -> None:
    """Emotions over a VIDEO file: one CSV row per face per analysed frame, with a face id
    that stays with the same face across frames."""
    from moodreel.vision.image import ImageError
    from moodreel.vision.recognizer import Recognizer
    from moodreel.vision.video import analyze_stream, open_capture, write_csv

    if every < 1:
        raise click.BadParameter("must be at least 1", param_hint="--every")
    with user_errors():
        recognizer = Recognizer(model, threads=threads)
        try:
            capture = open_capture(video)
        except ImageError as error:
            raise click.ClickException(str(error)) from None
        try:
            rows = write_csv(analyze_stream(capture, recognizer, every=every), csv_path)
        finally:
            capture.release()
    click.echo(f"wrote {rows} face rows to {csv_path}")


@cli.command()
@click.option("--camera", type=int, default=None, help="Camera index (default 0).")
@click.option("--video", "video_path", type=click.Path(), help="Play a video file instead.")
@click.option("--no-display", is_flag=True, help="Do not open a window.")
@click.option("--out", type=click.Path(), help="Record the annotated video (.mp4).")
@click.option("--smoothing", default=0.6, show_default=True,
              help="Weight of the past in the moving average of each face (0 = none).")
@click.option("--model", type=click.Path(), help="ONNX model; default: the shipped model.")
@click.option("--threads", default=1, show_default=True, help="ONNX Runtime threads.")
def live(camera: int | None, video_path: str | None, no_display: bool, out: str | None,
         smoothing: float, model: str | None, threads: int) -> None:
    """The real-time view: boxes, per-class bars and FPS over a camera or video."""
    from moodreel.vision.live import run_live

    if camera is not None and video_path is not None:
        raise click.UsageError("give --camera or --video, not both")
    if no_display and not out:
        raise click.UsageError("--no-display needs --out OUT.mp4 (otherwise nothing is shown)")
    with user_errors():
        stats = run_live(video_path if video_path is not None else (camera or 0),
                         display=not no_display, out=out, smoothing=smoothing, model=model,
                         threads=threads)
    click.echo(f"{stats.frames} frames, {stats.fps:.1f} FPS on average"
               + (f"; wrote {out}" if out else ""))


def _write_image(path: Path, image: Any) -> bool:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return bool(cv2.imwrite(str(path), image))
    except cv2.error:
        return False


cli.add_command(db)
cli.add_command(recommend)
cli.add_command(serve)
cli.add_command(feedback)


def main() -> None:
    cli(prog_name="moodreel")
