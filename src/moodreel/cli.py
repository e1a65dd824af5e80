"""The ``moodreel`` command line.

    moodreel models                               registered models, params and MACs
    moodreel profile mini_xception --budget-ms 1  adds measured CPU latency
    moodreel train --config configs/mini_xception.yaml [--resume]
    moodreel eval --data ../shared/data/fer2013 [--model CKPT|ONNX] [--json]
    moodreel export runs/mini_xception/best.pt -o model.onnx

Training commands import torch lazily, so the serving install runs the rest without it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from moodreel import __version__

log = logging.getLogger("moodreel")

TRAIN_EXTRAS_HINT = "this command needs the training extras: pip install 'moodreel[train]'"


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can cause (bad data, paths, specs) into a message and exit 1."""
    from moodreel.data.fer2013 import DatasetError
    from moodreel.vision.classifier import ModelError

    known: tuple[type[Exception], ...] = (DatasetError, ModelError, FileNotFoundError)
    with contextlib.suppress(ImportError):
        from moodreel.nn.spec import SpecError
        from moodreel.train.checkpoint import CheckpointError
        from moodreel.train.trainer import TrainError

        known += (SpecError, CheckpointError, TrainError)
    try:
        yield
    except known as error:
        raise click.ClickException(str(error)) from None
    except KeyError as error:  # unknown model name from the registry
        raise click.ClickException(str(error.args[0]) if error.args else str(error)) from None
    except ValueError as error:
        raise click.ClickException(str(error)) from None


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


@cli.command()
@click.option("--data", type=click.Path(), help="FER-2013 CSV file or image-folder root.")
@click.option("--model", help="Registered model name or spec YAML.")
@click.option("--config", "config_path", type=click.Path(), help="Training preset (YAML).")
@click.option("--out", help="Run directory for checkpoints, metrics and plots.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from last.pt.")
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
@click.option("--seed", type=int)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", type=int, help="CPU threads (default: all cores).")
@click.option("--skip-bad", is_flag=True, default=None,
              help="Skip unreadable dataset entries (counted) instead of stopping.")
@click.option("--max-steps-per-epoch", type=int, hidden=True)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def train(config_path: str | None, resume: bool, no_progress: bool, **options: Any) -> None:
    """Train a model on FER-2013; checkpoints, metrics and plots go to --out."""
    require_torch()
    from moodreel.train.config import TrainConfig, load_config
    from moodreel.train.trainer import run_training

    overrides = {key: value for key, value in options.items() if value is not None}
    for key in ("mixup", "cutmix", "erasing"):
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
        click.echo(f"best val accuracy {result.best_accuracy:.2%} at epoch {result.best_epoch}"
                   f"; checkpoints and plots in {result.out}")


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


def main() -> None:
    cli(prog_name="moodreel")
