"""A large run fanned out to several workers: its chunks as a Celery chord on RabbitMQ.

A run (binary, multiclass or regression) whose data set is larger than ``EVALUATION_FAN_OUT_ABOVE_BYTES`` (and
a result backend is configured: a chord needs one to know when its chunks are all done) goes:

* ``run_fan_out`` (the run's own task): claims the run as usual, reads the label and sensitive
  columns (``chunked.prepare``), and sends a chord — one ``evaluation.evaluate_chunk`` task per
  chunk, then ``evaluation.merge_chunks``. Any worker consuming the evaluations queue, on any
  machine, takes chunks.
* ``chunk_execute`` (one chunk, on any worker): reads only its rows, scores and sums them, and
  stores the sums as a ``RunChunk`` row — one per (run, attempt, stage, chunk), so a chunk
  delivered twice stores nothing the second time. The run's progress counts the stored chunks
  and each chunk renews the run's lease. A chunk whose rows the model cannot take fails the run
  with the chunk's number and the reason.
* ``merge_execute`` (the chord's body): merges the stored chunks; after the first stage it
  writes the merged sums once and sends the second stage's chord (when calibration or
  performance intervals need it), after the last it finishes the results exactly as
  ``chunked.evaluate_chunked`` does in one process and records them with ``run_complete``.
  Fired early (a chunk delivered twice can complete the chord's count before another chunk is
  stored), it finds chunks missing and is retried until they are there.

Only the run's current attempt counts: a chunk or merge of an attempt the reaper has since
replaced (its lease ran out) stops without writing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from celery import chord, current_app
from django.conf import settings

from core.errors import DomainError
from evaluation import chunked, chunked_part2, services
from evaluation.engine import EngineError
from evaluation.metrics.scoring import inference_session
from evaluation.models import Run, RunChunk, RunStatus
from evaluation.tables import read_table
from registry import storage

CHUNK_TASK = "evaluation.evaluate_chunk"
MERGE_TASK = "evaluation.merge_chunks"


class ChunksMissing(Exception):
    """The chord's body ran before every chunk was stored: try again shortly."""


def fans_out(run: Run) -> bool:
    """Whether the run's chunks go to several workers (else one worker evaluates it). Runs with
    explanations or the mitigation what-if take one pass (services)."""
    backend = str(current_app.conf.result_backend or "")
    return (bool(backend) and chunked_part2.chunkable(run.checks)
            and backend != "disabled"
            and run.dataset.size > settings.EVALUATION_FAN_OUT_ABOVE_BYTES)


def chunk_count(plan: chunked.Plan) -> int:
    return math.ceil(plan.rows / plan.chunk_rows)


def _edges_json(edges: chunked.Sums | None) -> dict[str, list[float]] | None:
    return None if edges is None else {k: v.tolist() for k, v in edges.items()}


def _edges_arrays(edges: dict[str, list[float]] | None) -> chunked.Sums | None:
    return None if edges is None else {k: np.asarray(v, dtype=np.float64)
                                       for k, v in edges.items()}


def _send_stage(run_id: int, attempt: int, plan: chunked.Plan, stage: int,
                edges: dict[str, list[float]] | None) -> None:
    data = plan.as_dict()
    header = [current_app.signature(CHUNK_TASK, args=[run_id, attempt, data, stage, i, edges])
              for i in range(chunk_count(plan))]
    body = current_app.signature(MERGE_TASK, args=[run_id, attempt, data, stage, edges],
                                 immutable=True)
    chord(header)(body)


def run_fan_out(*, run_id: int, task_id: str, worker: str) -> str:
    """The run's task when it fans out: claim, prepare, send the first stage's chord."""
    run = services.run_claim(run_id=run_id, task_id=task_id, worker=worker)
    if run is None:
        return "nothing to do"
    try:
        with services._Progress(run) as progress:
            progress(2, "Reading the labels and sensitive features")
            version, reference = run.version, run.reference
            reference_frame = None
            if reference is not None and "drift" in run.checks:
                with storage.open_stored(reference.sha256) as ref:
                    reference_frame = read_table(ref, reference.file_format)
            with storage.open_stored(version.artifact_sha256) as f:
                model_bytes = f.read()
            with storage.open_stored(run.dataset.sha256) as data:
                plan = chunked.prepare(
                    source=data, file_format=run.dataset.file_format,
                    task=run.version.model.task, label_column=run.dataset.label_column,
                    favourable_class=run.favourable_class, threshold=run.threshold,
                    checks=run.checks, sensitive_features=run.dataset.sensitive_features,
                    options=run.options, chunk_rows=settings.EVALUATION_CHUNK_ROWS,
                    model_bytes=model_bytes, input_specs=version.input_schema,
                    reference=reference_frame,
                    monotone=version.monotone_features if "robustness" in run.checks else None)
            progress(5, f"{chunk_count(plan)} chunks sent to the workers")
    except services.RunStopped:
        return "stopped"
    except services.INPUT_ERRORS as exc:
        services.run_fail(run.pk, attempt=run.attempts, error=str(exc) or type(exc).__name__)
        return "failed"
    _send_stage(run.pk, run.attempts, plan, 1, None)
    return "fanned out"


