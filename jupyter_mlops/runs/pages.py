"""Pages of runs read straight from an MLflow SQLite store, for speed.

MLflow's ``search_runs`` on SQLite is far too slow for a table of 10,000 runs: sorting by a
metric or parameter joins a materialised subquery that SQLite (without statistics) scans
once per run, some 10 s, and building ORM objects for a page costs another 50-80 ms. This
module answers the same query with two plain statements: the page's run ids (filter and
sort joined on the tables' primary keys), then the page's params, metrics and tags.

Results are the same as MLflow's, row for row: the same sort (MLflow's null and NaN
placement, its ``start_time DESC, run_uuid`` tie-breakers), the same filter semantics
(``LIKE`` case-sensitive, ``ILIKE`` through ``lower()``, NaN metrics never matching but
``!=``), and MLflow's own offset page tokens, so a page from here and one from
``search_runs`` continue each other. A test compares both on a matrix of filters and sorts.
Anything this module does not handle (dataset filters, an unknown schema, an SQLite error)
makes :meth:`SqliteRunPages.page` return ``None`` and the caller asks MLflow.

Statements are put together from this module's constants only (table and column names,
whitelisted comparators, ``?`` marks); every value from a request is a bound parameter.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

#: Columns this module reads; a store without them is left to MLflow.
REQUIRED_COLUMNS = {
    "runs": {"run_uuid", "name", "experiment_id", "status", "lifecycle_stage", "start_time",
             "end_time", "user_id", "artifact_uri"},
    "params": {"run_uuid", "key", "value"},
    "tags": {"run_uuid", "key", "value"},
    "latest_metrics": {"run_uuid", "key", "value", "is_nan"},
}  # fmt: skip
#: MLflow's run attributes (after its aliases) and their columns.
ATTRIBUTE_COLUMNS = {
    "start_time": "start_time",
    "end_time": "end_time",
    "status": "status",
    "user_id": "user_id",
    "run_id": "run_uuid",
    "artifact_uri": "artifact_uri",
    "run_name": "name",
}
CHILD_TABLES = {"metric": "latest_metrics", "parameter": "params", "tag": "tags"}
RUN_NAME_TAG = "mlflow.runName"
_RUN_COLUMNS = "run_uuid, name, experiment_id, status, lifecycle_stage, start_time, end_time"
#: Bound variables per statement when reading a page's children.
_CHUNK = 500


class Unsupported(Exception):
    """The query uses something only MLflow's own search implements."""


@dataclass
class RunRow:
    """What the runs table says of one run, and its children."""

    run_id: str
    name: str | None
    experiment_id: str
    status: str
    lifecycle_stage: str
    start_time: int | None
    end_time: int | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


