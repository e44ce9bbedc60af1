"""The catalog function: pools, stations, streams and API keys of the native API (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("catalog")
