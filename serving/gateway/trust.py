"""The gateway's trusted public keys: a JSON file on the gateway's own host, not the database.

Whoever can write the database could otherwise add a key and sign an artifact with it. The file
is written by ``manage.py gateway_trust_export`` (the artifact and approval keys not revoked) and
copied to the gateway's host by the operator; the database can still take trust away (a key
revoked there is refused at once), never add it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from core.models import KeyPurpose, SigningKey
from core.verify_bundle import EnvelopeError, keyid_of, load_public_key

PURPOSES = (KeyPurpose.ARTIFACT, KeyPurpose.APPROVAL)


class TrustFileError(ValueError):
    """The trusted-keys file is missing or unreadable; the message says how to fix it."""


@dataclass(frozen=True)
class TrustedKeys:
    """Public keys by purpose and key id, and the file's identity (to notice a replaced file)."""

    by_purpose: dict[str, dict[str, ec.EllipticCurvePublicKey]] = field(default_factory=dict)
    stamp: tuple[float, int] = (0.0, 0)

    def of(self, purpose: str) -> dict[str, ec.EllipticCurvePublicKey]:
        return self.by_purpose.get(purpose, {})


def export(path: Path) -> int:
    """Write the public keys of the artifact and approval purposes that are not revoked to
    ``path`` (written to a temporary file and renamed). Returns how many keys were written."""
    keys = SigningKey.objects.filter(purpose__in=PURPOSES, revoked_at__isnull=True).order_by(
        "purpose", "created_at")
    document = {
        "exported_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "keys": [{"keyid": key.keyid, "purpose": key.purpose, "public_key_pem": key.public_key_pem}
                 for key in keys],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, path)
    return len(document["keys"])


def file_stamp(path: Path) -> tuple[float, int]:
    try:
        stat = path.stat()
    except OSError:
        return (0.0, 0)
    return (stat.st_mtime, stat.st_ino)


def load(path: Path) -> TrustedKeys:
    """Read the trusted keys. A key whose id does not match its public key is left out."""
    try:
        document = json.loads(path.read_text())
        entries = document["keys"]
        if not isinstance(entries, list):
            raise TypeError("keys is not a list")
    except FileNotFoundError:
        raise TrustFileError(f"The gateway's trusted-keys file {path} does not exist; write it "
                             "with manage.py gateway_trust_export.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrustFileError(f"The gateway's trusted-keys file {path} cannot be read ({exc}); "
                             "write it again with manage.py gateway_trust_export.") from None
    by_purpose: dict[str, dict[str, ec.EllipticCurvePublicKey]] = {p: {} for p in PURPOSES}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("purpose") not in by_purpose:
            continue
        try:
            public_key = load_public_key(str(entry.get("public_key_pem", "")))
        except EnvelopeError:
            continue
        if keyid_of(public_key) == entry.get("keyid"):
            by_purpose[entry["purpose"]][entry["keyid"]] = public_key
    return TrustedKeys(by_purpose=by_purpose, stamp=file_stamp(path))
