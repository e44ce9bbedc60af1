"""The ingest function: pushes and range deletes of intervals (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("ingest")
