"""``assay``: Assay from a shell, a CI job or an Airflow task.

The address and token come from ``ASSAY_URL`` and ``ASSAY_TOKEN`` (or ``--url`` and
``--token-file``), never from a token on the command line. Results are printed as JSON on
standard output; progress and errors go to standard error.

Exit codes, so a pipeline can gate on them:
  0  done (submitted, approved, the run succeeded, …)
  1  the awaited outcome will not come: the version is rejected, sent back, suspended or
     retired, or the run failed or was cancelled
  2  the command line is wrong
  3  Assay refused the request or could not be reached (its message is printed)
  4  a wait reached its timeout
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from assay_client.client import (
    AssayClient,
    AssayError,
    NotApproved,
    WaitTimeout,
    file_sha256,
    write_download,
)

DONE, NOT_DONE, USAGE, REFUSED, TIMED_OUT = 0, 1, 2, 3, 4


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _client(args: argparse.Namespace) -> AssayClient:
    token = None
    if args.token_file:
        token = Path(args.token_file).read_text().strip()
    return AssayClient(args.url, token)


def _version(client: AssayClient, args: argparse.Namespace) -> dict[str, Any]:
    return client.find_version(args.model, args.version)


def _sensitive(text: str | None) -> list[Any]:
    """--sensitive-features: column names separated by commas, or the API's JSON list."""
    if not text:
        return []
    if text.lstrip().startswith("["):
        try:
            features = json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssayError(f"--sensitive-features is not valid JSON ({exc}).") from exc
        return list(features)
    return [name.strip() for name in text.split(",") if name.strip()]


def cmd_whoami(client: AssayClient, args: argparse.Namespace) -> int:
    _print(client.me())
    return DONE


def cmd_submit(client: AssayClient, args: argparse.Namespace) -> int:
    """A new draft version with its artifact (and evaluation data), submitted for validation."""
    fields = {name: value for name, value in (
        ("changelog", args.changelog),
        ("training_data_description", args.training_data_description),
        ("training_data_sha256", args.training_data_sha256)) if value}
    version = client.create_version(args.model, artifact=args.artifact, **fields)
    _say(f"Created version {version['number']} of '{args.model}' "
         f"(artifact SHA-256 {version['artifact_sha256']}).")
    dataset = None
    if args.dataset:
        dataset = client.upload_dataset(
            args.model, args.dataset, label_column=args.label_column or "",
            sensitive_features=_sensitive(args.sensitive_features), version=version["number"])
        _say(f"Uploaded evaluation data '{dataset['name']}' (SHA-256 {dataset['sha256']}).")
    status = client.submit(version["id"])
    _say(f"Version {version['number']} submitted for validation.")
    _print({"version_id": version["id"], "number": version["number"],
            "artifact_sha256": version["artifact_sha256"],
            "dataset_id": dataset["id"] if dataset else None,
            "state": status.get("state")})
    return DONE


def cmd_evaluate(client: AssayClient, args: argparse.Namespace) -> int:
    """Launch an evaluation run; with --wait, follow it to the end."""
    version = _version(client, args)
    checks = [c.strip() for c in args.checks.split(",") if c.strip()] if args.checks else None
    run = client.launch_run(version["id"], args.dataset_id, checks=checks)
    _say(f"Run {run['id']} queued: {run['page']}")
    if not args.wait:
        _print(run)
        return DONE
    seen: list[tuple[Any, Any]] = []

    def progress(current: dict[str, Any]) -> None:
        now = (current.get("progress"), current.get("step"))
        if not seen or seen[-1] != now:
            seen.append(now)
            _say(f"  {current['status']}: {current.get('progress') or 0}% "
                 f"{current.get('step') or ''}".rstrip())

    run = client.wait_for_run(run["id"], timeout=args.timeout, poll=args.poll,
                              on_progress=progress)
    _print(run)
    if run["status"] != "succeeded":
        _say(f"Run {run['id']} {run['status']}: {run.get('error') or 'see its page'}")
        return NOT_DONE
    return DONE


def cmd_wait_approved(client: AssayClient, args: argparse.Namespace) -> int:
    """Wait until the version is approved: the gate of a deployment pipeline."""
    version = _version(client, args)
    try:
        version = client.wait_for_approval(
            version["id"], timeout=args.timeout, poll=args.poll,
            on_state=lambda state: _say(f"Version {args.version} of '{args.model}': "
                                        f"{state.replace('_', ' ')}"))
    except NotApproved as exc:
        _say(str(exc))
        _print(exc.version)
        return NOT_DONE
    _print(version)
    return DONE


def cmd_evidence_list(client: AssayClient, args: argparse.Namespace) -> int:
    _print(client.evidence(_version(client, args)["id"]))
    return DONE


def cmd_evidence_record(client: AssayClient, args: argparse.Namespace) -> int:
    """Record a pipeline's own test result as external evidence, bound to the digests of the
    artifact and data it read."""
    try:
        figures = json.loads(args.figures) if args.figures else {}
    except json.JSONDecodeError as exc:
        raise AssayError(f"--figures is not JSON ({exc}); give an object such as "
                         "'{\"roc_auc\": 0.81}'.") from exc
    if not isinstance(figures, dict):
        raise AssayError("--figures must be a JSON object such as '{\"roc_auc\": 0.81}'.")
    row = client.record_evidence(
        _version(client, args)["id"], check=args.check, status=args.status, figures=figures,
        result=Path(args.result).read_bytes(), artifact=args.artifact,
        datasets=args.dataset or [], source_url=args.source_url or "")
    _print(row)
    return DONE


