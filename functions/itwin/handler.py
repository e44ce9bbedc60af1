"""The itwin function: the iTwin IoT REST facade's routes (in watershed.api.routes)."""

from watershed.api.http import http_handler

lambda_handler = http_handler("itwin")
