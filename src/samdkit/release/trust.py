"""Whom `samdkit verify` believes: trust supplied by the auditor, never by the project under audit.

Two sources, usable together:

- trust roots: PEM/DER certificates (`--trust FILE`, or `SAMDKIT_TRUST`, paths separated by the OS path
  separator); a signer is authenticated when its certificate chains to one of them (pyHanko's certificate
  validator, offline: no fetching, revocation soft-fail);
- pinned signers: SHA-256 fingerprints of signer certificates (DER), 64 hex digits, colons allowed
  (`--expect-signer FP`, or `SAMDKIT_EXPECT_SIGNER`, separated by commas or spaces); a signer is
  authenticated when its certificate's fingerprint is pinned and the signing time lies in its validity.

When both are given, a signer must satisfy both. With neither, no signer is authenticated and verify
cannot pass. Trust settings inside the audited project (`[tool.samdkit.verify] trust`) are never used.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samdkit.core import digests
from samdkit.core.errors import UserError

ENV_TRUST = "SAMDKIT_TRUST"
ENV_EXPECT = "SAMDKIT_EXPECT_SIGNER"
FINGERPRINT = re.compile(r"[0-9a-f]{64}")


@dataclass
class TrustPolicy:
    """The auditor's trust: root certificates (asn1crypto) and pinned SHA-256 fingerprints (hex)."""

    roots: list[Any] = field(default_factory=list)
    pins: set[str] = field(default_factory=set)
    sources: list[str] = field(default_factory=list)

    @property
    def given(self) -> bool:
        return bool(self.roots or self.pins)

    def validation_context(self) -> Any:
        """pyHanko's context: exactly these roots (never the OS list), offline."""
        from pyhanko_certvalidator import ValidationContext

        return ValidationContext(
            trust_roots=list(self.roots), allow_fetching=False, revocation_mode="soft-fail"
        )


def fingerprint(cert: Any) -> str:
    """SHA-256 of the certificate's DER encoding, lowercase hex (what `openssl x509 -fingerprint
    -sha256` prints, without colons)."""
    return digests.bytes_sha256(cert.dump())


def subject(cert: Any) -> str:
    """The certificate's subject as a reader would write it (RFC 4514 order, comma-separated)."""
    try:
        return cert.subject.human_friendly
    except Exception:
        return "unreadable subject"


def common_name(cert: Any) -> str:
    try:
        return str(cert.subject.native.get("common_name") or subject(cert))
    except Exception:
        return "unreadable subject"


def identity(cert: Any) -> dict[str, str]:
    """What verify prints of a signer: common name, full subject, issuer and fingerprint."""
    if cert is None:
        return {"common_name": "unknown", "subject": "unknown", "issuer": "", "sha256": ""}
    try:
        issuer = cert.issuer.human_friendly
    except Exception:
        issuer = "unreadable issuer"
    return {
        "common_name": common_name(cert),
        "subject": subject(cert),
        "issuer": issuer,
        "sha256": fingerprint(cert),
    }


def normalise_fingerprint(text: str, where: str) -> str:
    # openssl x509 -fingerprint -sha256 prints "sha256 Fingerprint=AB:CD:..."
    value = re.sub(r"[\s:]", "", text.rsplit("=", 1)[-1]).lower().removeprefix("sha256")
    if not FINGERPRINT.fullmatch(value):
        raise UserError(f"{where}: not a SHA-256 certificate fingerprint (64 hex digits expected)")
    return value


def _certificates(path: Path, where: str) -> list[Any]:
    from asn1crypto import pem, x509

    if not path.is_file():
        raise UserError(f"{where} {path}: file not found")
    data = path.read_bytes()
    try:
        if pem.detect(data):
            certs = [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True)]
        else:
            certs = [x509.Certificate.load(data)]
        for cert in certs:
            _ = cert.subject.human_friendly, cert.dump()  # force a full parse
    except Exception:
        raise UserError(f"{where} {path}: not a PEM or DER certificate file") from None
    if not certs:
        raise UserError(f"{where} {path}: no certificate in the file")
    return certs


def load_policy(
    trust: list[Path], expect: list[str], environ: dict[str, str] | None = None
) -> TrustPolicy:
    """The auditor's trust from the command line and the environment (both count)."""
    environ = os.environ if environ is None else environ
    policy = TrustPolicy()
    paths = [(p, "--trust") for p in trust]
    paths += [(Path(p), ENV_TRUST) for p in environ.get(ENV_TRUST, "").split(os.pathsep) if p]
    for path, where in paths:
        policy.roots.extend(_certificates(path, where))
        policy.sources.append(f"{where} {path}")
    pins = [(p, "--expect-signer") for p in expect]
    pins += [(p, ENV_EXPECT) for p in re.split(r"[,\s]+", environ.get(ENV_EXPECT, "")) if p]
    for text, where in pins:
        policy.pins.add(normalise_fingerprint(text, where))
        policy.sources.append(where)
    return policy


def _within_validity(cert: Any, when: dt.datetime | None) -> bool:
    if when is None:
        return True
    validity = cert["tbs_certificate"]["validity"]
    return validity["not_before"].native <= when <= validity["not_after"].native


def authenticate(policy: TrustPolicy, status: Any) -> tuple[bool, str]:
    """(authenticated, why) for an intact signature's pyHanko status, under the auditor's policy."""
    cert = status.signing_cert
    if cert is None:
        return False, "no signer certificate"
    if not policy.given:
        return (
            False,
            "signer not authenticated: no --trust root or --expect-signer fingerprint given",
        )
    reasons = []
    if policy.pins:
        when = getattr(status, "signer_reported_dt", None)
        if fingerprint(cert) not in policy.pins:
            reasons.append("certificate fingerprint is not one of the expected signers")
        elif not _within_validity(cert, when):
            reasons.append("signed outside the pinned certificate's validity period")
    if policy.roots and not status.trusted:
        reasons.append("certificate does not chain to the trust roots")
    if reasons:
        return False, "signer not authenticated: " + "; ".join(reasons)
    return True, "authenticated (" + ", ".join(_how(policy)) + ")"


def _how(policy: TrustPolicy) -> list[str]:
    how = []
    if policy.pins:
        how.append("pinned fingerprint")
    if policy.roots:
        how.append("chains to a trust root")
    return how
