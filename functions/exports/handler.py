"""The exports function: exports of query results to S3 (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("exports")
