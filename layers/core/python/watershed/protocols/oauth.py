"""OAuth 2.0 on the wire: the token endpoint (form or JSON bodies, RFC 6749 errors), the sign-in and
consent page of the authorization endpoint, the JWKS and RFC 8414 metadata.

Only translation here; services.oauth decides. A facade (ORing's `/oring/v4/oauth/*`) can route
its paths to these same operations.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from urllib.parse import parse_qs, unquote

from watershed.api.request import Reply, Request
from watershed.errors import Unauthorized, ValidationError, WatershedError
from watershed.services import oauth, tokens

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "Content-Type": "text/html; charset=utf-8",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def error_reply(error: WatershedError) -> Reply:
    """RFC 6749 §5.2: `{"error", "error_description"}`; invalid_client answers 401 with a challenge."""
    if isinstance(error, oauth.OAuthError):
        code = error.error
    elif isinstance(error, Unauthorized):
        code = "invalid_client"
    elif error.status < 500:
        code = "invalid_request"
    else:
        code = "server_error"
    status = oauth.OAuthError.STATUS.get(code, 400) if isinstance(error, oauth.OAuthError | Unauthorized) \
        else error.status
    headers = dict(NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="watershed"'
    return Reply(status, {"error": code, "error_description": error.message}, headers)


def _params(request: Request) -> dict[str, str]:
    """Parameters of a form-urlencoded or JSON body (each once), or of the query for a GET."""
    content_type = request.headers.get("content-type", "").lower()
    if request.body.strip() and "application/json" in content_type:
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise oauth.OAuthError("invalid_request", "the body is not valid JSON") from None
        if not isinstance(body, dict) or not all(isinstance(v, str | int) for v in body.values()):
            raise oauth.OAuthError("invalid_request", "the body must be an object of string parameters")
        return {str(k): str(v) for k, v in body.items()}
    if request.body.strip():
        try:
            fields = parse_qs(request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                              max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise oauth.OAuthError("invalid_request", "the body is not a valid form") from None
        repeated = [name for name, values in fields.items() if len(values) > 1]
        if repeated:
            raise oauth.OAuthError("invalid_request", f"parameter {repeated[0]} is repeated")
        return {name: values[0] for name, values in fields.items()}
    return {}


def _basic(request: Request) -> tuple[str, str] | None:
    """client_secret_basic: RFC 6749 §2.3.1 form-encodes id and secret before Base64."""
    header = request.headers.get("authorization", "")
    word, _, credential = header.strip().partition(" ")
    if word.lower() != "basic" or not credential:
        return None
    try:
        decoded = base64.b64decode(credential.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise oauth.OAuthError("invalid_client", "the Basic credential is not valid") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise oauth.OAuthError("invalid_client", "the Basic credential is not valid")
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def token(request: Request) -> Reply:
    """`POST /oauth2/token`."""
    response = oauth.token(_params(request), _basic(request))
    return Reply(200, response.body(), dict(NO_STORE))


def jwks(request: Request) -> Reply:
    return Reply(200, tokens.jwks(), {"Cache-Control": "public, max-age=300"})


def metadata(request: Request) -> Reply:
    return Reply(200, oauth.metadata(), {"Cache-Control": "public, max-age=300"})


# the authorization endpoint's page


def _page(status: int, title: str, body: str) -> Reply:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:26rem;margin:3rem auto;"
        "padding:0 1rem}label,input,button{display:block;margin:.4rem 0;width:100%}button{padding:.5rem}"
        ".error{color:#a00}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Reply(status, headers=dict(PAGE_HEADERS), raw=document.encode())


def _sign_in_form(request: oauth.AuthorizationRequest, message: str | None = None) -> Reply:
    client = request.client
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in request.scopes)
    error = f"<p class=error role=alert>{html.escape(message)}</p>" if message else ""
    body = (
        f"{error}<p><strong>{html.escape(client['name'])}</strong> asks to use Watershed on your behalf with:</p>"
        f"<ul>{scopes}</ul>"
        "<form method=post action=authorize>"
        f"<input type=hidden name=request value='{html.escape(request.signed(), quote=True)}'>"
        "<label for=username>User name</label>"
        "<input id=username name=username autocomplete=username required>"
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<button name=decision value=allow type=submit>Sign in and allow</button>"
        "<button name=decision value=deny type=submit formnovalidate>Deny</button>"
        "</form>"
    )
    return _page(401 if message else 200, "Sign in to Watershed", body)


def _found(location: str) -> Reply:
    return Reply(302, headers={**NO_STORE, "Location": location, "Content-Type": "text/plain"}, raw=b"")


def authorize_page(request: Request) -> Reply:
    """`GET /oauth2/authorize`: the sign-in and consent page, or an error for the user or the client."""
    try:
        authorization = oauth.authorization_request(dict(request.query))
    except oauth.RedirectError as back:
        return _found(back.location)
    except oauth.AuthorizeError as error:
        return _page(400, "Cannot sign in", f"<p class=error>{html.escape(error.message)}</p>")
    return _sign_in_form(authorization)


def authorize_submit(request: Request) -> Reply:
    """`POST /oauth2/authorize`: the form's answer; a redirect to the client, or the form again."""
    try:
        params = _params(request)
        authorization = oauth.resume(params.get("request", ""))
    except (oauth.AuthorizeError, oauth.OAuthError, ValidationError) as error:
        return _page(400, "Cannot sign in", f"<p class=error>{html.escape(error.message)}</p>")
    try:
        location = oauth.approve(authorization, params.get("username", ""), params.get("password", ""),
                                 params.get("decision") == "allow")
    except Unauthorized as error:
        return _sign_in_form(authorization, error.message)
    return _found(location)

