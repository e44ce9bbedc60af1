"""The configs function: station configs and MQTT secrets over REST (routes in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("configs")
