"""Standalone verifier for an Assay evidence pack: ``python -m core.verify_pack PACK.zip``
(docs/audit-export.md, "Evidence pack").

Like ``core/verify_bundle.py``, which it imports, it needs only the Python standard library and
``cryptography``, and no Django: an examiner copies the two files into a folder named ``core``
and runs it there.

A pack is a zip holding ``manifest.json`` and the files it lists (format ``assay-evidence-pack/1``):
``{"format", "created_at", "exported_by", "model": {"id", "slug", "name"}, "audit_bundle": PATH,
"contents_sha256", "versions": [{"number", "artifact_sha256", "artifact": {"path", "keyid"} |
null, "approval": {"path", "keyid"} | null, "validation_report": PATH | null, "runs": [{"run",
"metadata", "results", "results_digest"}], ...}], "attachments": [...], "files": [{"path",
"sha256", "size"}]}``.

Checks, each failure named with the file it concerns:

1. every file the manifest lists is in the zip with that SHA-256 and size, and the zip holds
   nothing else;
2. the audit bundle verifies exactly as ``python -m core.verify_bundle`` checks it (chain,
   signed checkpoints, scope), with the keys pinned by ``--trust`` when given;
3. ``contents_sha256`` is the digest of the manifest's file list without the audit bundle
   (``contents_digest``), and the audit bundle holds the ``reports.evidence_pack`` event that
   recorded that digest when the pack was made (so a file changed together with its manifest
   line is still caught: the signed chain disagrees);
4. each version's artifact signature and approval attestation verify against the bundle's keys
   of their purpose (not revoked; pinned by ``--trust`` when given) for the version's artifact,
   and the attestation's ``documents.validation_report.sha256`` is the digest of the validation
   report in the pack; for a version with no artifact (``artifact_sha256`` empty, ``subjects``:
   ``[{"name", "sha256", "path" | null}]``), each subject of its attestation is a file in the
   pack with the SHA-256 the attestation signs (one Assay does not hold is noted);
5. each evaluation run's results file has the SHA-256 its run states (``results_digest``).

Exit status: 0 verified; 1 rejected; 2 the command line was wrong; 3 verified only with the keys
inside the pack while ``--require-trust`` asked for a pinned key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from core.verify_bundle import (
    EXIT_NOT_PINNED,
    EXIT_REJECTED,
    EXIT_VERIFIED,
    EnvelopeError,
    canonical_bytes,
    load_public_key,
    no_artifact_subjects,
    print_verdict,
    verify_lines,
    verify_signature_bundle,
)

PACK_FORMAT = "assay-evidence-pack/1"
MANIFEST = "manifest.json"
PACK_EVENT = "reports.evidence_pack"
MAX_REASONS = 40


def contents_digest(files: list[dict[str, Any]]) -> str:
    """SHA-256 (hex) of the canonical JSON of a file list (each ``{"path", "sha256", "size"}``),
    sorted by path: what the ``reports.evidence_pack`` audit event records."""
    listing = sorted(({"path": f["path"], "sha256": f["sha256"], "size": f["size"]}
                      for f in files), key=lambda f: str(f["path"]))
    return hashlib.sha256(canonical_bytes(listing)).hexdigest()


@dataclass
class PackVerdict:
    """The outcome: ``ok`` unless a reason was recorded."""

    pinned: bool
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    attestations: int = 0
    signatures: int = 0
    runs: int = 0
    subjects: int = 0
    model: str = ""

    @property
    def ok(self) -> bool:
        return not self.reasons

    def fail(self, reason: str) -> None:
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    def summary(self) -> str:
        if not self.ok:
            return f"REJECTED evidence pack of {self.model or 'an unknown model'}: " \
                   f"{len(self.reasons)} problem(s)"
        keys = "the keys you pinned with --trust" if self.pinned else \
            "the keys inside the pack \N{EM DASH} pin the published keys with --trust"
        return (f"VERIFIED evidence pack of {self.model}: {self.files} files match the "
                f"manifest, the audit bundle verifies, {self.attestations} approval "
                f"attestation(s) and {self.signatures} artifact signature(s) verify and match "
                f"the archived reports, {self.runs} evaluation result(s) match their digests"
                + (f", {self.subjects} file(s) approved without an artifact match the "
                   f"attestations' subjects" if self.subjects else "")
                + f"; with {keys}")


def _sha256(pack: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with pack.open(name) as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _bundle_lines(pack: zipfile.ZipFile, name: str) -> Iterator[str]:
    with pack.open(name) as handle:
        for raw in handle:
            yield raw.decode("utf-8")


def _bundle_facts(pack: zipfile.ZipFile, name: str, trusted: set[str] | None
                  ) -> tuple[dict[str, dict[str, ec.EllipticCurvePublicKey]], list[str]]:
    """The bundle's usable keys by purpose, and the contents digests its pack events recorded."""
    keys: dict[str, dict[str, ec.EllipticCurvePublicKey]] = {"artifact": {}, "approval": {}}
    recorded: list[str] = []
    for line in _bundle_lines(pack, name):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # the bundle's own check names it
        if not isinstance(record, dict):
            continue
        if record.get("kind") == "key" and record.get("purpose") in keys \
                and not record.get("revoked_at") \
                and (trusted is None or record.get("keyid") in trusted):
            try:
                public_key = load_public_key(str(record.get("public_key_pem")))
            except (EnvelopeError, ValueError):
                continue
            keys[record["purpose"]][str(record.get("keyid"))] = public_key
        event = record.get("event") if record.get("kind") == "event" else None
        if isinstance(event, dict) and event.get("action") == PACK_EVENT \
                and isinstance(event.get("payload"), dict):
            recorded.append(str(event["payload"].get("contents_sha256")))
    return keys, recorded