def _current(run_id: int, attempt: int) -> Run | None:
    return (Run.objects.select_related("version__model", "dataset")
            .filter(pk=run_id, status=RunStatus.RUNNING, attempts=attempt).first())


def chunk_execute(*, run_id: int, attempt: int, plan: dict[str, Any], stage: int, index: int,
                  edges: dict[str, list[float]] | None, worker: str = "") -> str:
    """Evaluate one chunk of one stage and store its sums (once)."""
    run = _current(run_id, attempt)
    if run is None:
        return "stopped"
    stored = RunChunk.objects.filter(run=run, attempt=attempt, stage=stage)
    if stored.filter(index=index).exists():
        return "done already"
    the_plan = chunked.Plan.from_dict(plan)
    chunks = chunk_count(the_plan)
    total = chunks * (2 if the_plan.needs_second_stage else 1)
    version, dataset = run.version, run.dataset
    try:
        with services._Progress(run) as progress:
            with storage.open_stored(version.artifact_sha256) as f:
                session = inference_session(f.read(), threads=1)
            with storage.open_stored(dataset.sha256) as data:
                frame = chunked.read_chunk(data, dataset.file_format, the_plan.chunk_rows,
                                           index)
            if frame.empty:
                raise EngineError("The data set has fewer rows than when the run was planned.")
            sums = chunked.chunk_sums(the_plan, session, version.input_schema, frame,
                                      index * the_plan.chunk_rows, stage,
                                      _edges_arrays(edges))
            RunChunk.objects.bulk_create(
                [RunChunk(run=run, attempt=attempt, stage=stage, index=index,
                          sums=chunked.sums_to_bytes(sums), worker=worker[:200])],
                ignore_conflicts=True)
            done = RunChunk.objects.filter(run=run, attempt=attempt, index__gte=0).count()
            progress(5 + 85 * done // total, f"Chunk {done} of {total} evaluated")
    except services.RunStopped:
        return "stopped"
    except services.INPUT_ERRORS as exc:
        RunChunk.objects.filter(run=run).delete()
        services.run_fail(run.pk, attempt=attempt,
                          error=f"Chunk {index + 1} of {chunks} (rows "
                                f"{index * the_plan.chunk_rows + 1} to "
                                f"{min((index + 1) * the_plan.chunk_rows, the_plan.rows)}): "
                                f"{str(exc) or type(exc).__name__}")
        return "failed"
    return "done"


def _merged(run: Run, attempt: int, stage: int, chunks: int) -> chunked.Sums:
    rows = RunChunk.objects.filter(run=run, attempt=attempt, stage=stage, index__gte=0)
    if rows.count() < chunks:
        raise ChunksMissing(f"{rows.count()} of {chunks} chunks stored")
    merged: chunked.Sums = {}
    for row in rows.order_by("index").iterator(chunk_size=1):
        sums = chunked.sums_from_bytes(bytes(row.sums))
        merged = chunked.merge_sums([merged, sums]) if merged else sums
    return merged


def merge_execute(*, run_id: int, attempt: int, plan: dict[str, Any], stage: int,
                  edges: dict[str, list[float]] | None) -> str:
    """The chord's body: merge a stage's chunks; send the next stage or record the run."""
    run = _current(run_id, attempt)
    if run is None:
        return "stopped"
    the_plan = chunked.Plan.from_dict(plan)
    merged = _merged(run, attempt, stage, chunk_count(the_plan))
    if stage == 1 and the_plan.needs_second_stage:
        _, created = RunChunk.objects.get_or_create(
            run=run, attempt=attempt, stage=1, index=-1,
            defaults={"sums": chunked.sums_to_bytes(merged)})
        if created:  # a second firing of the body sends nothing
            _send_stage(run.pk, attempt, the_plan, 2,
                        _edges_json(chunked.second_stage(the_plan, merged)))
        return "second stage"
    if stage == 1:
        first, second = merged, {}
    else:
        first = chunked.sums_from_bytes(bytes(RunChunk.objects.get(
            run=run, attempt=attempt, stage=1, index=-1).sums))
        second = merged
    try:
        outcome = chunked.finish(the_plan, first, second, _edges_arrays(edges),
                                 inputs={"artifact_digest": run.artifact_digest,
                                         "dataset_digests": run.dataset_digests})
        done = services.run_complete(run_id=run.pk, attempt=attempt, outcome=outcome)
    except services.INPUT_ERRORS as exc:
        services.run_fail(run.pk, attempt=attempt, error=str(exc) or type(exc).__name__)
        return "failed"
    except DomainError as exc:
        services.run_fail(run.pk, attempt=attempt, error=exc.message)
        return "failed"
    RunChunk.objects.filter(run=run).delete()
    return "succeeded" if done else "stopped"
