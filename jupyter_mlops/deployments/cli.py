"""``jupyter mlops deploy``, ``trigger``, ``deployments``, ``runs``, ``logs``, ``pause``,
``resume``, ``cancel`` and ``undeploy``: deployments from a terminal.

Errors a user can cause are one line and exit code 2 (the CLI's rule); ``trigger --wait``
exits 0 when the run succeeded and 1 with one line naming the failing cell when it failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PROG = "jupyter mlops"


def _service(args: argparse.Namespace) -> Any:
    from .. import settings as settings_mod
    from ..errors import InvalidInput
    from .service import DeploymentsService

    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise InvalidInput(f"The project root {root} is not an existing folder (see --root).")
    return DeploymentsService(settings_mod.resolve(root))


def _deploy(args: argparse.Namespace) -> int:
    from ..export.deploy import deployment_values

    service = _service(args)
    options = {k: v for k, v in deployment_values(args).items() if v not in (None, [], "")}
    for key in ("docker_url", "network_mode", "tracking_uri"):
        if getattr(args, key, None):
            options[key] = getattr(args, key)
    prepared = service.prepare(
        args.dir,
        args.engine,
        name=args.name,
        paused=args.paused,
        options=options,
        url=args.url,
        dags_folder=args.dags_folder,
    )
    record = service.deploy(prepared, lambda line: print(f"{PROG} deploy: {line}", file=sys.stderr))
    if args.json:
        print(record.model_dump_json(indent=2))
    else:
        state = "paused" if record.paused else "active"
        print(
            f"deployed {record.name} to {record.engine} {record.url} (DAG {record.dag_id}, {state})"
        )
    return 0


def _trigger(args: argparse.Namespace) -> int:
    service = _service(args)
    run = service.trigger_texts(args.name, [tuple(p) for p in args.parameter])
    if not args.wait:
        print(run.model_dump_json(indent=2) if args.json else run.run_id)
        return 0
    print(f"{PROG} trigger: started {run.run_id}; waiting for it to end", file=sys.stderr)
    run = service.wait(args.name, run.run_id, timeout=args.timeout, interval=args.interval)
    if args.json:
        print(run.model_dump_json(indent=2))
    if run.state == "success":
        if not args.json:
            mlflow = f" (MLflow run {run.mlflow_run_id})" if run.mlflow_run_id else ""
            print(f"{run.run_id} succeeded in {run.duration or 0:.1f} s{mlflow}")
        return 0
    where = f"failed in cell {run.failed_cell}" if run.failed_cell else "failed"
    detail = f": {run.error}" if run.error else ""
    print(f"{PROG} trigger: run {run.run_id} {where}{detail}", file=sys.stderr)
    return 1


def _list(args: argparse.Namespace) -> int:
    answer = _service(args).list_deployments()
    if args.json:
        print(answer.model_dump_json(indent=2))
        return 0
    for d in answer.deployments:
        last = d.latest_runs[0] if d.latest_runs else None
        shown = f"{last.state} {last.start or ''}" if last else "no runs"
        schedule = d.schedule or "manual"
        state = "paused" if d.paused else "active"
        print(f"{d.name:<24} {d.engine:<8} {state:<7} {schedule:<14} last: {shown}  ({d.job})")
    for error in answer.engine_errors:
        print(f"{PROG}: warning: {error.message}", file=sys.stderr)
    return 0


def _runs(args: argparse.Namespace) -> int:
    runs = _service(args).runs(args.name)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
        return 0
    for run in runs:
        duration = f"{run.duration:.1f}s" if run.duration is not None else "-"
        extra = f"  failed in cell {run.failed_cell}" if run.failed_cell else ""
        mlflow = f"  mlflow {run.mlflow_run_id}" if run.mlflow_run_id else ""
        print(
            f"{run.run_id:<48} {run.state:<8} {run.start or '-':<33} {duration:>8}{mlflow}{extra}"
        )
    return 0


def _logs(args: argparse.Namespace) -> int:
    print(_service(args).logs(args.name, args.run_id))
    return 0


def _pause(args: argparse.Namespace) -> int:
    record = _service(args).set_paused(args.name, args.command == "pause")
    print(f"{record.name} {'paused' if record.paused else 'resumed'}")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    run = _service(args).cancel(args.name, args.run_id)
    print(f"{run.run_id} {run.state}")
    return 0


def _undeploy(args: argparse.Namespace) -> int:
    record = _service(args).undeploy(args.name)
    print(f"undeployed {record.name} from {record.engine} {record.url}")
    return 0


def add_commands(sub: Any) -> None:
    from ..export.deploy import add_deployment_options

    def common(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
        p.add_argument("--root", default=".", help="Project root folder (default: here).")
        if json_flag:
            p.add_argument("--json", action="store_true", help="Print JSON.")

    deploy = sub.add_parser("deploy", help="Deploy a job folder onto an engine (Airflow).")
    deploy.add_argument("dir", metavar="JOB_DIR", help="The job folder (exported and built).")
    deploy.add_argument("--engine", default="airflow", help="The engine (default: airflow).")
    deploy.add_argument("--name", help="The deployment's name (default: the job's).")
    deploy.add_argument("--url", help="The engine's API (else JUPYTER_MLOPS_AIRFLOW_URL).")
    deploy.add_argument(
        "--dags-folder",
        metavar="PATH",
        help="Airflow's DAG folder (else JUPYTER_MLOPS_AIRFLOW_DAGS_FOLDER).",
    )
    deploy.add_argument("--paused", action="store_true", help="Deploy it paused.")
    deploy.add_argument(
        "--docker-url", help="The Docker API the DAG runs the image through (default: DOCKER_HOST)."
    )
    deploy.add_argument(
        "--network-mode", help="The container's network (e.g. host, to reach loopback)."
    )
    deploy.add_argument(
        "--tracking-uri",
        help="MLflow tracking server the runs record to (default: the project's, if a server).",
    )
    common(deploy)
    add_deployment_options(deploy.add_argument_group("deployment options"))
    deploy.set_defaults(func=_deploy)

    trigger = sub.add_parser("trigger", help="Start a run of a deployment, with parameters.")
    trigger.add_argument("name", metavar="NAME")
    trigger.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="A parameter's value (checked against the job's schema first), repeatable.",
    )
    trigger.add_argument("--wait", action="store_true", help="Wait for the run to end.")
    trigger.add_argument("--timeout", type=float, help="With --wait: at most this many seconds.")
    trigger.add_argument("--interval", type=float, default=1.0, help=argparse.SUPPRESS)
    common(trigger)
    trigger.set_defaults(func=_trigger)

    listing = sub.add_parser("deployments", help="The project's deployments and latest runs.")
    common(listing)
    listing.set_defaults(func=_list)

    runs = sub.add_parser("runs", help="The runs of a deployment on its engine.")
    runs.add_argument("name", metavar="NAME")
    common(runs)
    runs.set_defaults(func=_runs)

    logs = sub.add_parser("logs", help="The log of a deployment's run.")
    logs.add_argument("name", metavar="NAME")
    logs.add_argument("run_id", metavar="RUN_ID")
    common(logs, json_flag=False)
    logs.set_defaults(func=_logs)

    for command, text in (("pause", "Pause a deployment's schedule."), ("resume", "Resume it.")):
        p = sub.add_parser(command, help=text)
        p.add_argument("name", metavar="NAME")
        common(p, json_flag=False)
        p.set_defaults(func=_pause)

    cancel = sub.add_parser("cancel", help="Cancel a running run (it ends failed).")
    cancel.add_argument("name", metavar="NAME")
    cancel.add_argument("run_id", metavar="RUN_ID")
    common(cancel, json_flag=False)
    cancel.set_defaults(func=_cancel)

    undeploy = sub.add_parser("undeploy", help="Remove a deployment from its engine.")
    undeploy.add_argument("name", metavar="NAME")
    common(undeploy, json_flag=False)
    undeploy.set_defaults(func=_undeploy)
