"""One lineage graph from what is already recorded: data versions -> commit and notebook ->
run -> model version -> job -> image -> deployment -> job runs -> output notebooks.

Facts come from the MLflow runs' tags (``jupyter_mlops.data`` and ``jupyter_mlops.data.<P>``,
``mlflow.source.git.*``, ``jupyter_mlops.notebook``, a job run's ``jupyter_mlops.job``,
``.job.output``, ``.image.digest``, ``.deployment``, ``mlflow.parentRunId``, and
``jupyter_mlops.model_used.NAME`` on a run that loaded a model version), the model
registry (a version's ``run_id`` and aliases), the job folders' ``job.json`` and
``build.json``, and the deployment records (``<state>/deployments/*.json``). Nothing is
inferred that was not recorded: a job is linked to a run through the notebook it was
exported from, or by the job's name its runs carry.

Reads are bounded whatever the size of the store: one read for the parents of the runs
asked about, one search per job run asked about for its cells, one model-version search
for all runs (and one read per registered model for its aliases), one search per related
job for its newest :data:`JOB_RUNS_PER_JOB` runs, one listing of the job folders; an
output notebook is found by one search on the end of its path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from ..errors import NotFound
from ..mlflow_store import Store, mlflow_errors
from ..settings import Settings
from ..statefiles import records
from .facts import (
    COMMIT_TAG,
    DEPLOYMENT_TAG,
    DIGEST_TAG,
    ENGINE_RUN_TAG,
    JOB_TAG,
    MODEL_USED_PREFIX,
    NOTEBOOK_TAG,
    OUTPUT_TAG,
    PARENT_TAG,
    SOURCE_TAG,
    data_versions,
    is_job_run,
    nonempty,
    quoted,
    run_node_id,
    when,
)
from .models import LineageEdge, LineageGraph, LineageLink, LineageNode, LineageQuery, NodeKind

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

    from ..jobs.models import JobInfo
    from ..jobs.service import JobsService

#: Job runs the output search reads at most; the graph shows a job's newest
#: :data:`JOB_RUNS_PER_JOB` runs (and those asked about).
JOB_RUN_SEARCH = 100
JOB_RUNS_PER_JOB = 10
#: Where the deployments slice keeps its records, in the state folder.
DEPLOYMENTS_DIR = "deployments"


class LineageService:
    def __init__(self, settings: Settings, tracking: Store, jobs: JobsService | None = None):
        self.settings = settings
        self.root = Path(os.path.realpath(settings.root_dir))
        self.tracking = tracking
        self._jobs = jobs

    def graph(self, query: LineageQuery) -> LineageGraph:
        with mlflow_errors():
            return _Builder(self, self.tracking.client()).build(query)

    def jobs(self) -> list[JobInfo]:
        if self._jobs is None:
            from ..jobs.service import JobsService

            self._jobs = JobsService(self.settings)
        return self._jobs.list_jobs().jobs

    def deployments(self) -> list[tuple[str, dict[str, Any]]]:
        folder = self.settings.state_dir / DEPLOYMENTS_DIR
        return [(str(data.get("name") or p.stem), data) for p, data in records(folder)]

    def relative(self, path: str | None) -> str | None:
        """``path`` below the server's root, '/'-separated; None when it is not one."""
        if not path or "://" in path:
            return None
        full = Path(os.path.normpath(path if os.path.isabs(path) else self.root / path))
        try:
            text = full.relative_to(self.root).as_posix()
        except ValueError:
            try:
                text = Path(os.path.realpath(full)).relative_to(self.root).as_posix()
            except ValueError:
                return None
        return None if text in ("", ".") or text.startswith("../") else text


