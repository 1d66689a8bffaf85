"""The model folder's OpenSSF Model Signing signature (the `model-signing` package, certificate mode).

`samdkit sign` signs the model folder (`models/model`) with the key and certificate that sign the PDFs
and writes the Sigstore bundle next to it (`models/model.sig`); the release manifest lists it. Offline:
certificate mode needs no Sigstore, no transparency log, no network. `samdkit verify` checks the bundle
with the auditor's trust (samdkit.release.trust), re-hashes the folder through `model-signing`, and compares the
per-file SHA-256 the signature covers with model.lock's `artifact.files`.

model-signing 1.x signs with elliptic-curve keys only (P-256, P-384, P-521). A release key of another
type (RSA) gets no model signature: sign says so and the model files stay covered by the signed
manifest; verify reports the absence as a warning. docs/model-lock.md relates the two digests.

model_signing and cryptography are imported inside functions (they take seconds to import).
"""

from __future__ import annotations

import base64
import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samdkit.core.errors import UserError
from samdkit.core.findings import Finding
from samdkit.core.project import Project
from samdkit.release import keys

CHECK = "model-signature"
SUFFIX = ".sig"
CURVES = ("secp256r1", "secp384r1", "secp521r1")  # what model-signing 1.x accepts
MISSING = "the model-signing package is not installed (pip install 'samdkit[sign]')"


@dataclass
class ModelSignature:
    """A bundle made in memory by sign, written only after every check passed."""

    path: Path  # where it goes (models/model.sig)
    data: bytes
    files: int


def signature_path(model: Path) -> Path:
    """`models/model` → `models/model.sig`: beside the folder, so it never hashes itself."""
    return model.with_name(model.name + SUFFIX)


def model_path(project: Project) -> Path | None:
    try:
        return project.path("model")
    except KeyError:
        return None


def planned(project: Project, release_files: list[str]) -> Path | None:
    """Where sign writes the model signature, or None when the release holds no model folder."""
    model = model_path(project)
    if model is None or not model.exists():
        return None
    rel = model.relative_to(project.root).as_posix()
    if not any(f == rel or f.startswith(rel + "/") for f in release_files):
        return None
    return signature_path(model)


def skip_reason(target: Path, material: keys.SigningMaterial) -> str | None:
    """Why this release gets no model signature (None: it gets one). The model files stay covered
    by the signed manifest either way."""
    return unsupported_key(material) or _linked_folder(
        target.with_name(target.name[: -len(SUFFIX)])
    )


def _linked_folder(model: Path) -> str | None:
    """model-signing silently leaves out a folder reached through a symbolic link (samdkit lock
    refuses one); a signature that covers less than the folder is not written."""
    import os

    for current, dirs, _ in os.walk(model):
        for name in sorted(dirs):
            if (Path(current) / name).is_symlink():
                rel = (Path(current) / name).relative_to(model).as_posix()
                return (
                    f"{rel} in the model folder is a symbolic link to a folder, which model-signing "
                    "does not follow; the model files stay covered by the signed manifest"
                )
    return None


