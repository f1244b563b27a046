"""``jupyter mlops`` (also ``jupyter-mlops``): the command line.

Errors a user can cause end as one line on stderr and exit code 2; a bug keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import settings as settings_mod
from ._version import __version__
from .errors import InvalidInput, MlopsError, option_errors


def _settings(args: argparse.Namespace) -> settings_mod.Settings:
    """Settings for ``--root`` / ``--tracking-uri``; a root that is not an existing folder
    is refused (otherwise the embedded store would quietly create it)."""
    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise InvalidInput(f"The project root {root} is not an existing folder (see --root).")
    return settings_mod.resolve(root, tracking_uri=args.tracking_uri or "")


def _status(args: argparse.Namespace) -> int:
    from .experiments.service import TrackingService
    from .status.service import collect_status

    status = collect_status(TrackingService(_settings(args)))
    if args.json:
        print(status.model_dump_json(indent=2))
        return 0
    tracking, project, engine = status.tracking, status.project, status.container_engine
    lines = [
        f"jupyter-mlops {status.version} (Python {status.python})",
        f"tracking    {tracking.uri} [{tracking.kind}] "
        + ("ok" if tracking.reachable else f"UNREACHABLE: {tracking.error}"),
        f"project     {project.root}  git: {'yes' if project.git else 'no'}"
        + (f" ({project.git_branch})" if project.git_branch else "")
        + f"  dvc: {'yes' if project.dvc else 'no'}",
        f"containers  {engine.docker_host} "
        + (f"{engine.name} {engine.version}" if engine.reachable else f"no engine: {engine.error}"),
    ]
    lines += [f"{name:<11} {ver or 'not installed'}" for name, ver in status.packages.items()]
    print("\n".join(lines))
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from .experiments.models import ExperimentsQuery
    from .experiments.service import TrackingService

    try:
        query = ExperimentsQuery(search=args.search, max_results=args.max_results)
    except ValidationError as exc:
        raise InvalidInput(option_errors(exc)) from exc
    answer = TrackingService(_settings(args)).list_experiments(query)
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    for exp in answer.experiments:
        count = f"{exp.run_count}{'+' if exp.run_count_capped else ''}"
        print(f"{exp.experiment_id:>6}  {count:>7} runs  {exp.name}")
    return 0


def _sync(args: argparse.Namespace) -> int:
    """Deliver the runs kept in the project's journal (tracking server was down, a kernel
    died). Exit 0 when nothing is left pending, 1 when the store still does not answer."""
    import json

    from .tracking.delivery import sync
    from .tracking.spool import Spool

    settings = _settings(args)
    spool = Spool(settings.state_dir)
    outcomes = sync(
        spool, timeout=settings.probe_timeout, force=True, credentials=[settings.tracking_uri]
    )
    pending = [o for o in outcomes if o.state == "retry"]
    delivered = [o for o in outcomes if o.state == "delivered"]
    if args.json:
        print(json.dumps([vars(o) for o in outcomes], indent=2))
    else:
        for outcome in delivered:
            print(f"delivered  run {outcome.run_id}  ({outcome.key})")
        waiting = len(spool.record_keys()) - len(pending)
        print(
            f"{len(delivered)} delivered, {len(pending)} pending"
            + (f", {waiting} still running or owned by a live kernel" if waiting > 0 else "")
        )
    if pending:
        print(f"jupyter mlops sync: {pending[0].error}", file=sys.stderr)
        return 1
    return 0


# -- export to pipeline: export, run ------------------------------------------------------
def _export(args: argparse.Namespace) -> int:
    """Write the job folder of a notebook; print its path (warnings on stderr)."""
    from .export.deploy import deployment_from_args
    from .export.exporter import DEFAULT_TARGETS, export_notebook

    def warn(message: str) -> None:
        print(f"jupyter mlops export: warning: {message}", file=sys.stderr)

    path = export_notebook(
        args.notebook,
        name=args.name,
        out=args.out,
        targets=args.target or list(DEFAULT_TARGETS),
        base_image=args.base_image,
        requirements=args.requirements,
        include=[Path(p).expanduser().absolute() for p in args.include],
        deployment=deployment_from_args(args),
        target_options=_monitoring_options(args),
        on_warning=warn,
    )
    print(path)
    return 0


def _monitoring_options(args: argparse.Namespace) -> dict[str, Any]:
    """The monitoring target's flags as its settings (``c.MonitoringTarget...``)."""
    from traitlets.config import Config

    given: dict[str, Any] = {}
    if args.alert_metric:
        given["alert_metrics"] = list(args.alert_metric)
    if args.drift_threshold is not None:
        given["drift_threshold"] = args.drift_threshold
    if args.expected_interval:
        given["expected_interval"] = args.expected_interval
    return {"config": Config({"MonitoringTarget": given})} if given else {}