class _Builder:
    def __init__(self, service: LineageService, client: MlflowClient) -> None:
        self.s = service
        self.client = client
        self.nodes: dict[str, LineageNode] = {}
        self.edges: dict[tuple[str, str], LineageEdge] = {}
        self.truncated = False
        self.parents: dict[str, str] = {}  # a run's node -> its parent run's node
        self.aliases: dict[str, list[str]] = {}  # 'NAME/VERSION' -> its aliases
        self.versions: set[tuple[str, str]] = set()  # the model versions in the graph
        self.read_versions: set[str] = set()  # 'NAME/VERSION' read with its aliases

    # -- the graph ----------------------------------------------------------------------------
    def node(
        self,
        node_id: str,
        kind: NodeKind,
        label: str,
        attrs: dict[str, str | None] | None = None,
        link: LineageLink | None = None,
    ) -> str:
        facts = {k: v for k, v in (attrs or {}).items() if v}
        if node_id in self.nodes:
            self.nodes[node_id].attrs.update(facts)
        else:
            self.nodes[node_id] = LineageNode(
                id=node_id, kind=kind, label=label, attrs=facts, link=link
            )
        return node_id

    def edge(self, source: str, target: str, relation: str) -> None:
        if source != target:
            self.edges.setdefault(
                (source, target), LineageEdge(source=source, target=target, relation=relation)
            )

    # -- from the root ------------------------------------------------------------------------
    def build(self, query: LineageQuery) -> LineageGraph:
        seeds: list[Run] = []
        if query.run is not None:
            run = self._run(query.run)
            seeds.append(run)
            root = run_node_id(run)
        elif query.model is not None:
            version = self._version(query.model, str(query.version))
            self.read_versions.add(f"{version.name}/{version.version}")
            root = self.model_version(version)
            if version.run_id:
                found = self._runs_by_id([version.run_id])
                seeds.extend(found)
        else:
            run = self._job_run_by_output(str(query.output))
            seeds.append(run)
            root = f"output:{self._output_key(run.data.tags.get(OUTPUT_TAG, ''))}"
        self.expand(seeds)
        for child, parent in self.parents.items():
            if parent in self.nodes:
                self.edge(parent, child, "ran cell")
        return LineageGraph(
            nodes=list(self.nodes.values()),
            edges=list(self.edges.values()),
            root=root,
            truncated=self.truncated,
        )

    def _run(self, run_id: str) -> Run:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"No run '{run_id}' in the tracking store.") from None
            raise

    def _version(self, name: str, version: str) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(name, version)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                raise NotFound(f"No version {version} of model '{name}' in the registry.") from None
            raise

    def _job_run_by_output(self, given: str) -> Run:
        wanted = self.s.relative(given)
        if wanted is None:
            raise NotFound(f"'{given}' is not a notebook below the server's root folder.")
        # The tag holds the path the job wrote (absolute, maybe the host's): its end.
        name = quoted("%" + PurePosixPath(wanted).name)
        for run in self.client.search_runs(
            self._experiment_ids(),
            filter_string=f"tags.`{SOURCE_TAG}` = 'job' AND tags.`{OUTPUT_TAG}` LIKE {name}",
            max_results=JOB_RUN_SEARCH,
        ):
            if self.s.relative(run.data.tags.get(OUTPUT_TAG)) == wanted:
                return run
        raise NotFound(f"No job run in the tracking store wrote '{given}'.")

    def _runs_by_id(self, run_ids: Iterable[str]) -> list[Run]:
        ids = sorted(set(run_ids))
        if not ids:
            return []
        if len(ids) == 1:  # the usual case: one round trip, no experiment listing
            try:
                return [self.client.get_run(ids[0])]
            except Exception:  # a deleted or purged run: not in the graph
                return []
        listed = ", ".join(f"'{i}'" for i in ids)
        return list(
            self.client.search_runs(
                self._experiment_ids(),
                filter_string=f"attributes.run_id IN ({listed})",
                max_results=len(ids),
            )
        )

    def _experiment_ids(self) -> list[str]:
        if not hasattr(self, "_experiments"):
            self._experiments = [e.experiment_id for e in self.client.search_experiments()]
        return self._experiments

    def job_runs(self, name: str) -> list[Run]:
        """The newest runs of job ``name`` (one more than are shown: is there more?)."""
        return list(
            self.client.search_runs(
                self._experiment_ids(),
                filter_string=f"tags.`{SOURCE_TAG}` = 'job' AND tags.`{JOB_TAG}` = {quoted(name)}",
                max_results=JOB_RUNS_PER_JOB + 1,
                order_by=["attributes.start_time DESC"],
            )
        )

    # -- expanding ------------------------------------------------------------------------
    def expand(self, seeds: list[Run]) -> None:
        runs = {run.info.run_id: run for run in seeds}
        # A cell's run inside a job: its job's run. A job's run: the runs of its cells.
        parents = {run.data.tags.get(PARENT_TAG) for run in seeds} - {None, *runs}
        for run in self._runs_by_id(p for p in parents if p):
            runs[run.info.run_id] = run
        for run in list(runs.values()):
            if is_job_run(run):
                for child in self.client.search_runs(
                    [run.info.experiment_id],
                    filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}'",
                    max_results=100,
                ):
                    runs.setdefault(child.info.run_id, child)
        for run in runs.values():
            self.run(run)
        # The model versions these runs logged, in one search.
        if runs:
            listed = ", ".join(f"'{i}'" for i in sorted(runs))
            versions = list(self.client.search_model_versions(f"run_id IN ({listed})"))
            # A search leaves out the aliases: one read per registered model has them
            # (not needed when the only version is the one read by name, aliases and all).
            unknown = {f"{v.name}/{v.version}" for v in versions} - self.read_versions
            for name in sorted({key.rsplit("/", 1)[0] for key in unknown}):
                model = self.client.get_registered_model(name)
                for alias, number in (model.aliases or {}).items():
                    self.aliases.setdefault(f"{name}/{number}", []).append(alias)
            for version in versions:
                self.edge(
                    run_node_id(runs[version.run_id]), self.model_version(version), "registered as"
                )
        # The runs that loaded these versions (``jupyter_mlops.load_model`` records it), and
        # the job runs they ran in: one search per version.
        users: dict[str, Run] = {}
        for name, number in sorted(self.versions):
            if "`" in name:
                continue
            for run in self.client.search_runs(
                self._experiment_ids(),
                filter_string=f"tags.`{MODEL_USED_PREFIX}{name}` = {quoted(number)}",
                max_results=JOB_RUNS_PER_JOB,
                order_by=["attributes.start_time DESC"],
            ):
                if run.info.run_id not in runs:
                    users[run.info.run_id] = run
        parents = {r.data.tags.get(PARENT_TAG) for r in users.values()} - {None, *runs, *users}
        for run in [*users.values(), *self._runs_by_id(p for p in parents if p)]:
            runs[run.info.run_id] = run
            self.run(run)
        self.jobs_of(list(runs.values()))

    def run(self, run: Run) -> str:
        tags = run.data.tags
        job_run = is_job_run(run)
        node = self.node(
            run_node_id(run),
            "job_run" if job_run else "run",
            run.info.run_name or run.info.run_id[:8],
            {
                "status": run.info.status,
                "experiment": str(run.info.experiment_id),
                "source": tags.get(SOURCE_TAG),
                "started": when(run.info.start_time),
                "engine run": tags.get(ENGINE_RUN_TAG),
            },
            LineageLink(view="run", target=run.info.run_id),
        )
        if tags.get(PARENT_TAG):
            self.parents[node] = f"run:{tags[PARENT_TAG]}"
        for key, value in tags.items():
            if key.startswith(MODEL_USED_PREFIX) and value:
                used = self.model_version_ref(key[len(MODEL_USED_PREFIX) :], value)
                self.edge(used, node, "loaded by")
        for path, md5 in data_versions(tags):
            self.edge(self.data(path, md5), node, "read by")
        commit = tags.get(COMMIT_TAG)
        if commit:
            self.edge(self.commit(commit, tags), node, "code of")
        if not job_run and tags.get(NOTEBOOK_TAG):
            self.edge(self.notebook(tags[NOTEBOOK_TAG]), node, "ran")
        if job_run:
            output = tags.get(OUTPUT_TAG)
            if output:
                key = self._output_key(output)
                link = LineageLink(view="notebook", target=key) if self.s.relative(output) else None
                self.node(
                    f"output:{key}", "output", PurePosixPath(key).name, {"path": output}, link
                )
                self.edge(node, f"output:{key}", "wrote")
        return node

    def _output_key(self, output: str) -> str:
        return self.s.relative(output) or output

    def data(self, path: str, md5: str) -> str:
        return self.node(
            f"data:{path}@{md5}",
            "data",
            f"{PurePosixPath(path).name} @ {md5[:8]}",
            {"path": path, "version": md5},
            LineageLink(view="data", target=path, version=md5),
        )

    def commit(self, sha: str, tags: dict[str, str]) -> str:
        return self.node(
            f"commit:{sha}",
            "commit",
            sha[:8],
            {
                "commit": sha,
                "branch": tags.get("mlflow.source.git.branch"),
                "repository": tags.get("mlflow.source.git.repoURL"),
                "dirty": tags.get("jupyter_mlops.git.dirty"),
            },
        )

    def notebook(self, path: str) -> str:
        relative = self.s.relative(path)
        key = relative or path
        link = LineageLink(view="notebook", target=relative) if relative else None
        return self.node(
            f"notebook:{key}", "notebook", PurePosixPath(key).name, {"path": key}, link
        )

    def model_version_ref(self, name: str, number: str) -> str:
        """A model version known by name and number only (a run loaded it)."""
        self.versions.add((name, number))
        return self.node(
            f"model_version:{name}/{number}",
            "model_version",
            f"{name} v{number}",
            {"model": name, "version": number},
            LineageLink(view="model_version", target=f"{name}/{number}"),
        )

    def model_version(self, version: Any) -> str:
        name, number = version.name, str(version.version)
        self.versions.add((name, number))
        aliases = ", ".join(
            sorted({*(version.aliases or []), *self.aliases.get(f"{name}/{number}", [])})
        )
        return self.node(
            f"model_version:{name}/{number}",
            "model_version",
            f"{name} v{number}",
            {"model": name, "version": number, "aliases": aliases, "status": version.status},
            LineageLink(view="model_version", target=f"{name}/{number}"),
        )

    # -- jobs, images, deployments, job runs ----------------------------------------------
    def jobs_of(self, runs: list[Run]) -> None:
        notebooks = {
            self.s.relative(r.data.tags.get(NOTEBOOK_TAG)) for r in runs if not is_job_run(r)
        }
        names = {r.data.tags.get(JOB_TAG) for r in runs} - {None}
        related = [
            job
            for job in self.s.jobs()
            if (job.source and job.source in notebooks) or job.name in names
        ]
        if not related:
            return
        by_name: dict[str, list[str]] = {}
        images: dict[str, str] = {}  # an image id or pushed digest -> its node
        for job in related:
            node = self.job(job)
            by_name.setdefault(job.name, []).append(node)
            if job.build is not None:
                image = self.node(
                    f"image:{job.build.image_id}",
                    "image",
                    job.build.image,
                    {
                        "image": job.build.image,
                        "id": job.build.image_id,
                        "pushed": job.build.pushed,
                        "built": job.build.built_at,
                    },
                )
                self.edge(node, image, "built as")
                images[job.build.image_id] = image
                if job.build.pushed and "@" in job.build.pushed:
                    images[job.build.pushed.rsplit("@", 1)[1]] = image
        deployments = self.deployments(related, images)
        found: list[Run] = [r for r in runs if is_job_run(r)]
        for name in sorted(by_name):
            newest = self.job_runs(name)
            self.truncated |= len(newest) > JOB_RUNS_PER_JOB
            found.extend(newest[:JOB_RUNS_PER_JOB])
        for run in found:
            name = run.data.tags.get(JOB_TAG) or ""
            if name not in by_name:
                continue
            node = self.run(run)
            tags = run.data.tags
            deployment = tags.get(DEPLOYMENT_TAG)
            digest = tags.get(DIGEST_TAG)
            if deployment and f"deployment:{deployment}" in deployments:
                self.edge(f"deployment:{deployment}", node, "ran")
            elif digest:
                image = images.get(digest) or self.node(
                    f"image:{digest}", "image", digest[:19], {"id": digest}
                )
                for job_node in by_name[name]:
                    self.edge(job_node, image, "ran as")
                self.edge(image, node, "ran")
            else:
                for job_node in by_name[name]:
                    self.edge(job_node, node, "ran")

    def job(self, job: JobInfo) -> str:
        from ..export.jobfile import InvalidJobFile, JobFile

        node = self.node(
            f"job:{job.path}",
            "job",
            job.name,
            {"folder": job.path, "exported": job.exported_at, "experiment": job.experiment},
            LineageLink(view="job", target=job.path),
        )
        if job.source:
            self.edge(self.notebook(job.source), node, "exported as")
        try:
            source = JobFile.read(self.s.root / job.path).source
        except InvalidJobFile:
            source = None
        if source is not None and source.git_commit:
            self.edge(self.commit(source.git_commit, {}), node, "exported from")
        # Pinned data, named as a run inside the job names it (see tracking.jobrun).
        where = PurePosixPath(source.path).parent if source and source.path else PurePosixPath()
        for pin in job.data:
            self.edge(self.data((where / pin.path).as_posix(), pin.md5), node, "pinned by")
        return node

    def deployments(self, jobs: list[JobInfo], images: dict[str, str]) -> set[str]:
        folders = {job.path: f"job:{job.path}" for job in jobs}
        names = {job.name: f"job:{job.path}" for job in jobs}
        found = set()
        for name, record in self.s.deployments():
            job = record.get("job")
            job_node = None
            if isinstance(job, str):
                job_node = folders.get(self.s.relative(job) or job) or names.get(job)
            if job_node is None:
                continue
            digest = nonempty(record.get("digest")) or nonempty(record.get("image_digest"))
            image = nonempty(record.get("image"))
            node = self.node(
                f"deployment:{name}",
                "deployment",
                name,
                {
                    "engine": nonempty(record.get("engine")),
                    "schedule": nonempty(record.get("schedule")),
                    "image": image,
                    "digest": digest,
                    "url": nonempty(record.get("url")),
                },
                LineageLink(view="deployment", target=name),
            )
            source = images.get(digest or "") or next(
                (i for k, i in images.items() if image and image.endswith(k)), None
            )
            self.edge(source or job_node, node, "deployed as")
            found.add(node)
        return found