def cmd_evidence_download(client: AssayClient, args: argparse.Namespace) -> int:
    """Everything a deployment record should keep: the model card (JSON and Markdown), the
    evidence rows, and for an approved version its signed artifact and approval bundles, with
    a SHA256SUMS file over them."""
    version = _version(client, args)
    out = Path(args.out)
    written = [
        write_download(client.model_card(version["id"], as_="json"), out, "model-card.json"),
        write_download(client.model_card(version["id"], as_="markdown"), out, "README.md"),
    ]
    evidence_file = out / "evidence.json"
    evidence_file.write_text(json.dumps(client.evidence(version["id"]), indent=2))
    written.append(evidence_file)
    signatures = client.signatures(version["id"])
    for kind in sorted({s["kind"] for s in signatures.get("signatures", []) if s["current"]}):
        written.append(write_download(client.signature_bundle(version["id"], kind), out,
                                      f"{kind}.sigstore.json"))
    sums = out / "SHA256SUMS"
    sums.write_text("".join(f"{file_sha256(p)}  {p.name}\n" for p in written))
    _print({"folder": str(out), "files": [p.name for p in written] + [sums.name],
            "servable": signatures.get("servable"),
            "problems": signatures.get("problems", [])})
    return DONE


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="assay", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--url", help="Assay's address (default: $ASSAY_URL).")
    top.add_argument("--token-file", help="A file holding the API token (default: $ASSAY_TOKEN).")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def version_args(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--model", required=True, help="The model's slug.")
        sub.add_argument("--version", required=True, type=int, help="The version's number.")

    def wait_args(sub: argparse.ArgumentParser, poll: float) -> None:
        sub.add_argument("--timeout", type=float, default=3600.0,
                         help="Seconds to wait before giving up (exit 4); default 3600.")
        sub.add_argument("--poll", type=float, default=poll,
                         help=f"Seconds between checks; default {poll:g}.")

    sub = commands.add_parser("whoami", help="Who the token belongs to.")
    sub.set_defaults(run=cmd_whoami)

    sub = commands.add_parser("submit", help="Add a version with its ONNX artifact and submit it "
                                             "for validation.")
    sub.add_argument("--model", required=True, help="The model's slug (registered, intake done).")
    sub.add_argument("--artifact", required=True, help="The ONNX file.")
    sub.add_argument("--changelog", help="What changed in this version.")
    sub.add_argument("--training-data-description")
    sub.add_argument("--training-data-sha256")
    sub.add_argument("--dataset", help="Evaluation data (CSV or Parquet) to upload with it.")
    sub.add_argument("--label-column")
    sub.add_argument("--sensitive-features",
                     help="Comma-separated column names, or the API's JSON list with bins: "
                          "'[{\"column\": \"age\", \"bins\": {\"edges\": [25, 60]}}]'.")
    sub.set_defaults(run=cmd_submit)

    sub = commands.add_parser("evaluate", help="Launch an evaluation run (validators).")
    version_args(sub)
    sub.add_argument("--dataset-id", required=True, type=int)
    sub.add_argument("--checks", help="Comma-separated checks; default: the standard suite.")
    sub.add_argument("--wait", action="store_true", help="Follow the run to its end.")
    wait_args(sub, poll=2.0)
    sub.set_defaults(run=cmd_evaluate)

    sub = commands.add_parser("wait-approved", help="Wait until the version is approved "
                                                    "(exit 0), or will not be (exit 1).")
    version_args(sub)
    wait_args(sub, poll=10.0)
    sub.set_defaults(run=cmd_wait_approved)

    evidence = commands.add_parser("evidence", help="A version's evidence.")
    evidence_commands = evidence.add_subparsers(dest="evidence_command", required=True,
                                                metavar="ACTION")
    sub = evidence_commands.add_parser("list", help="Every evidence row, newest first.")
    version_args(sub)
    sub.set_defaults(run=cmd_evidence_list)
    sub = evidence_commands.add_parser("record", help="Record a pipeline's own test result.")
    version_args(sub)
    sub.add_argument("--check", required=True, help="The check's name, e.g. performance.")
    sub.add_argument("--status", required=True, choices=["passed", "failed", "warn"])
    sub.add_argument("--figures", help="A JSON object of the check's figures.")
    sub.add_argument("--result", required=True, help="The tool's full result file.")
    sub.add_argument("--artifact", required=True, help="The ONNX file the tool evaluated.")
    sub.add_argument("--dataset", action="append", help="A data file the tool read (repeat).")
    sub.add_argument("--source-url", help="A link to the tool's run.")
    sub.set_defaults(run=cmd_evidence_record)
    sub = evidence_commands.add_parser("download", help="Model card, evidence and signed "
                                                        "bundles into a folder.")
    version_args(sub)
    sub.add_argument("--out", required=True, help="The folder to write into.")
    sub.set_defaults(run=cmd_evidence_download)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(_client(args), args))
    except WaitTimeout as exc:
        _say(f"assay: {exc}")
        return TIMED_OUT
    except AssayError as exc:
        _say(f"assay: {exc}")
        return REFUSED
    except OSError as exc:
        _say(f"assay: {exc}")
        return REFUSED


if __name__ == "__main__":
    sys.exit(main())
