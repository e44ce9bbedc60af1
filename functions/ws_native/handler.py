"""The native WebSocket protocol's function: $connect, $disconnect and JSON frames (docs/websocket.md)."""

from watershed.api.websocket import websocket_handler

lambda_handler = websocket_handler("native_ws")