class SqliteRunPages:
    """Reads pages of runs from one MLflow SQLite database file."""

    @classmethod
    def for_uri(cls, tracking_uri: str) -> SqliteRunPages | None:
        """For a ``sqlite:`` tracking URI naming a file; None for any other store."""
        if not tracking_uri.startswith("sqlite:"):
            return None
        from sqlalchemy.engine import make_url

        try:
            url = make_url(tracking_uri)
        except Exception:  # MLflow will say what is wrong with the URI
            return None
        if not url.database or url.database == ":memory:":
            return None
        return cls(Path(url.database).absolute())

    _schema_ok: dict[Path, bool] = {}
    _lock = threading.Lock()

    def __init__(self, db: Path, *, timeout: float = 60.0) -> None:
        self.db = db
        self.timeout = timeout

    def page(
        self,
        experiment_id: str,
        filter_string: str,
        order_by: str,
        max_results: int,
        offset: int,
        include_deleted: bool,
    ) -> tuple[list[RunRow], bool] | None:
        """The runs of one page in order and whether more follow; None when MLflow must
        answer instead."""
        try:
            sql, args = _page_statement(
                experiment_id, filter_string, order_by, max_results + 1, offset, include_deleted
            )
        except Unsupported as exc:
            log.debug("jupyter-mlops: MLflow answers this search (%s)", exc)
            return None
        try:
            with self._connection() as connection:
                if not self._schema_fits(connection):
                    return None
                ids = [row[0] for row in connection.execute(sql, args)]
                more = len(ids) > max_results
                return _rows(connection, ids[:max_results]), more
        except sqlite3.Error as exc:
            log.warning(
                "jupyter-mlops: reading runs from %s failed (%s); asking MLflow", self.db, exc
            )
            return None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        # mode=rw: never create a database file that is not there.
        uri = f"file:{quote(str(self.db))}?mode=rw"
        with closing(sqlite3.connect(uri, uri=True, timeout=self.timeout)) as connection:
            connection.execute("PRAGMA query_only = 1")
            # As MLflow's SQLAlchemy store sets it: LIKE is case-sensitive, ILIKE is not.
            connection.execute("PRAGMA case_sensitive_like = 1")
            yield connection

    def _schema_fits(self, connection: sqlite3.Connection) -> bool:
        with self._lock:
            known = self._schema_ok.get(self.db)
        if known is None:
            known = all(
                required <= {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
                for table, required in REQUIRED_COLUMNS.items()
            )
            if not known:
                log.info("jupyter-mlops: %s has an unexpected schema; MLflow searches it", self.db)
            with self._lock:
                self._schema_ok[self.db] = known
        return known


def _page_statement(
    experiment_id: str,
    filter_string: str,
    order_by: str,
    limit: int,
    offset: int,
    include_deleted: bool,
) -> tuple[str, list[Any]]:
    from mlflow.utils.search_utils import SearchUtils

    args: list[Any] = []
    joins, sort = _order(SearchUtils.parse_order_by_for_search_runs(order_by), args)
    stages = ("active", "deleted") if include_deleted else ("active",)
    where = ["r.experiment_id = ?", f"r.lifecycle_stage IN ({_marks(stages)})"]
    args += [int(experiment_id), *stages]
    for clause in SearchUtils.parse_search_filter(filter_string):
        where.append(_condition(clause, args))
    sql = (
        f"SELECT r.run_uuid FROM runs r {joins} WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY {', '.join(sort)} LIMIT ? OFFSET ?"
    )
    return sql, [*args, limit, offset]


def _order(parsed: tuple[str, str, bool], args: list[Any]) -> tuple[str, list[str]]:
    """MLflow's ORDER BY for one clause: missing (and NaN) values last, then the value,
    then ``start_time DESC`` (unless that is the clause) and ``run_uuid``."""
    from mlflow.utils.search_utils import SearchUtils

    kind, key, ascending = parsed
    key = SearchUtils.translate_key_alias(key)
    direction = "" if ascending else " DESC"
    joins = ""
    if kind == "attribute":
        if key not in ATTRIBUTE_COLUMNS:
            raise Unsupported(f"order by attribute {key}")
        value = f"r.{ATTRIBUTE_COLUMNS[key]}"
        missing = f"CASE WHEN {value} IS NULL THEN 1 ELSE 0 END"
    elif kind in CHILD_TABLES:
        joins = f"LEFT JOIN {CHILD_TABLES[kind]} o ON o.run_uuid = r.run_uuid AND o.key = ?"
        args.append(key)
        value = "o.value"
        if kind == "metric":
            missing = "CASE WHEN o.is_nan = 1 THEN 1 WHEN o.value IS NULL THEN 2 ELSE 0 END"
        else:
            missing = "CASE WHEN o.value IS NULL THEN 1 ELSE 0 END"
    else:
        raise Unsupported(f"order by {kind}")
    sort = [missing, value + direction]
    if not (kind == "attribute" and key == "start_time"):
        sort.append("r.start_time DESC")
    sort.append("r.run_uuid")
    return joins, sort


def _condition(clause: dict[str, Any], args: list[Any]) -> str:
    """One filter clause as SQL, as MLflow's SQLAlchemy store builds it."""
    from mlflow.utils.search_utils import SearchUtils

    kind, comparator = clause["type"], str(clause["comparator"]).upper()
    key, value = SearchUtils.translate_key_alias(clause["key"]), clause["value"]
    if kind == "attribute":
        if key == "run_name":  # MLflow matches the tag: old runs have no name column
            args.append(RUN_NAME_TAG)
            test = _compare("t.value", comparator, value, args)
            tag = "SELECT 1 FROM tags t WHERE t.run_uuid = r.run_uuid AND t.key = ?"
            return f"EXISTS ({tag} AND {test})"
        if key not in ATTRIBUTE_COLUMNS:
            raise Unsupported(f"filter on attribute {key}")
        return _compare(f"r.{ATTRIBUTE_COLUMNS[key]}", comparator, value, args)
    if kind not in CHILD_TABLES:
        raise Unsupported(f"filter on {kind}")
    table = CHILD_TABLES[kind]
    exists = f"EXISTS (SELECT 1 FROM {table} c WHERE c.run_uuid = r.run_uuid AND c.key = ?"  # noqa: S608
    args.append(key)
    if comparator in ("IS NULL", "IS NOT NULL"):
        return f"{'NOT ' if comparator == 'IS NULL' else ''}{exists})"
    if kind == "metric":
        test = _compare("c.value", comparator, float(value), args)
        # NaN is stored as 0 with is_nan set: it matches "!=" and nothing else.
        test = f"({test} OR c.is_nan = 1)" if comparator == "!=" else f"({test} AND c.is_nan = 0)"
    else:
        test = _compare("c.value", comparator, value, args)
    return f"{exists} AND {test})"


def _compare(column: str, comparator: str, value: Any, args: list[Any]) -> str:
    if comparator in ("IN", "NOT IN"):
        values = list(value)
        args.extend(values)
        return f"{column} {comparator} ({_marks(values)})"
    if comparator == "ILIKE":
        args.append(value)
        return f"lower({column}) LIKE lower(?)"
    if comparator in ("=", "!=", "<", "<=", ">", ">=", "LIKE"):
        args.append(value)
        return f"{column} {comparator} ?"
    raise Unsupported(f"comparator {comparator}")


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _rows(connection: sqlite3.Connection, ids: list[str]) -> list[RunRow]:
    """The runs ``ids`` with their params, latest metrics and tags, in the order given."""
    found: dict[str, RunRow] = {}
    for chunk in _chunks(ids):
        marks = _marks(chunk)
        for run_id, name, experiment, status, stage, start, end in connection.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid IN ({marks})",  # noqa: S608
            chunk,
        ):
            found[run_id] = RunRow(run_id, name, str(experiment), status, stage, start, end)
        for run_id, key, value in connection.execute(
            f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({marks})",  # noqa: S608
            chunk,
        ):
            found[run_id].params[key] = value
        for run_id, key, value, is_nan in connection.execute(
            f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE run_uuid IN ({marks})",  # noqa: S608
            chunk,
        ):
            found[run_id].metrics[key] = float("nan") if is_nan else value
        for run_id, key, value in connection.execute(
            f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})",  # noqa: S608
            chunk,
        ):
            found[run_id].tags[key] = value
    return [found[run_id] for run_id in ids if run_id in found]


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
