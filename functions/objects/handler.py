"""The objects function: object-stream uploads and downloads (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("objects")
