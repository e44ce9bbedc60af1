"""The iTwin IoT JSON-RPC 2.0 function: anonymous $connect, `authenticate` in-band (docs/protocols/itwin_jsonrpc.md)."""

from watershed.api.websocket import websocket_handler

lambda_handler = websocket_handler("itwin_rpc", in_band=True)
