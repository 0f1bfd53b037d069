"""Concurrent writers queue on the chain lock: contiguous sequence numbers, one chain."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from core import audit
from core.models import AuditEvent

WRITERS, EACH = 8, 100


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_eight_concurrent_writers_make_one_contiguous_chain(transactional_db):
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                audit.atomic_record(action="test.concurrent", object_type="writer",
                                    object_id=writer, payload={"writer": writer, "i": i})
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, WRITERS * EACH + 1))
    for writer in range(WRITERS):  # each writer's events are in its own order
        mine = AuditEvent.objects.filter(object_id=str(writer)).order_by("seq")
        assert [e.payload["i"] for e in mine] == list(range(EACH))
    report = audit.verify_chain(chunk_size=97)
    assert report.ok, report.summary
    assert report.checked == WRITERS * EACH
