"""The serving gateway under load, against the same model served three other ways.

Run:  .venv/bin/python bench/gateway.py          (BENCH_SECONDS=20 by default, per configuration)

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
assay_gateway_bench — dropped and created again), Redis (REDIS_URL, default
redis://127.0.0.1:6379/0) and, for MLflow, a separate environment (not a project dependency):

    uv venv /tmp/gateway-mlflow --python 3.11
    VIRTUAL_ENV=/tmp/gateway-mlflow uv pip install "mlflow>=3.17,<3.18" onnxruntime onnx

(BENCH_MLFLOW_PYTHON points elsewhere; without it MLflow is skipped and said so).

Setup: a fresh database with the German-credit demo model (``load_demo``), its version approved
and signed (the bench records the intake, marks the version approved and signs it with
``approval_sign``, as the last sign-off would; the governance walk itself is the tests' subject),
deployed on endpoint ``credit`` with an application key, the trust file exported. Then, on
loopback, with ``/work/shared/tools/load.py`` (run from there, not copied; override with
BENCH_LOAD) at concurrency 1 and 8 and batches of 1 and 100 rows:

* **gateway**: ``gunicorn -c serving/gateway/gunicorn.conf.py serving.gateway.wsgi`` (2 workers),
  every check on, the request log off (its lines would go to the bench's pipe), the prediction
  log sampling 1% of requests;
* **bare**: ``bench/gateway_bare.py``, the same onnxruntime session in a WSGI app doing nothing
  else, under the same gunicorn configuration;
* **mlflow**: ``mlflow models serve --env-manager local -w 2`` of the same ONNX file (ONNX flavor,
  tensor input — its DataFrame input feeds shape [N] where the model takes [N, 1]);
* **in-process**: ``session.run`` on a prepared feed in this process (no HTTP), for scale.

Prints each configuration's req/s, p50/p95/p99 and errors and ends with
``rps_vs_bare=X rps_vs_mlflow=Y p50_vs_bare=Z errors=N``: the gateway's req/s over bare's and
over MLflow's at concurrency 8, batch 1; its p50 over bare's at concurrency 1, batch 1; N the
gateway's failed requests over all its configurations. Targets: X >= 0.5, Y >= 3, Z <= 2, N = 0.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL",
                              "postgres://postgres@127.0.0.1:5432/assay_gateway_bench")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
LOAD = os.environ.get("BENCH_LOAD", "/work/shared/tools/load.py")
MLFLOW_PYTHON = os.environ.get("BENCH_MLFLOW_PYTHON", "/tmp/gateway-mlflow/bin/python")
DATA = Path(os.environ.get("BENCH_DATA_DIR", tempfile.mkdtemp(prefix="assay-gateway-bench-")))
PORTS = {"gateway": 5081, "bare": 5082, "mlflow": 5083}
SHAPES = [(1, 1), (8, 1), (1, 100), (8, 100)]  # (concurrency, rows per request)

ENV = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base",
       "DATABASE_URL": DATABASE_URL, "ASSAY_DATA_DIR": str(DATA), "REDIS_URL": REDIS_URL,
       "ASSAY_GATEWAY_REQUEST_LOG": "false", "ASSAY_GATEWAY_LOG_SAMPLE_RATE": "0.01",
       "ASSAY_LOG_LEVEL": "WARNING"}


def manage(*args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)


def setup() -> dict[str, Any]:
    """A fresh database with the demo model approved, signed, deployed; returns the key, the
    model file and request bodies."""
    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin_url, "-qc", f"DROP DATABASE IF EXISTS {name}", "-c",
                    f"CREATE DATABASE {name}"], check=True, stderr=subprocess.DEVNULL)
    manage("migrate", "--no-input")
    manage("load_policy_templates")
    manage("load_demo")
    for name in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "ASSAY_DATA_DIR"):
        os.environ[name] = ENV[name]
    import django
    django.setup()
    from django.db import transaction

    from core.audit import SYSTEM
    from core.models import User
    from governance import services
    from governance.services.signatures import approval_sign
    from registry import storage
    from registry.demo.train_german_credit import DATA_PATH
    from registry.models import ModelVersion, VersionState
    from serving import appkeys
    from serving.gateway import trust
    from serving.models import Endpoint

    version = ModelVersion.objects.select_related("model").get()
    dana, adam = User.objects.get(username="dana"), User.objects.get(username="adam")
    services.intake_record(actor=dana, model=version.model, is_model=True, answers={
        "exposure": "medium", "impact": "medium", "regulatory_use": "no", "automation": "medium",
        "complexity": "medium", "data_sensitivity": "medium"}, rationale="Benchmark.")
    with transaction.atomic():
        ModelVersion.objects.filter(pk=version.pk).update(state=VersionState.APPROVED)
        version.refresh_from_db()
        approval_sign(version=version, actor=SYSTEM, occasion="approve")
    assert version.is_servable(), version.signature_problems()
    endpoint = Endpoint.objects.create(slug="credit", primary_version=version, created_by=adam)
    _key, key = appkeys.appkey_create(actor=adam, name="bench", endpoints=[endpoint],
                                      rate_limit=100_000)
    trust.export(DATA / "gateway-trusted-keys.json")
    model_path = DATA / "model.onnx"
    model_path.write_bytes(storage.path_for(version.artifact_sha256).read_bytes())

    import pandas as pd
    frame = pd.read_csv(DATA_PATH)
    names = [spec["name"] for spec in version.input_schema]
    rows = [{n: (v.item() if hasattr(v, "item") else v) for n, v in zip(names, row, strict=True)}
            for row in frame[names].head(100).itertuples(index=False)]
    bodies = {}
    for size in (1, 100):
        records = rows[:size]
        for kind, document in (("records", {"records": records}),
                               ("mlflow", {"inputs": {n: [[r[n]] for r in records]
                                                      for n in names}})):
            path = DATA / f"body_{kind}_{size}.json"
            path.write_text(json.dumps(document))
            bodies[(kind, size)] = path
    return {"key": key, "model": model_path, "bodies": bodies, "names": names,
            "records": rows}


def start(argv: list[str], port: int, *, env: dict[str, str], probe: str,
          probe_body: bytes | None = None, headers: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    log = open(DATA / f"server_{port}.log", "wb")  # noqa: SIM115  (closed with the process)
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}{probe}", data=probe_body,
                                             headers=headers or {})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return proc
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} died: {(DATA / f'server_{port}.log').read_text()[-2000:]}")
        time.sleep(0.5)
    stop(proc)
    raise RuntimeError(f"server on {port} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def load(url: str, body: Path, concurrency: int, pid: int, headers: list[str]) -> dict[str, Any]:
    argv = [sys.executable, LOAD, "--url", url, "--body", str(body), "-c", str(concurrency),
            "-d", str(SECONDS), "--warmup", "2", "--pids", str(pid), "--max-error-ratio", "1"]
    for header in headers:
        argv += ["-H", header]
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    return json.loads(out.stdout)


def in_process(model: Path, records: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    from serving.gateway.loading import session_options
    session = ort.InferenceSession(str(model), session_options(),
                                   providers=["CPUExecutionProvider"])
    dtypes = {"tensor(string)": object, "tensor(int64)": np.int64, "tensor(float)": np.float32,
              "tensor(double)": np.float64}
    types = {i.name: dtypes[i.type] for i in session.get_inputs()}
    out = {}
    for size in (1, 100):
        feed = {n: np.array([[r[n]] for r in records[:size]], dtype=types[n]) for n in names}
        times = []
        deadline = time.monotonic() + min(SECONDS, 5)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            session.run(None, feed)
            times.append(time.perf_counter() - started)
        times.sort()
        out[size] = {"rps": round(len(times) / sum(times), 1),
                     "p50": round(times[len(times) // 2] * 1000, 3)}
    return out


def main() -> int:
    print(f"setting up (data in {DATA}) ...", flush=True)
    ctx = setup()
    gunicorn_conf = str(ROOT / "serving/gateway/gunicorn.conf.py")
    auth = f"Authorization: Bearer {ctx['key']}"
    results: dict[tuple[str, int, int], dict[str, Any]] = {}
    servers = [
        ("gateway", [sys.executable, "-m", "gunicorn", "-c", gunicorn_conf,
                     "serving.gateway.wsgi"], "/predict/credit", "records", [auth]),
        ("bare", [sys.executable, "-m", "gunicorn", "-c", gunicorn_conf, "bench.gateway_bare"],
         "/", "records", []),
    ]
    mlflow = Path(MLFLOW_PYTHON)
    if mlflow.exists():
        model_dir = DATA / "mlflow-model"
        shutil.rmtree(model_dir, ignore_errors=True)
        subprocess.run([str(mlflow), "-c", (
            "import sys, onnx, mlflow.onnx; "
            "mlflow.onnx.save_model(onnx.load(sys.argv[1]), sys.argv[2])"),
            str(ctx["model"]), str(model_dir)], check=True, capture_output=True)
        servers.append(("mlflow", [str(mlflow.parent / "mlflow"), "models", "serve", "-m",
                                   str(model_dir), "--env-manager", "local", "-w", "2",
                                   "--host", "127.0.0.1", "-p", str(PORTS["mlflow"])],
                        "/invocations", "mlflow", []))
    else:
        print(f"MLflow skipped: no {mlflow} (see the docstring for the command that makes it)")
    for name, argv, path, body_kind, headers in servers:
        port = PORTS[name]
        env = {**ENV, "GATEWAY_BIND": f"127.0.0.1:{port}", "BARE_MODEL": str(ctx["model"]),
               # mlflow starts uvicorn from its own environment's bin
               "PATH": f"{mlflow.parent}:{ENV.get('PATH', '')}" if name == "mlflow" else
               ENV.get("PATH", ""),
               "ASSAY_GATEWAY_TRUSTED_KEYS": str(DATA / "gateway-trusted-keys.json")}
        probe_body = ctx["bodies"][(body_kind, 1)].read_bytes()
        proc = start(argv, port, env=env, probe=path, probe_body=probe_body,
                     headers={"Content-Type": "application/json",
                              **dict(h.split(": ", 1) for h in headers)})
        try:
            for concurrency, rows in SHAPES:
                result = load(f"http://127.0.0.1:{port}{path}", ctx["bodies"][(body_kind, rows)],
                              concurrency, proc.pid, headers)
                results[(name, concurrency, rows)] = result
                lat = result["latency_ms"]
                print(f"{name:8} c={concurrency} batch={rows:<3} {result['rps']:>8} req/s  "
                      f"p50={lat['p50']} p95={lat['p95']} p99={lat['p99']} ms  "
                      f"errors={result['errors']}"
                      + (f" ({result['first_error']})" if result["errors"] else ""), flush=True)
        finally:
            stop(proc)
    for rows, figures in in_process(ctx["model"], ctx["records"], ctx["names"]).items():
        print(f"in-process batch={rows:<3} {figures['rps']:>8} runs/s  p50={figures['p50']} ms")
    gateway, bare = results[("gateway", 8, 1)], results[("bare", 8, 1)]
    rps_vs_bare = gateway["rps"] / bare["rps"]
    p50_vs_bare = (results[("gateway", 1, 1)]["latency_ms"]["p50"]
                   / results[("bare", 1, 1)]["latency_ms"]["p50"])
    mlflow_result = results.get(("mlflow", 8, 1))
    rps_vs_mlflow = (f"{gateway['rps'] / mlflow_result['rps']:.2f}"
                     if mlflow_result and mlflow_result["rps"] else "n/a")
    errors = sum(r["errors"] for (name, _c, _r), r in results.items() if name == "gateway")
    print(f"rps_vs_bare={rps_vs_bare:.2f} rps_vs_mlflow={rps_vs_mlflow} "
          f"p50_vs_bare={p50_vs_bare:.2f} errors={errors}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
