"""Aggregates in the native API: `GET /v1/streams/{id}/intervals?period=...` and `POST /v1/query`.

A page is `{"data": [{"timestamp", <fn>: value...}], "fromRaw": [bucket starts computed from raw
intervals], "source": {"level", "rollupItems", "rawItems"}, "paging"}`; docs/aggregates.md has
the details. The query itself is services.aggregates; this module only shapes the answer.
"""

from __future__ import annotations

from typing import Any

from watershed.api.request import Reply, Request
from watershed.model import Stream
from watershed.services import aggregates
from watershed.timefmt import format_time
from watershed.validation import obj


def rows_out(series: aggregates.Series) -> list[dict[str, Any]]:
    return [{"timestamp": format_time(start), **values} for start, values in series.rows()]


def pull(request: Request, stream: Stream) -> Reply:
    """One page of one stream's aggregates."""
    answer = aggregates.one(stream, request.query)
    only = answer.series[0]
    token = answer.cursor
    return Reply(200, {
        "data": rows_out(only),
        "fromRaw": [format_time(start) for start in only.from_raw()],
        "period": answer.spec.period.name,
        "timeZone": only.zone.key,
        "source": answer.source(),
        "paging": {"afterCursor": token, "nextLink": request.link_with(cursor=token) if token else None},
    })


def query_many(request: Request) -> Reply:
    """Aggregates of several streams: series in request order, `limit` rows per page in all."""
    body = obj(request.json(), aggregates.QUERY_FIELDS, ("streams", "period"))
    answer = aggregates.many(request.principal, body)
    return Reply(200, {
        "data": [{"stream": s.stream.id, "timeZone": s.zone.key, "data": rows_out(s),
                  "fromRaw": [format_time(start) for start in s.from_raw()]} for s in answer.series],
        "period": answer.spec.period.name,
        "source": answer.source(),
        "paging": {"afterCursor": answer.cursor, "nextLink": None},
    })
