"""Benchmark the audit trail: append throughput with concurrent writers, and verifying 1M events.

Run from the project root (never collected as a test):

    python bench/audit.py [--writers 8] [--appends 2000] [--events 1000000] [--keep]
                          [--db-name assay_bench_audit]

It creates its own PostgreSQL database (``--db-name``, default ``assay_bench_audit``, on the server
of DATABASE_URL, by default the local one), migrates it, and then

1. appends ``--appends`` events through ``core.audit.atomic_record`` from ``--writers`` processes,
   each its own connection and transaction per event (as services do), and checks the chain;
   then, for comparison only, the same with ``synchronous_commit = off`` and the latency of one
   durable commit, which bounds appends: each commits while holding the chain lock;
2. measures what the insert guard (migration core/0004, a BEFORE INSERT trigger) adds to one
   append: alternating blocks of appends with it enabled and disabled, on one connection without
   durable commits, so the WAL flush, which dominates an append and varies with the machine's
   load, drops out of the difference;
3. bulk-loads a correct chain up to ``--events`` events with COPY (through the insert guard) (digests computed with the
   generic ``core.audit.event_digest``, not the verifier's fast path), then times
   ``core.audit.verify_chain`` over all of them.

The last line is ``appends_per_s=X verify_1m_s=Y guard_us=Z`` (targets: >= 500 and <= 20).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "assay_bench_audit"  # --db-name replaces it (each engineer benchmarks in their own)


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/assay")
    if not url.startswith("postgres"):
        sys.exit("bench/audit.py needs PostgreSQL (DATABASE_URL=postgres://...)")
    return url.rsplit("/", 1)[0]


def _recreate_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def _drop_database(server: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def _setup_django(server: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DATABASE_URL"] = f"{server}/{DB_NAME}"
    os.environ.pop("ASSAY_DB_APP_ROLE", None)  # the bench migrates and bulk-loads as the owner
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _writer(writer: int, each: int, start: Any, errors: Any) -> None:
    """One writer process: its own connection, one transaction per event (as services do)."""
    from django.db import connections

    from core import audit

    try:
        connections["default"].ensure_connection()  # connect before the clock starts
        start.wait()
        for i in range(each):
            audit.atomic_record(action="bench.append", object_type="writer", object_id=writer,
                                payload={"writer": writer, "i": i, "note": "concurrent append"})
    except BaseException as exc:
        errors.put(repr(exc))
    finally:
        connections.close_all()


def measure_appends(writers: int, total: int) -> float:
    """Events per second appended by ``writers`` processes (web and Celery workers are processes,
    so writers share no interpreter lock), then check the chain."""
    from django.db import connections

    from core import audit
    from core.models import AuditEvent

    each = total // writers
    context = multiprocessing.get_context("fork")
    start, errors = context.Barrier(writers + 1), context.Queue()
    connections.close_all()  # children must not share the parent's connection
    processes = [context.Process(target=_writer, args=(w, each, start, errors))
                 for w in range(writers)]
    for process in processes:
        process.start()
    start.wait()
    began = time.perf_counter()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - began
    if not errors.empty():
        raise SystemExit(f"a writer failed: {errors.get()}")
    report = audit.verify_chain()
    seqs = list(AuditEvent.objects.filter(action="bench.append").values_list("seq", flat=True))
    if not report.ok or len(seqs) != len(set(seqs)) or report.checked != report.head_seq:
        raise SystemExit(f"chain broken after concurrent appends: {report.summary}")
    print(f"appends: {each * writers} events by {writers} writers in {elapsed:.2f} s; "
          f"chain intact ({report.summary[:40]}...)")
    return each * writers / elapsed


def commit_latency_ms(samples: int = 200) -> float:
    """One small durable commit, alone: the floor under one append (which commits holding the
    chain lock, so appends cannot be faster than one WAL flush each)."""
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_commit (x int)")
        began = time.perf_counter()
        for _ in range(samples):
            with transaction.atomic():
                cursor.execute("INSERT INTO bench_commit VALUES (1)")
        elapsed = time.perf_counter() - began
        cursor.execute("DROP TABLE bench_commit")
    return elapsed / samples * 1000


def measure_appends_without_fsync(writers: int, total: int) -> float:
    """For comparison only: the same appends with synchronous_commit off (not durable)."""
    from django.db import connection, connections

    with connection.cursor() as cursor:
        cursor.execute(f"ALTER DATABASE {DB_NAME} SET synchronous_commit = off")
    connections.close_all()
    try:
        return measure_appends(writers, total)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER DATABASE {DB_NAME} RESET synchronous_commit")
        connections.close_all()


COLUMNS = ("seq", "occurred_at", "actor_id", "actor_username", "request_id", "action",
           "object_type", "object_id", "model_id", "payload", "event_digest", "chain_hash")


def chain_rows(after_seq: int, previous: str, count: int) -> Iterator[tuple]:
    """``count`` events continuing the chain after (``after_seq``, ``previous``), as COPY rows
    with every digest and link correct (digests computed with the generic
    ``core.audit.event_digest``, not the verifier's fast path)."""
    from core import audit
    from core.models import AuditEvent

    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    actions = ["model.update", "version.create", "token.create", "auth.login", "user.role_grant"]
    event = AuditEvent()
    for seq in range(after_seq + 1, after_seq + count + 1):
        event.seq = seq
        event.occurred_at = base + dt.timedelta(microseconds=seq * 1_000_003)
        event.actor_id = seq % 50 or None
        event.actor_username = f"user{seq % 50}" if event.actor_id else ""
        event.request_id = f"{seq:032x}"
        event.action = actions[seq % len(actions)]
        event.object_type = "registry.registeredmodel"
        event.object_id = str(seq % 1000)
        event.model_id = seq % 1000
        event.payload = {"changes": {"description": {"before": f"v{seq - 1}",
                                                     "after": f"v{seq}"}},
                         "digest": f"{seq:064x}", "size": seq * 7}
        digest = audit.event_digest(audit.event_fields(event))
        previous = audit.link(previous, digest)
        yield (seq, event.occurred_at, event.actor_id, event.actor_username, event.request_id,
               event.action, event.object_type, event.object_id, event.model_id,
               json.dumps(event.payload), digest, previous)


def _copy(cursor: Any, rows: Iterable[tuple]) -> None:
    with cursor.copy(f"COPY core_auditevent ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def guard_cost_us(rounds: int = 5, count: int = 20000) -> float:
    """Microseconds the insert guard adds to one append, measured inside the server: the same
    ``count`` precomputed events are copied in, with the trigger enabled and then disabled, each
    in a transaction rolled back afterwards; the median over ``rounds`` of the per-row
    difference. One COPY per measurement keeps client round trips and the WAL flush, which vary
    with the machine's load far more than the guard costs, out of the figure."""
    from django.db import connection, transaction

    from core import audit

    head, previous = audit.chain_head()
    rows = list(chain_rows(head, previous, count))
    differences = []

    def timed(*, guarded: bool) -> float:
        with connection.cursor() as cursor:
            # The rolled-back rows of the previous round are dead index entries above the head,
            # which the guard's head lookup would step over; clear them so that both runs start
            # from the same table.
            cursor.execute("VACUUM core_auditevent")
        with transaction.atomic(), connection.cursor() as cursor:
            if not guarded:  # undone by the rollback, like the rows
                cursor.execute("ALTER TABLE core_auditevent DISABLE TRIGGER "
                               "audit_require_next_link")
            began = time.perf_counter()
            _copy(cursor, rows)
            elapsed = time.perf_counter() - began
            transaction.set_rollback(True)
        return elapsed / count

    for _ in range(rounds):
        differences.append(timed(guarded=True) - timed(guarded=False))
    cost = statistics.median(differences) * 1e6
    print(f"insert guard: +{cost:.1f} us per event inside the server (median of {rounds} "
          f"rounds of {count} rows with and without it; spread {min(differences) * 1e6:.1f}.."
          f"{max(differences) * 1e6:.1f} us)")
    return cost


def bulk_load(total: int) -> None:
    """Extend the chain to ``total`` events with COPY, through the insert guard."""
    from django.db import connection

    from core import audit

    head, previous = audit.chain_head()
    began = time.perf_counter()
    with connection.cursor() as cursor:
        _copy(cursor, chain_rows(head, previous, total - head))
        cursor.execute("ANALYZE core_auditevent")
    print(f"bulk load: chain extended to {total} events in {time.perf_counter() - began:.1f} s")


def measure_verify(total: int) -> float:
    from core import audit

    began = time.perf_counter()
    report = audit.verify_chain()
    elapsed = time.perf_counter() - began
    if not report.ok or report.checked != total:
        raise SystemExit(f"verification failed: {report.summary}")
    print(f"verify: {report.checked} events in {elapsed:.2f} s ({report.summary[:60]}...)")
    return elapsed


def main() -> None:
    global DB_NAME  # every helper works on the one benchmark database: --db-name sets it
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Keep the benchmark database.")
    parser.add_argument("--db-name", default=DB_NAME,
                        help="The database to create, use and drop (letters, digits, _).")
    args = parser.parse_args()
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", args.db_name):
        parser.error("--db-name takes lowercase letters, digits and underscores only")
    DB_NAME = args.db_name
    server = _server_url()
    _recreate_database(server)
    try:
        _setup_django(server)
        latency = commit_latency_ms()
        appends_per_s = measure_appends(args.writers, args.appends)
        unsynced = measure_appends_without_fsync(args.writers, args.appends)
        print(f"one durable commit takes {latency:.2f} ms here (ceiling ~{1000 / latency:.0f} "
              f"appends/s); with synchronous_commit=off (not durable, comparison only): "
              f"{unsynced:.0f} appends/s")
        guard_us = guard_cost_us()
        bulk_load(args.events)
        verify_s = measure_verify(args.events)
        scale = 1_000_000 / args.events
        from django.db import connections

        connections.close_all()
    finally:
        if not args.keep:
            _drop_database(server)
    print(f"appends_per_s={appends_per_s:.0f} verify_1m_s={verify_s * scale:.2f} "
          f"guard_us={guard_us:.0f}")


if __name__ == "__main__":
    main()
