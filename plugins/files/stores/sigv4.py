"""AWS Signature Version 4 for S3 requests, over any HTTP client.

Small enough to own (one function) and it keeps the S3 store on the host's pooled ``httpx`` client
instead of pulling in an SDK. Checked against AWS's published S3 example and against botocore's signer in
``tests/plugins/files/test_s3_store.py``.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


def uri_encode(value: str, *, keep_slash: bool) -> str:
    """Percent-encode everything but RFC 3986 unreserved characters (and ``/`` in paths), as SigV4 asks."""
    return quote(value, safe="-_.~/" if keep_slash else "-_.~")


def canonical_query(params: dict[str, str]) -> str:
    pairs = sorted(
        (uri_encode(key, keep_slash=False), uri_encode(value, keep_slash=False))
        for key, value in params.items()
    )
    return "&".join(f"{key}={value}" for key, value in pairs)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sign(
    method: str,
    host: str,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    *,
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    when: datetime,
    service: str = "s3",
    session_token: str | None = None,
) -> dict[str, str]:
    """Return the headers to send: ``headers`` plus ``x-amz-*`` and ``Authorization``.

    :param host: The ``Host`` header value (with the port when it is not the scheme's default).
    :param path: The request path, already percent-encoded exactly as it will be sent.
    :param params: Query parameters (unencoded); sent in the same order as :func:`canonical_query`.
    :param headers: Headers to send and sign (``range``, ``content-type``, ...).
    :param payload_sha256: Hex SHA-256 of the body, or ``UNSIGNED-PAYLOAD``.
    :param when: The signing time, in UTC.
    """
    amz_date = when.strftime("%Y%m%dT%H%M%SZ")
    date = amz_date[:8]
    signed = {key.lower(): " ".join(str(value).split()) for key, value in headers.items()}
    signed["host"] = host
    signed["x-amz-content-sha256"] = payload_sha256
    signed["x-amz-date"] = amz_date
    if session_token:
        signed["x-amz-security-token"] = session_token
    names = sorted(signed)
    canonical_headers = "".join(f"{name}:{signed[name]}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [method, path, canonical_query(params), canonical_headers, signed_headers, payload_sha256]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), "aws4_request")
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    result = {name: value for name, value in signed.items() if name != "host"}
    result["authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"
    )
    return result