def _check_files(verdict: PackVerdict, pack: zipfile.ZipFile,
                 manifest: dict[str, Any]) -> dict[str, str]:
    """Every listed file against its digest; returns path -> actual SHA-256."""
    listed = manifest.get("files")
    if not isinstance(listed, list):
        verdict.fail("the manifest has no file list")
        return {}
    names = set(pack.namelist()) - {MANIFEST}
    actual: dict[str, str] = {}
    for item in listed:
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str):
            verdict.fail("a manifest entry has no path")
            continue
        if path not in names:
            verdict.fail(f"{path}: listed in the manifest but missing from the pack")
            continue
        digest, size = _sha256(pack, path)
        actual[path] = digest
        verdict.files += 1
        if digest != item.get("sha256"):
            verdict.fail(f"{path}: its SHA-256 is {digest}, the manifest says "
                         f"{item.get('sha256')} (the file was changed)")
        elif size != item.get("size"):
            verdict.fail(f"{path}: {size} bytes, the manifest says {item.get('size')}")
    for extra in sorted(names - set(actual) - {i.get("path") for i in listed
                                              if isinstance(i, dict)}):
        verdict.fail(f"{extra}: in the pack but not in the manifest (a file was added)")
    return actual


def _check_contents(verdict: PackVerdict, manifest: dict[str, Any], recorded: list[str]) -> None:
    files = [f for f in manifest.get("files", []) if isinstance(f, dict)
             and f.get("path") != manifest.get("audit_bundle")]
    try:
        digest = contents_digest(files)
    except (KeyError, ValueError, TypeError):
        verdict.fail("the manifest's file list is malformed")
        return
    if digest != manifest.get("contents_sha256"):
        verdict.fail(f"manifest.json: its file list hashes to {digest[:16]}, but it states "
                     f"contents_sha256 {str(manifest.get('contents_sha256'))[:16]} (the manifest "
                     f"was edited)")
    if digest not in recorded:
        verdict.fail(f"manifest.json: its file list ({digest[:16]}) is not the one the audit "
                     f"trail recorded when the pack was made ("
                     f"{', '.join(r[:16] for r in recorded) or 'no reports.evidence_pack event'})"
                     f" \N{EM DASH} files or manifest lines were changed, added or removed")


def _check_version(verdict: PackVerdict, pack: zipfile.ZipFile, version: dict[str, Any],
                   keys: dict[str, dict[str, ec.EllipticCurvePublicKey]],
                   actual: dict[str, str]) -> None:
    label = f"version {version.get('number')}"
    artifact_sha256 = str(version.get("artifact_sha256"))
    for kind in ("artifact", "approval"):
        about = version.get(kind)
        if not isinstance(about, dict):
            continue
        path = str(about.get("path"))
        if path not in actual:
            continue  # named already: missing from the pack
        try:
            with pack.open(path) as handle:
                bundle = json.load(handle)
            statement, _keyid = verify_signature_bundle(bundle, keys[kind], artifact_sha256)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            verdict.fail(f"{path} ({label}): not JSON ({exc})")
            continue
        except EnvelopeError as exc:
            verdict.fail(f"{path} ({label}): the {kind} signature does not verify: {exc}")
            continue
        if kind == "artifact":
            verdict.signatures += 1
            continue
        verdict.attestations += 1
        if not artifact_sha256:
            _check_subjects(verdict, path, label, statement, version, actual)
        documents = statement.get("predicate", {}).get("documents") or {}
        signed_report = (documents.get("validation_report") or {}).get("sha256")
        report_path = version.get("validation_report")
        if signed_report is None:
            verdict.notes.append(f"{path} ({label}) names no validation report (approved before "
                                 f"reports were archived)")
        elif not isinstance(report_path, str) or report_path not in actual:
            verdict.fail(f"{path} ({label}): the attestation signs validation report "
                         f"{signed_report[:16]}, which is not in the pack")
        elif actual[report_path] != signed_report:
            verdict.fail(f"{report_path} ({label}): its SHA-256 is {actual[report_path][:16]}, "
                         f"but the approval attestation signs {signed_report[:16]} (not the "
                         f"report archived at approval)")
    for run in version.get("runs") or []:
        results = run.get("results") if isinstance(run, dict) else None
        if not isinstance(results, str) or results not in actual:
            continue
        verdict.runs += 1
        if actual[results] != run.get("results_digest"):
            verdict.fail(f"{results} ({label}, run {run.get('run')}): its SHA-256 is "
                         f"{actual[results][:16]}, the run's results digest is "
                         f"{str(run.get('results_digest'))[:16]}")