def _build(args: argparse.Namespace) -> int:
    """Build the job's image through the Docker API, drawing its progress; print the image."""
    from .export.build import build_image

    progress = _BuildProgress(verbose=args.verbose)
    result = build_image(
        args.dir, tag=args.tag, push=args.push, on_progress=progress, no_cache=args.no_cache
    )
    progress.finish()
    size = f"{result.size / 1e6:.0f} MB" if result.size else "size unknown"
    print(
        f"built {result.image} ({result.image_id[:19]}, {size}) in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    print(result.reference)
    return 0


class _BuildProgress:
    """Build steps on stderr: one line redrawn on a terminal, one line per step otherwise."""

    def __init__(self, verbose: bool) -> None:
        self.verbose = verbose
        self.tty = sys.stderr.isatty()
        self.drawn = False

    def __call__(self, event: Any) -> None:
        if event.kind == "step":
            width = len(str(event.total))
            text = " ".join(event.text.split())
            line = f"[{event.step:>{width}}/{event.total}] {text}"
            if self.tty and not self.verbose:
                columns = shutil.get_terminal_size().columns
                print("\r\033[K" + line[: columns - 1], end="", file=sys.stderr, flush=True)
                self.drawn = True
            else:
                print(line, file=sys.stderr, flush=True)
        elif event.kind in ("log", "push") and self.verbose:
            print(f"    {event.text}", file=sys.stderr, flush=True)
        elif event.kind == "push" and not self.tty:
            print(f"push: {event.text}", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.drawn:
            print(file=sys.stderr)


def _run_job(args: argparse.Namespace) -> int:
    """Run a job folder through the job entrypoint in a subprocess, exactly as a container
    or an orchestrator starts it; its exit code is ours (2 invalid parameters, 3 failed).
    With ``--in-container``, the same entrypoint in the job's built image."""
    import subprocess

    if args.in_container:
        from .export.container import run_in_container
        from .export.parameters import InvalidParameters

        try:
            return run_in_container(
                Path(args.dir).expanduser(),
                [tuple(p) for p in args.parameter],
                args.params_file,
                args.output,
                image=args.image,
            )
        except InvalidParameters as exc:
            for problem in exc.problems:
                print(f"jupyter mlops run: error: {problem}", file=sys.stderr)
            return 2

    folder = Path(args.dir).expanduser()
    command = [sys.executable, "-m", "jupyter_mlops.job", str(folder)]
    for name, value in args.parameter:
        command += ["-p", name, value]
    if args.params_file:
        command += ["--params-file", str(Path(args.params_file).expanduser().absolute())]
    if args.output:
        output = args.output
        command += ["--output", output if "://" in output else str(Path(output).absolute())]
    job = subprocess.Popen(command, env=_job_environment(args, folder))
    try:
        return job.wait()
    except KeyboardInterrupt:
        # The job got the same Ctrl-C: give it time to stop its kernel and mark its run.
        try:
            return job.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            job.terminate()
            return job.wait()


def _job_environment(args: argparse.Namespace, folder: Path) -> dict[str, str]:
    """The job's environment: ours, plus the project's tracking store when none is named
    (``--tracking-uri``, ``MLFLOW_TRACKING_URI`` or ``JUPYTER_MLOPS_TRACKING_URI``), so a
    job run from a plain terminal is recorded where the project's other runs are, as it is
    when JupyterLab runs it."""
    env = dict(os.environ)
    if args.tracking_uri:
        env["MLFLOW_TRACKING_URI"] = args.tracking_uri
    elif not (env.get("MLFLOW_TRACKING_URI") or env.get(settings_mod.ENV_TRACKING_URI)):
        root = Path(args.root).expanduser() if args.root else _project_of(folder)
        if root is not None:
            env.update(settings_mod.resolve(root).kernel_environment())
    return env


def _project_of(folder: Path) -> Path | None:
    """The project a job folder belongs to: the nearest folder above it holding a state
    folder (where JupyterLab and the notebook's runs keep their store); ``None`` when no
    project has one (the job then runs untracked, as before)."""
    for parent in folder.resolve().parents:
        if (parent / settings_mod.STATE_DIR_NAME).is_dir():
            return parent
    return None


#: Modules of the slices that bring commands of their own: each has ``add_commands(sub)``,
#: which adds its subparsers (importing only ``argparse`` at module level, so that
#: ``jupyter mlops --help`` stays fast) with ``set_defaults(func=...)``.
SLICE_COMMANDS: tuple[str, ...] = (
    "jupyter_mlops.models.cli",
    "jupyter_mlops.audit.cli",
    "jupyter_mlops.deployments.cli",
)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="jupyter mlops", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"jupyter-mlops {__version__}")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", default=".", help="Project root folder (default: here).")
        p.add_argument("--tracking-uri", help="MLflow tracking URI (default: the embedded store).")
        p.add_argument("--json", action="store_true", help="Print JSON.")

    status = sub.add_parser(
        "status", help="Versions, tracking store, git/DVC and container engine."
    )
    common(status)
    status.set_defaults(func=_status)

    experiments = sub.add_parser("experiments", help="List MLflow experiments with run counts.")
    common(experiments)
    experiments.add_argument("--search", help="Only names containing this.")
    experiments.add_argument("--max-results", type=int, default=100)
    experiments.set_defaults(func=_experiments)

    sync = sub.add_parser(
        "sync", help="Deliver tracked runs kept locally (store was down, kernel died)."
    )
    common(sync)
    sync.set_defaults(func=_sync)

    # -- export to pipeline: export, run --------------------------------------------------
    export = sub.add_parser("export", help="Turn a notebook into a job folder (pipelines/NAME).")
    export.add_argument("notebook", metavar="NOTEBOOK", help="The notebook (.ipynb).")
    export.add_argument("--name", help="Job name (default: from the notebook's name).")
    export.add_argument(
        "--out", metavar="DIR", help="The job folder (default: pipelines/NAME next to it)."
    )
    export.add_argument(
        "--target",
        action="append",
        default=[],
        help="Export target, repeatable (default: docker).",
    )
    export.add_argument(
        "--base-image", metavar="IMAGE", help="Base image (default: python:X.Y-slim of the kernel)."
    )
    export.add_argument(
        "--requirements", metavar="FILE", help="Requirements to use instead of the kernel's."
    )
    export.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATH",
        help="A file or folder to add to the job, repeatable.",
    )
    from .export.deploy import add_deployment_options

    add_deployment_options(
        export.add_argument_group(
            "orchestrators", "How kubernetes, argo, kfp, airflow and dvc targets run the job."
        )
    )
    watch = export.add_argument_group(
        "monitoring", "What the monitoring target's alert rules watch (docs/monitoring.md)."
    )
    watch.add_argument(
        "--alert-metric",
        action="append",
        default=[],
        metavar="NAME<VALUE",
        help="Alert when a run records NAME below (<, <=) or above (>, >=) VALUE, repeatable.",
    )
    watch.add_argument(
        "--drift-threshold",
        type=float,
        metavar="SHARE",
        help="Alert when a drift check finds more than this share of columns drifted (0.5).",
    )
    watch.add_argument(
        "--expected-interval",
        metavar="DURATION",
        help="Without --schedule: how often the job should succeed (6h, 1d).",
    )
    export.set_defaults(func=_export)

    run = sub.add_parser(
        "run", help="Run a job folder locally with the entrypoint its container uses."
    )
    run.add_argument("dir", metavar="DIR", help="The job folder.")
    from .export.job import add_value_options

    add_value_options(run)
    run.add_argument(
        "--in-container",
        action="store_true",
        help="Run in the job's built image (see `build`) instead of this environment.",
    )
    run.add_argument("--image", help="With --in-container: the image (default: the one built).")
    run.add_argument(
        "--root",
        help="The project whose tracking store records the run (default: the nearest folder "
        "above DIR holding .mlops/).",
    )
    run.add_argument("--tracking-uri", help="MLflow tracking URI (default: the project's store).")
    run.set_defaults(func=_run_job)

    build = sub.add_parser(
        "build", help="Build the job's image through the Docker API (Docker or Podman)."
    )
    build.add_argument("dir", metavar="DIR", help="The job folder (with its Dockerfile).")
    build.add_argument("--tag", metavar="IMAGE", help="Image reference (default: NAME:latest).")
    build.add_argument("--push", action="store_true", help="Push the image after the build.")
    build.add_argument("--no-cache", action="store_true", help="Rebuild every layer.")
    build.add_argument("-v", "--verbose", action="store_true", help="Show the build's output.")
    build.set_defaults(func=_build)
    for name in SLICE_COMMANDS:
        importlib.import_module(name).add_commands(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except MlopsError as exc:
        print(f"jupyter mlops: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
