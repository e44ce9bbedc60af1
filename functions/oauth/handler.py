"""The OAuth 2.0 server: token and authorization endpoints, JWKS, metadata (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("oauth")