def unsupported_key(material: keys.SigningMaterial) -> str | None:
    """Why model-signing cannot sign with this key (None when it can)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = material.key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in CURVES:
        return None
    kind = key.curve.name if isinstance(key, ec.EllipticCurvePrivateKey) else type(key).__name__
    return (
        f"model-signing 1.x signs with EC P-256/P-384/P-521 keys only, this key is {kind}; "
        "the model files stay covered by the signed manifest"
    )


def _pem_cert(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return cert.public_bytes(Encoding.PEM)


def sign(project: Project, target: Path, material: keys.SigningMaterial) -> ModelSignature:
    """Sign the model folder in memory (certificate mode) and check it against model.lock.

    The key touches the disk only in keys.secure_tempdir() (0700, removed on exit)."""
    from cryptography.hazmat.primitives import serialization

    try:
        from model_signing import hashing, signing
    except ImportError:
        raise UserError(f"cannot sign the model folder: {MISSING}") from None
    model = target.with_name(target.name.removesuffix(SUFFIX))
    rel = model.relative_to(project.root).as_posix()
    with keys.secure_tempdir() as folder:
        key = keys.write_secret(
            folder / "key.pem",
            material.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        cert = keys.write_secret(folder / "cert.pem", _pem_cert(material.cert))
        # model-signing needs a non-empty chain file; a self-signed certificate is its own chain
        chain = keys.write_secret(
            folder / "chain.pem", b"".join(_pem_cert(c) for c in material.chain or [material.cert])
        )
        out = folder / target.name
        try:
            # symbolic links to files (a DVC cache link) are followed: sign checked they stay inside
            hashing_config = _hashing_config(hashing)
            signing.Config().set_hashing_config(hashing_config).use_certificate_signer(
                private_key=key, signing_certificate=cert, certificate_chain=[chain]
            ).sign(model, out)
        except ValueError as exc:  # e.g. a symbolic link inside the folder
            raise UserError(f"{rel}: model-signing cannot sign it ({_one_line(exc)})") from None
        data = out.read_bytes()
    covered = resources(data)
    _refuse_unlocked(project, rel, covered)
    return ModelSignature(target, data, len(covered))


def _hashing_config(hashing: Any) -> Any:
    """Every file of the folder, .git* included (model-signing leaves out .git/, .github/,
    .gitattributes and .gitignore by default: a file planted under such a name went unsigned)."""
    return (
        hashing.Config()
        .set_ignored_paths(paths=[], ignore_git_paths=False)
        .set_allow_symlinks(True)
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


# ---------------------------------------------------------------- reading a bundle


def _bundle(data: bytes) -> dict[str, Any]:
    bundle = json.loads(data)
    if not isinstance(bundle, dict):
        raise ValueError("not a Sigstore bundle")
    return bundle


def resources(data: bytes) -> dict[str, str]:
    """Per-file SHA-256 the signature covers (name relative to the model folder → hex digest)."""
    try:
        envelope = _bundle(data)["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        found = {}
        for item in statement["predicate"]["resources"]:
            if item.get("algorithm") != "sha256":
                raise ValueError(f"resource digest algorithm {item.get('algorithm')!r}")
            name = str(item["name"])
            if name in found:  # a dict would keep only the last digest
                raise ValueError(f"resource {name!r} listed twice")
            found[name] = str(item["digest"]).lower()
        return found
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not a model-signing bundle ({_one_line(exc)})") from None


def signing_certificate(data: bytes) -> Any:
    """The signer's certificate (cryptography object), first in the bundle's certificate chain."""
    from cryptography import x509

    try:
        chain = _bundle(data)["verificationMaterial"]["x509CertificateChain"]["certificates"]
        return x509.load_der_x509_certificate(base64.b64decode(chain[0]["rawBytes"]))
    except (KeyError, IndexError, TypeError, ValueError):
        raise ValueError("no signing certificate (not signed in certificate mode)") from None


# ---------------------------------------------------------------- model.lock


def _lock_files(project: Project) -> dict[str, str] | str:
    """model.lock's per-file SHA-256 (path → hex), or why it cannot be read."""
    from samdkit.lock import schema as lockfile

    try:
        lock = lockfile.read(project.path("model_lock"))
    except (UserError, KeyError) as exc:
        return str(exc)
    return {f["path"]: f["sha256"].lower() for f in lock["artifact"]["files"]}


def lock_differences(locked: dict[str, str], covered: dict[str, str]) -> list[str]:
    """Each way the signature's per-file digests differ from model.lock's, one short line each."""
    problems = []
    for name in sorted(set(locked) | set(covered)):
        if name not in covered:
            problems.append(f"model.lock locks {name}, the model signature does not cover it")
        elif name not in locked:
            problems.append(f"the model signature covers {name}, which model.lock does not lock")
        elif locked[name] != covered[name]:
            problems.append(
                f"{name}: the model signature says sha256 {covered[name][:16]}…, "
                f"model.lock says {locked[name][:16]}…"
            )
    return problems


def _refuse_unlocked(project: Project, rel: str, covered: dict[str, str]) -> None:
    """Sign refuses a model folder that is not the locked one (verify would fail the release)."""
    locked = _lock_files(project)
    if isinstance(locked, str):
        return  # verify reports a lock it cannot read; judging the lock is verify-lock's job
    problems = lock_differences(locked, covered)
    if problems:
        raise UserError(
            f"{rel}: the model folder is not the one model.lock locks ({problems[0]}"
            f"{f'; and {len(problems) - 1} more' if len(problems) > 1 else ''}); "
            "restore the locked model or re-run samdkit lock"
        )


# ---------------------------------------------------------------- verify


@contextlib.contextmanager
def _anchors(policy: Any, leaf: Any) -> Iterator[tuple[Path, bool]]:
    """A PEM file of the certificates model-signing chains to, and whether a partial chain is fine:
    the auditor's roots, else the pinned (or, without trust, the embedded) signer certificate."""
    from asn1crypto import pem

    with tempfile.TemporaryDirectory(prefix="samdkit-model-trust-") as folder:
        path = Path(folder) / "anchors.pem"
        if policy.roots:
            path.write_bytes(b"".join(pem.armor("CERTIFICATE", r.dump()) for r in policy.roots))
            yield path, False
        else:
            path.write_bytes(_pem_cert(leaf))
            yield path, True


def _verify_with_model_signing(model: Path, sig: Path, anchors: Path, partial: bool) -> None:
    """model-signing's own check: the chain, the DSSE signature, and every file of the folder."""
    from model_signing import hashing, verifying
    from OpenSSL import crypto

    config = verifying.Config().use_certificate_verifier(certificate_chain=[anchors])
    # as signed: links to files followed (model-signing's guessed configuration would refuse them)
    config.set_hashing_config(_hashing_config(hashing))
    store = getattr(getattr(config, "_verifier", None), "_store", None)
    if partial and store is not None:  # a pinned leaf issued by a CA is its own trust anchor
        store.set_flags(crypto.X509StoreFlags.PARTIAL_CHAIN)
    config.verify(model, sig)


