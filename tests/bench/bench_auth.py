"""Authorizer bench: its cold import beside `import boto3`, and what verifying one Bearer token costs warm.

PyJWT and cryptography are imported on the Bearer path only, so the cold import is shown both
without them (an ApiKey request) and with them (the first Bearer request of a container).
"""

from __future__ import annotations

import os
import time

from common import cold_import_ms, count_requests

N = 300


def import_ratio() -> None:
    boto3_ms = cold_import_ms("import boto3")
    authorizer_ms = cold_import_ms("import runpy; runpy.run_path('functions/authorizer/handler.py')")
    bearer_ms = cold_import_ms(
        "import runpy; runpy.run_path('functions/authorizer/handler.py'); import jwt, jwt.algorithms"
    )
    print(f"cold import: authorizer {authorizer_ms:.0f} ms, with the Bearer path (PyJWT + cryptography) "
          f"{bearer_ms:.0f} ms, boto3 {boto3_ms:.0f} ms; ratios {authorizer_ms / boto3_ms:.2f} and "
          f"{bearer_ms / boto3_ms:.2f} (goal <= 2.0)")


def warm_verification() -> None:
    from moto import mock_aws

    with mock_aws():
        import boto3

        from watershed.store.tables import TABLES

        for model in TABLES.values():
            model.create_table(wait=True)
        arn = boto3.client("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
        os.environ["SIGNING_KEY_ARNS"] = arn
        from watershed.admin import create_org
        from watershed.services import oauth, tokens

        org = create_org("bench").org_id
        client, secret = oauth.create_client(org, {"name": "bench", "grants": ["client_credentials"]})
        issued = [oauth.token({"grant_type": "client_credentials", "client_id": client["id"],
                               "client_secret": str(secret)}, None).access_token for _ in range(N)]
        tokens.verify_bearer(issued[0])
        with count_requests() as calls:
            started = time.perf_counter()
            for token in issued:
                tokens.verify_bearer(token)
            elapsed = time.perf_counter() - started
        import jwt

        key = tokens.published_keys.key(jwt.get_unverified_header(issued[0])["kid"])
        started = time.perf_counter()
        for token in issued:
            jwt.decode(token, key, algorithms=["ES256"], audience=tokens.audience(), issuer=tokens.issuer())
        crypto = time.perf_counter() - started
    print(f"warm Bearer verification: {elapsed / N * 1000:.2f} ms per token on moto "
          f"({crypto / N * 1000:.2f} ms of it the ES256 signature and claims), "
          f"{sum(calls.values()) / N:.1f} AWS requests per token {dict(calls)} (the client look-up; "
          f"API Gateway then caches the decision for 60 s)")


if __name__ == "__main__":
    import_ratio()
    warm_verification()
