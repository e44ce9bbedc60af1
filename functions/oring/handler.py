"""The oring function: ORing PaaS v4 REST routes (in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("oring")
