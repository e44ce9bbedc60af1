"""The query function: raw and aggregated reads of intervals (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("query")
