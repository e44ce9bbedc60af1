"""Signing access tokens with the platform's KMS key; only the oauth function may call kms:Sign.

The key never leaves KMS: PyJWT builds the JWS and a registered algorithm hands the signing input
to KMS (ECDSA_SHA_256) and turns its DER signature into JOSE's raw r||s form. `SIGNING_KEY_ARNS`
lists the key generations (the last is the active one). A key is published to the catalog (its
public JWK) before its first token; when another key becomes active, the others are marked
retired and stay in the JWKS until every token they signed has expired.
"""

from __future__ import annotations

import json
import os
import threading
from functools import cache
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from jwt.algorithms import ECAlgorithm
from jwt.utils import der_to_raw_signature

from watershed.errors import Unavailable
from watershed.services.tokens import ALGORITHM, TOKEN_TYPE
from watershed.store import oauth as store
from watershed.timefmt import now_ms


@cache
def _kms() -> Any:
    import boto3

    return boto3.client("kms")


class _KmsES256(ECAlgorithm):
    """ES256 whose private key is a KMS key id: PyJWT encodes, KMS signs."""

    def __init__(self) -> None:
        super().__init__(ECAlgorithm.SHA256)

    def prepare_key(self, key: Any) -> Any:
        return key

    def check_key_length(self, key: Any) -> str | None:
        return None

    def sign(self, msg: bytes, key: Any) -> bytes:
        der = _kms().sign(KeyId=key, Message=msg, MessageType="RAW", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        return der_to_raw_signature(der, ec.SECP256R1())


_jws = jwt.PyJWS(algorithms=[])
_jws.register_algorithm(ALGORITHM, _KmsES256())
_published: set[str] = set()
_lock = threading.Lock()


def key_arns() -> list[str]:
    return [arn for arn in os.environ.get("SIGNING_KEY_ARNS", "").split(",") if arn]


def kid_of(arn: str) -> str:
    """The KMS key id (the last part of its ARN) names the key in the JWKS."""
    return arn.rsplit("/", 1)[-1]


def active_key() -> tuple[str, str]:
    """(KMS key ARN, kid) of the key new tokens are signed with."""
    arns = key_arns()
    if not arns:
        raise Unavailable("no signing key is configured (SIGNING_KEY_ARNS)")
    return arns[-1], kid_of(arns[-1])


def _publish(arn: str, kid: str) -> None:
    """Make sure verifiers can find the active key's public half, and retire the others."""
    with _lock:
        if kid in _published:
            return
        if store.get_signing_key(kid) is None:
            der = _kms().get_public_key(KeyId=arn)["PublicKey"]
            public = load_der_public_key(der)
            if not isinstance(public, ec.EllipticCurvePublicKey):
                raise Unavailable(f"signing key {kid} is not an elliptic-curve key")
            jwk = json.loads(ECAlgorithm.to_jwk(public))
            jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
            store.put_signing_key(kid, {"kid": kid, "jwk": jwk, "created": now_ms(), "retired": None})
        for doc in store.signing_keys():
            if doc["kid"] != kid and doc.get("retired") is None:
                store.put_signing_key(doc["kid"], {**doc, "retired": now_ms()})
        _published.add(kid)


def sign(claims: dict[str, Any]) -> str:
    """An access token (`typ: at+jwt`) carrying `claims`, signed by the active key."""
    arn, kid = active_key()
    _publish(arn, kid)
    payload = json.dumps(claims, separators=(",", ":")).encode()
    return _jws.encode(payload, arn, algorithm=ALGORITHM, headers={"typ": TOKEN_TYPE, "kid": kid})
