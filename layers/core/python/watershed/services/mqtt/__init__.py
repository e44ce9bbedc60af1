"""MQTT devices, split by concern.

- `authorizer`: station credentials, the IoT custom authorizer and the station policy;
- `events`: what a topic rule hands a function (the base64 payload, the receive time);
- `ingest`: data messages into intervals (valid items are stored, the rest dead-lettered);
- `dead_letters`: what could not be stored, parked in SQS with the reason and a re-drive event;
- `presence`: reported configs and lifecycle (online/offline) events.
"""