def _failure(exc: BaseException, model: Path, covered: dict[str, str]) -> str:
    """One line saying why model-signing refused: a changed file is named by its path."""
    from cryptography.exceptions import InvalidSignature
    from OpenSSL import crypto

    from samdkit.core import digests

    if isinstance(exc, crypto.X509StoreContextError):
        return f"the signer's certificate does not chain to the trust anchors ({_one_line(exc)})"
    if isinstance(exc, InvalidSignature):
        return "the signature does not match its content (edited after signing?)"
    try:
        current = {f.path: f.sha256 for f in digests.tree_digests(model)}
    except OSError:
        current = {}
    for name, digest in sorted(covered.items()):
        if name not in current:
            return f"{name}: signed, missing from the model folder now"
        if current[name] != digest:
            return f"{name}: modified after signing (sha256 {current[name][:16]}…, signed {digest[:16]}…)"
    extra = sorted(set(current) - set(covered))
    if extra:
        return f"{extra[0]}: in the model folder, not covered by the signature"
    return f"model-signing refused it: {_one_line(exc)}"


def check(
    project: Project, manifest: dict[str, Any], policy: Any, manifest_signer: str | None,
    findings: list[Finding],
) -> None:  # fmt: skip
    """Judge models/model.sig: present and manifested, intact, by an authenticated signer (the
    manifest's), every file of the folder as signed, and the same per-file digests as model.lock."""
    model = model_path(project)
    if model is None:
        return
    sig = signature_path(model)
    rel = sig.relative_to(project.root).as_posix()
    if rel not in manifest.get("files", {}):
        if sig.exists():
            findings.append(
                Finding(CHECK, "present but not named in the signed manifest", file=rel)
            )
        else:
            findings.append(
                Finding(CHECK, "no OpenSSF model signature in this release", severity="warning")
            )
        return
    if not sig.is_file():
        return  # manifest-file reports it missing
    linked = _linked_folder(model)
    if linked:  # model-signing would not look inside it
        findings.append(Finding(CHECK, linked.split(";")[0] + ", not covered", file=rel))
        return
    try:
        data = sig.read_bytes()
        covered = resources(data)
        leaf = signing_certificate(data)
    except ValueError as exc:
        findings.append(Finding(CHECK, f"unreadable: {exc}", file=rel))
        return
    try:
        with _anchors(policy, leaf) as (anchors, partial):
            _verify_with_model_signing(model, sig, anchors, partial)
    except ImportError:
        findings.append(Finding(CHECK, f"not checked: {MISSING}", file=rel))
        return
    except Exception as exc:
        findings.append(Finding(CHECK, _failure(exc, model, covered), file=rel))
        return
    _judge(project, rel, leaf, covered, policy, manifest_signer, findings)


def _judge(
    project: Project, rel: str, leaf: Any, covered: dict[str, str], policy: Any,
    manifest_signer: str | None, findings: list[Finding],
) -> None:  # fmt: skip
    """After model-signing accepted the bundle: whose it is, and whether it covers model.lock."""
    from asn1crypto import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    from samdkit.release import trust

    signer = trust.identity(x509.Certificate.load(leaf.public_bytes(Encoding.DER)))
    fingerprint = signer["sha256"]
    who = f"{signer['subject']}, certificate sha256 {fingerprint}"  # as the PDF checks print it
    if manifest_signer and fingerprint != manifest_signer:
        findings.append(Finding(CHECK, f"signed by {who}, not by the manifest's signer", file=rel))
        return
    if not policy.given:
        why = "signer not authenticated: no --trust root or --expect-signer fingerprint given"
        findings.append(Finding(CHECK, why, file=rel, detail={"status": "unauthenticated"}))
        return
    if policy.pins and fingerprint not in policy.pins:
        why = "signer not authenticated: certificate fingerprint is not one of the expected signers"
        findings.append(Finding(CHECK, why, file=rel, detail={"status": "unauthenticated"}))
        return
    locked = _lock_files(project)
    if isinstance(locked, str):
        findings.append(
            Finding(CHECK, f"not compared with model.lock: {locked}", file=rel, severity="warning")
        )
    else:
        problems = lock_differences(locked, covered)
        for problem in problems:
            findings.append(Finding(CHECK, problem, file=rel, detail={"status": "lock-mismatch"}))
        if problems:
            return
    same = "" if isinstance(locked, str) else ", the same per-file SHA-256 as model.lock"
    findings.append(
        Finding(
            CHECK,
            f"OpenSSF model signature by {who}: intact, {len(covered)} files as signed{same}",
            file=rel,
            severity="pass",
        )
    )
