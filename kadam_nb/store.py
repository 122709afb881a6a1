"""Persistent history: SQLite for definitions, runs, jobs, attempts and transitions, plus one
log file per attempt.

Layout of a state directory::

    kadam.db                      SQLite (WAL): the records
    scheduler.lock                held by the Registry that runs the scheduler
    runs/<run-id>/work/           the run's shared work directory (KADAM_WORK)
    runs/<run-id>/logs/<job>.<attempt>.log   every line the attempt wrote, timestamped

Writes come in transactions, one per scheduler step, so a crash loses nothing that was
reported: a state change is committed before anyone is told of it, and a log line is written
to its file before it is shown. Several threads may read; only the scheduler thread writes jobs.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .core.jobs import AttemptRecord, Dependency, JobRecord, Transition
from .core.logs import LogLine, parse_log_text
from .core.spec import FrozenMap, JobDefinition
from .core.states import JobStatus
from .core.views import AttemptView, JobView

__all__ = ["LogFiles", "Store"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS definitions (
    name TEXT NOT NULL, revision INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 1,
    registered_at REAL NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (name, revision));
CREATE TABLE IF NOT EXISTS resources (
    kind TEXT NOT NULL, name TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, name));
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created_at REAL NOT NULL, targets TEXT NOT NULL, work_dir TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL,
    revision INTEGER, run_id TEXT NOT NULL, queue TEXT NOT NULL, parent_id TEXT,
    array_index INTEGER, array_size INTEGER, depends_on TEXT NOT NULL, parameters TEXT NOT NULL,
    spec TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT NOT NULL,
    created_at REAL NOT NULL, started_at REAL, stopped_at REAL, fingerprint TEXT,
    cached_from TEXT, max_attempts INTEGER NOT NULL, remote_id TEXT);
CREATE INDEX IF NOT EXISTS jobs_by_name ON jobs (name, seq);
CREATE INDEX IF NOT EXISTS jobs_by_fingerprint_only ON jobs (fingerprint);
CREATE INDEX IF NOT EXISTS jobs_by_parent ON jobs (parent_id);
CREATE TABLE IF NOT EXISTS attempts (
    job_id TEXT NOT NULL, number INTEGER NOT NULL, compute_environment TEXT NOT NULL,
    backend TEXT NOT NULL, created_at REAL NOT NULL, started_at REAL, stopped_at REAL,
    exit_code INTEGER, reason TEXT, status_reason TEXT, handle TEXT, log_path TEXT,
    stop_cause TEXT, stop_message TEXT, PRIMARY KEY (job_id, number));
CREATE TABLE IF NOT EXISTS transitions (
    job_id TEXT NOT NULL, at REAL NOT NULL, src TEXT, dst TEXT NOT NULL, reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transitions_by_job ON transitions (job_id);
"""

_JOB_COLUMNS = (
    "id, seq, name, definition, revision, run_id, queue, parent_id, array_index, array_size, "
    "depends_on, parameters, spec, status, status_reason, created_at, started_at, stopped_at, "
    "fingerprint, cached_from, max_attempts, remote_id"
)
_ATTEMPT_COLUMNS = (
    "job_id, number, compute_environment, backend, created_at, started_at, stopped_at, "
    "exit_code, reason, status_reason, handle, log_path, stop_cause, stop_message"
)


def definition_doc(definition: JobDefinition) -> str:
    return json.dumps(definition.to_aws(extensions=True), sort_keys=True)


def definition_from_doc(doc: str, revision: int | None) -> JobDefinition:
    # warn=False: kept AWS fields were warned about once, when the definition was registered
    return JobDefinition.from_aws(json.loads(doc), warn=False).replace(revision=revision)


def _while_busy(step: Any, deadline: float) -> None:
    """Run `step`, again while another connection holds the database, until `deadline`.

    SQLite answers "database is locked" at once, without waiting out the busy timeout, when
    two connections open a new file together and both switch it to WAL: one has to try again.
    """
    pause = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