def _check_subjects(verdict: PackVerdict, path: str, label: str, statement: dict[str, Any],
                    version: dict[str, Any], actual: dict[str, str]) -> None:
    """The approval attestation of a version with no artifact: each of its subjects (the files
    its approval was decided on) has, in the pack, a file with the signed SHA-256."""
    listed = {item.get("name"): item.get("path") for item in version.get("subjects") or []
              if isinstance(item, dict)}
    for name, digest in no_artifact_subjects(statement):
        file = listed.get(name)
        if not isinstance(file, str):
            verdict.notes.append(f"{path} ({label}): its subject {name} is not in the pack")
        elif file not in actual:
            verdict.fail(f"{path} ({label}): its subject {name} should be {file}, which is not "
                         f"in the pack")
        elif actual[file] != digest:
            verdict.fail(f"{file} ({label}): its SHA-256 is {actual[file][:16]}, but the approval "
                         f"attestation signs {digest[:16]} for {name} (not the file the approval "
                         f"was decided on)")
        else:
            verdict.subjects += 1


def verify_pack(path: str, *, trusted: set[str] | None = None) -> PackVerdict:
    """Verify the evidence pack at ``path`` (see the module docstring for what is checked)."""
    verdict = PackVerdict(pinned=trusted is not None)
    try:
        pack = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        verdict.fail(f"cannot read {path} as a zip file: {exc}")
        return verdict
    with pack:
        try:
            with pack.open(MANIFEST) as handle:
                manifest = json.load(handle)
        except KeyError:
            verdict.fail(f"the pack has no {MANIFEST}")
            return verdict
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            verdict.fail(f"{MANIFEST} is not JSON ({exc})")
            return verdict
        if not isinstance(manifest, dict) or manifest.get("format") != PACK_FORMAT:
            verdict.fail(f"{MANIFEST}: unknown format; this verifier reads {PACK_FORMAT}")
            return verdict
        verdict.model = str((manifest.get("model") or {}).get("slug", ""))
        actual = _check_files(verdict, pack, manifest)
        bundle = manifest.get("audit_bundle")
        if not isinstance(bundle, str) or bundle not in actual:
            verdict.fail("the pack has no audit bundle")
            return verdict
        audit = verify_lines(_bundle_lines(pack, bundle), trusted=trusted)
        for reason in audit.reasons:
            verdict.fail(f"{bundle}: {reason}")
        verdict.notes += [f"{bundle}: {note}" for note in audit.notes]
        keys, recorded = _bundle_facts(pack, bundle, trusted)
        _check_contents(verdict, manifest, recorded)
        for version in manifest.get("versions") or []:
            if isinstance(version, dict):
                _check_version(verdict, pack, version, keys, actual)
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.verify_pack",
        description="Verify offline, without trusting the server, an Assay evidence pack: its "
                    "files against the manifest, the audit bundle, the signatures and "
                    "attestations, and the archived reports they sign.",
        epilog=f"Exit status: {EXIT_VERIFIED} verified, {EXIT_REJECTED} rejected, 2 wrong "
               f"command line, {EXIT_NOT_PINNED} verified only with the keys inside the pack "
               f"while --require-trust asked for a pinned key.")
    parser.add_argument("pack", help="the evidence pack (.zip) downloaded from Assay")
    parser.add_argument("--trust", action="append", metavar="KEYID",
                        help="accept checkpoints, signatures and attestations only from this "
                             "key id (repeatable): the ids Assay published")
    parser.add_argument("--require-trust", action="store_true",
                        help=f"exit with status {EXIT_NOT_PINNED} unless a key is pinned")
    args = parser.parse_args(argv)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    verdict = verify_pack(args.pack, trusted=set(args.trust) if args.trust else None)
    return print_verdict(verdict, require_trust=args.require_trust)

if __name__ == "__main__":
    sys.exit(main())