class Store:
    """The state directory's database and log files."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.root = Path(state_dir)
        self.root.mkdir(parents=True, exist_ok=True)
        self.runs_dir = self.root / "runs"
        self.runs_dir.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._written_jobs: set[str] = set()  # jobs whose whole row this Store has written
        self._written_attempts: set[tuple[str, int]] = set()  # attempts, likewise
        self._log_dirs: dict[str, str] = {}  # run id -> its logs folder
        self._conn = sqlite3.connect(
            self.root / "kadam.db", check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        _while_busy(self._prepare, deadline=time.monotonic() + 10.0)

    def _prepare(self) -> None:
        """Switch to WAL and bring the schema up to date; safe to repeat."""
        if self._conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._migrate()
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _migrate(self) -> None:
        """Bring a state directory written by an earlier kadam up to this schema."""
        # Indexes that held a job's status cost a page write on every state change; the
        # queries need only these (fingerprint lookups; unfinished jobs are read once, at open).
        self._conn.execute("DROP INDEX IF EXISTS jobs_by_status")
        self._conn.execute("DROP INDEX IF EXISTS jobs_by_fingerprint")
        columns = {row[1] for row in self._conn.execute("PRAGMA table_info(jobs)")}
        if "remote_id" not in columns:  # added for jobs handed to a service (AWS Batch, Slurm)
            with self._transaction() as cur:
                cur.execute("ALTER TABLE jobs ADD COLUMN remote_id TEXT")

    # ------------------------------------------------------------------ plumbing

    class _Tx:
        def __init__(self, store: Store) -> None:
            self.store = store

        def __enter__(self) -> sqlite3.Cursor:
            self.store._lock.acquire()
            try:
                self.cur = self.store._conn.cursor()
                self.cur.execute("BEGIN IMMEDIATE")
            except BaseException:
                self.store._lock.release()
                raise
            return self.cur

        def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
            try:
                self.cur.execute("ROLLBACK" if exc_type else "COMMIT")
            finally:
                self.store._lock.release()

    def _transaction(self) -> Store._Tx:
        return Store._Tx(self)

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ definitions

    def save_definition(self, definition: JobDefinition, registered_at: float) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO definitions (name, revision, active, registered_at, doc) "
                "VALUES (?, ?, 1, ?, ?)",
                (definition.name, definition.revision, registered_at, definition_doc(definition)),
            )

    def deactivate_definitions(self, name: str | None = None) -> None:
        with self._transaction() as cur:
            if name is None:
                cur.execute("UPDATE definitions SET active = 0")
            else:
                cur.execute("UPDATE definitions SET active = 0 WHERE name = ?", (name,))

    def definitions(self, active_only: bool = True) -> list[JobDefinition]:
        """Every stored revision, in registration order."""
        where = "WHERE active = 1" if active_only else ""
        rows = self._query(
            f"SELECT name, revision, doc FROM definitions {where} ORDER BY registered_at, revision"
        )
        return [definition_from_doc(doc, revision) for _, revision, doc in rows]

    def last_revision(self, name: str) -> int:
        rows = self._query("SELECT MAX(revision) FROM definitions WHERE name = ?", (name,))
        return int(rows[0][0] or 0)

    # ------------------------------------------------------------------ queues, environments

    def save_resource(self, kind: str, name: str, doc: dict[str, Any]) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT OR REPLACE INTO resources (kind, name, doc) VALUES (?, ?, ?)",
                (kind, name, json.dumps(doc, sort_keys=True)),
            )

    def resources(self, kind: str) -> list[dict[str, Any]]:
        rows = self._query("SELECT doc FROM resources WHERE kind = ? ORDER BY rowid", (kind,))
        return [json.loads(doc) for (doc,) in rows]

    # ------------------------------------------------------------------ runs

    def create_run(self, run_id: str, created_at: float, targets: list[str]) -> Path:
        work = self.runs_dir / run_id / "work"
        try:
            (self.runs_dir / run_id / "logs").mkdir(parents=True, exist_ok=True)
            work.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # nothing is recorded: the run refuses to start
            from .errors import KadamError

            raise KadamError(
                f"cannot create the run's folders in {self.runs_dir} ({exc.strerror}); nothing "
                "was submitted. Free space or fix permissions there (or use another state_dir)"
            ) from None
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO runs (id, created_at, targets, work_dir) VALUES (?, ?, ?, ?)",
                (run_id, created_at, json.dumps(targets), str(work)),
            )
        return work

    def run_work_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id / "work"

    def runs(self) -> list[tuple[str, float, list[str], str]]:
        rows = self._query("SELECT id, created_at, targets, work_dir FROM runs ORDER BY created_at")
        return [(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]

    def log_path(self, run_id: str, job_id: str, attempt: int) -> Path:
        return Path(self.log_file(run_id, job_id, attempt))

    def log_file(self, run_id: str, job_id: str, attempt: int) -> str:
        """:meth:`log_path` as a string (what the scheduler stores, without pathlib's cost)."""
        logs = self._log_dirs.get(run_id)
        if logs is None:
            logs = self._log_dirs[run_id] = str(self.runs_dir / run_id / "logs")
        return os.path.join(logs, f"{job_id.replace(':', '.')}.{attempt}.log")

    # ------------------------------------------------------------------ jobs (scheduler thread)

    def write(
        self,
        jobs: Iterable[JobRecord],
        attempts: Iterable[AttemptRecord],
        transitions: Iterable[Transition],
    ) -> None:
        """Record changed jobs and attempts and new transitions in one transaction."""
        # A job's row is written whole once; afterwards only its changing columns are updated
        # (no JSON encoding, and SQLite rewrites one index rather than deleting and inserting).
        # Attempts likewise. A record changed several times in a step comes once per change (the
        # same object each time): it is written once, as it is now.
        job_rows: list[tuple[Any, ...]] = []
        job_updates: list[tuple[Any, ...]] = []
        written = self._written_jobs
        for j in {j.id: j for j in jobs}.values():
            if j.id in written:
                job_updates.append(
                    (
                        j.status.value,
                        j.status_reason,
                        j.started_at,
                        j.stopped_at,
                        j.fingerprint,
                        j.cached_from,
                        j.remote_id,
                        j.id,
                    )
                )
            else:
                job_rows.append(_job_row(j))
        attempt_rows: list[tuple[Any, ...]] = []
        attempt_updates: list[tuple[Any, ...]] = []
        written_attempts = self._written_attempts
        for a in {(a.job_id, a.number): a for a in attempts}.values():
            row = _attempt_row(a)
            if (a.job_id, a.number) in written_attempts:  # the columns that change, then the key
                attempt_updates.append((*row[_ATTEMPT_CHANGING:], a.job_id, a.number))
            else:
                attempt_rows.append(row)
        transition_rows = [
            (t.job_id, t.at, t.src.value if t.src else None, t.dst.value, t.reason)
            for t in transitions
        ]
        if not (job_rows or job_updates or attempt_rows or attempt_updates or transition_rows):
            return
        with self._transaction() as cur:
            if job_rows:
                cur.executemany(
                    f"INSERT OR REPLACE INTO jobs ({_JOB_COLUMNS}) VALUES ({_marks(22)})", job_rows
                )
            if job_updates:
                cur.executemany(
                    "UPDATE jobs SET status = ?, status_reason = ?, started_at = ?, "
                    "stopped_at = ?, fingerprint = ?, cached_from = ?, remote_id = ? WHERE id = ?",
                    job_updates,
                )
            if attempt_rows:
                cur.executemany(
                    f"INSERT OR REPLACE INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ({_marks(14)})",
                    attempt_rows,
                )
            if attempt_updates:
                cur.executemany(
                    "UPDATE attempts SET started_at = ?, stopped_at = ?, exit_code = ?, "
                    "reason = ?, status_reason = ?, handle = ?, log_path = ?, stop_cause = ?, "
                    "stop_message = ? WHERE job_id = ? AND number = ?",
                    attempt_updates,
                )
            if transition_rows:
                cur.executemany(
                    "INSERT INTO transitions (job_id, at, src, dst, reason) VALUES (?, ?, ?, ?, ?)",
                    transition_rows,
                )
        written.update(row[0] for row in job_rows)
        written_attempts.update((row[0], row[1]) for row in attempt_rows)

    # ------------------------------------------------------------------ jobs (readers)

    def job_views(
        self,
        *,
        ids: Iterable[str] | None = None,
        run_id: str | None = None,
        include_children: bool = True,
    ) -> list[JobView]:
        where: list[str] = []
        args: list[Any] = []
        if ids is not None:
            id_list = list(ids)
            if not id_list:
                return []
            where.append(f"id IN ({_marks(len(id_list))})")
            args.extend(id_list)
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        if not include_children:
            where.append("array_index IS NULL")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._query(f"SELECT {_JOB_COLUMNS} FROM jobs {clause} ORDER BY seq", args)
        attempts = self._attempts_for([r[0] for r in rows])
        children = self._children_for([r[0] for r in rows if r[9] is not None and r[8] is None])
        return [_view(r, attempts.get(r[0], []), children.get(r[0], [])) for r in rows]

    def _attempts_for(self, job_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for chunk in _chunks(job_ids, 500):
            rows = self._query(
                f"SELECT {_ATTEMPT_COLUMNS} FROM attempts WHERE job_id IN ({_marks(len(chunk))}) "
                "ORDER BY job_id, number",
                chunk,
            )
            for row in rows:
                out.setdefault(row[0], []).append(row)
        return out

    def _children_for(self, parent_ids: list[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for chunk in _chunks(parent_ids, 500):
            rows = self._query(
                f"SELECT parent_id, id FROM jobs WHERE parent_id IN ({_marks(len(chunk))}) "
                "ORDER BY array_index",
                chunk,
            )
            for parent, child in rows:
                out.setdefault(parent, []).append(child)
        return out

    def latest_job_id(self, name: str) -> str | None:
        rows = self._query(
            "SELECT id FROM jobs WHERE name = ? AND array_index IS NULL ORDER BY seq DESC, "
            "created_at DESC LIMIT 1",
            (name,),
        )
        return rows[0][0] if rows else None

    def job_status(self, job_id: str) -> tuple[JobStatus, str] | None:
        rows = self._query("SELECT status, name, array_index FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            return None
        status, name, index = rows[0]
        return JobStatus(status), name if index is None else f"{name}[{index}]"

    def succeeded_with_fingerprint(self, fingerprint: str) -> str | None:
        rows = self._query(
            "SELECT id FROM jobs WHERE fingerprint = ? AND status = 'SUCCEEDED' "
            "AND array_index IS NULL ORDER BY created_at DESC LIMIT 1",
            (fingerprint,),
        )
        return rows[0][0] if rows else None

    def transitions(self, job_id: str) -> list[Transition]:
        rows = self._query(
            "SELECT job_id, at, src, dst, reason FROM transitions WHERE job_id = ? ORDER BY rowid",
            (job_id,),
        )
        return [
            Transition(r[0], r[1], JobStatus(r[2]) if r[2] else None, JobStatus(r[3]), r[4])
            for r in rows
        ]

    def transitions_for(self, job_ids: list[str]) -> dict[str, list[Transition]]:
        """The transitions of many jobs at once, by job id, each list in recorded order."""
        out: dict[str, list[Transition]] = {}
        for chunk in _chunks(job_ids, 500):
            rows = self._query(
                "SELECT job_id, at, src, dst, reason FROM transitions "
                f"WHERE job_id IN ({_marks(len(chunk))}) ORDER BY rowid",
                chunk,
            )
            for r in rows:
                src = JobStatus(r[2]) if r[2] else None
                out.setdefault(r[0], []).append(Transition(r[0], r[1], src, JobStatus(r[3]), r[4]))
        return out

    def unfinished_jobs(self) -> list[JobRecord]:
        """Jobs a previous session left before SUCCEEDED/FAILED, rebuilt as engine records."""
        rows = self._query(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status NOT IN ('SUCCEEDED', 'FAILED') "
            "ORDER BY seq"
        )
        ids = [r[0] for r in rows]
        attempts = self._attempts_for(ids)
        children = self._children_for([r[0] for r in rows if r[9] is not None and r[8] is None])
        records = [_record(r, attempts.get(r[0], []), children.get(r[0], [])) for r in rows]
        parents = {r.id: r.definition for r in records if r.is_parent}
        for record in records:  # children are stored without their (shared) definition
            if record.parent_id in parents:
                record.definition = parents[record.parent_id]
        return records

    def max_seq(self) -> int:
        rows = self._query("SELECT MAX(seq) FROM jobs")
        return int(rows[0][0]) if rows and rows[0][0] is not None else -1

    def read_log(self, path: str | os.PathLike[str]) -> list[LogLine]:
        """Every complete record of an attempt's log file (none if it does not exist yet)."""
        try:
            with open(path, encoding="utf-8", errors="replace", newline="") as f:
                return parse_log_text(f.read())
        except FileNotFoundError:
            return []


class LogFiles:
    """Log files of running attempts, written with plain ``os.write`` (no buffering, so a
    killed kernel loses no line that was written).

    :meth:`open` makes sure the attempt's folder exists and can be written, and notes the
    path; the file itself is created with the first line, so an attempt that
    prints nothing costs no file (readers treat a missing file as an empty log).
    """

    _FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC

    def __init__(self) -> None:
        self._fds: dict[tuple[str, int], int] = {}
        self._paths: dict[tuple[str, int], str] = {}

    def open(self, key: tuple[str, int], path: str | os.PathLike[str]) -> None:
        """Expect lines for ``key`` in ``path``; OSError if its folder cannot take them."""
        if key in self._fds or key in self._paths:
            return
        path = os.fspath(path)
        folder = os.path.dirname(path)
        if not os.access(folder, os.W_OK | os.X_OK):  # one system call in the usual case
            os.makedirs(folder, exist_ok=True)
            if not os.access(folder, os.W_OK | os.X_OK):
                read_only = os.statvfs(folder).f_flag & os.ST_RDONLY
                code = errno.EROFS if read_only else errno.EACCES
                raise OSError(code, os.strerror(code), folder)
        self._paths[key] = path

    def write(self, key: tuple[str, int], text: str) -> None:
        fd = self._fds.get(key)
        if fd is None:
            path = self._paths.get(key)
            if path is None:
                return
            fd = self._fds[key] = os.open(path, self._FLAGS, 0o644)
        data = text.encode("utf-8", "surrogateescape")
        while data:
            written = os.write(fd, data)
            data = data[written:]

    def close(self, key: tuple[str, int]) -> None:
        self._paths.pop(key, None)
        fd = self._fds.pop(key, None)
        if fd is not None:
            os.close(fd)

    def close_all(self) -> None:
        for key in list(self._fds):
            self.close(key)


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _job_row(job: JobRecord) -> tuple[Any, ...]:
    return (
        job.id,
        job.seq,
        job.name,
        job.definition.name,
        job.definition.revision,
        job.run_id,
        job.queue,
        job.parent_id,
        job.array_index,
        job.array_size,
        json.dumps([[d.job_id, d.type] for d in job.depends_on]),
        json.dumps(dict(job.parameters), sort_keys=True),
        "" if job.parent_id else definition_doc(job.definition),
        job.status.value,
        job.status_reason,
        job.created_at,
        job.started_at,
        job.stopped_at,
        job.fingerprint,
        job.cached_from,
        job.definition.retry_strategy.attempts,
        job.remote_id,
    )


_ATTEMPT_CHANGING = 5
"""Where an attempt's row starts holding what changes after its insert (from started_at on)."""


def _attempt_row(a: AttemptRecord) -> tuple[Any, ...]:
    return (
        a.job_id,
        a.number,
        a.compute_environment,
        a.backend,
        a.created_at,
        a.started_at,
        a.stopped_at,
        a.exit_code,
        a.reason,
        a.status_reason,
        a.handle,
        a.log_path,
        a.stop_cause,
        a.stop_message,
    )


def _attempt_view(row: tuple[Any, ...]) -> AttemptView:
    return AttemptView(*row[:12])


def _view(row: tuple[Any, ...], attempts: list[tuple[Any, ...]], children: list[str]) -> JobView:
    return JobView(
        id=row[0],
        name=row[2],
        definition_name=row[3],
        revision=row[4],
        run_id=row[5],
        queue=row[6],
        status=JobStatus(row[13]),
        status_reason=row[14],
        created_at=row[15],
        started_at=row[16],
        stopped_at=row[17],
        attempts=tuple(_attempt_view(a) for a in attempts),
        parent_id=row[7],
        array_index=row[8],
        array_size=row[9],
        children=tuple(children),
        depends_on=tuple(Dependency(d[0], d[1]) for d in json.loads(row[10])),
        max_attempts=row[20],
        cached_from=row[19],
        remote_id=row[21],
    )


def _record(
    row: tuple[Any, ...], attempts: list[tuple[Any, ...]], children: list[str]
) -> JobRecord:
    return JobRecord(
        id=row[0],
        name=row[2],
        definition=(
            definition_from_doc(row[12], row[4]) if row[12] else JobDefinition(name=row[3])
        ),
        run_id=row[5],
        queue=row[6],
        seq=row[1],
        created_at=row[15],
        depends_on=tuple(Dependency(d[0], d[1]) for d in json.loads(row[10])),
        parameters=FrozenMap(json.loads(row[11])),
        parent_id=row[7],
        array_index=row[8],
        array_size=row[9],
        status=JobStatus(row[13]),
        status_reason=row[14],
        started_at=row[16],
        stopped_at=row[17],
        attempts=[AttemptRecord(*a) for a in attempts],
        children=children,
        fingerprint=row[18],
        cached_from=row[19],
        remote_id=row[21],
    )
