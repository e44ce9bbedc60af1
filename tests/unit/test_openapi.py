"""The OpenAPI document is derived from the route table: every /v1 route, nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from watershed.api import openapi
from watershed.api.routes import ROUTES, AuthMode, Route, Scope

METHODS = {"get", "put", "post", "patch", "delete"}


def _operations(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item if method in METHODS}


def test_every_v1_route_is_documented_with_its_method_and_nothing_else() -> None:
    expected = {(r.method, r.path) for r in ROUTES if r.path.startswith("/v1/")}
    assert _operations(openapi.build()) == expected


def test_routes_outside_v1_stay_out_of_the_document() -> None:
    facade = Route("GET", "/bitpool/stations", "catalog", "health", Scope.READ)
    assert ("GET", "/bitpool/stations") not in _operations(openapi.build((*ROUTES, facade)))


def test_path_parameters_match_the_route_path() -> None:
    document = openapi.build()
    for path, item in document["paths"].items():
        for operation in item.values():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), path


def test_public_routes_need_no_credential_and_the_others_an_api_key_or_bearer_token() -> None:
    document = openapi.build()
    scheme = document["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    assert "ApiKey <key>" in scheme["description"]
    bearer = document["components"]["securitySchemes"]["Bearer"]
    assert (bearer["type"], bearer["scheme"], bearer["bearerFormat"]) == ("http", "bearer", "JWT")
    assert document["security"] == [{"ApiKey": []}]
    assert "Bearer <access token>" in scheme["description"]
    for route in ROUTES:
        if not route.path.startswith("/v1/"):
            continue
        operation = document["paths"][route.path][route.method.lower()]
        if route.auth is AuthMode.NONE:
            assert operation["security"] == [], route.path
        else:
            assert "security" not in operation and {"401", "403"} <= set(operation["responses"]), route.path


def test_errors_and_lists_use_the_shared_shapes() -> None:
    document = openapi.build()
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "message", "field"}
    list_pools = document["paths"]["/v1/pools"]["get"]["responses"]
    assert list_pools["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    envelope = list_pools["200"]["content"]["application/json"]["schema"]
    assert set(envelope["properties"]) == {"data", "paging"}
    assert set(document["components"]["schemas"]["Paging"]["properties"]) == {
        "afterCursor", "nextLink", "beforeCursor", "previousLink"}


def test_every_schema_reference_resolves() -> None:
    document = openapi.build()
    names = set(document["components"]["schemas"])
    references = set(re.findall(r"#/components/schemas/(\w+)", repr(document)))
    assert references <= names


def test_docs_api_md_carries_the_generated_operation_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "api.md"
    assert openapi.summary_table() in docs.read_text()


BOUND_KEYWORDS = {"minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties",
                  "maxProperties", "default"}


def _schema_literals() -> list[str]:
    """Bounds, enums and patterns written into openapi.py as literals instead of read from the
    modules that enforce them (0 and 1 are structure: "not negative", "not empty")."""
    source = Path(openapi.__file__).read_text()
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if not isinstance(key, ast.Constant):
                continue
            literal = isinstance(value, ast.Constant)
            number = isinstance(value, ast.Constant) and type(value.value) in (int, float) and value.value not in (0, 1)
            if key.value in BOUND_KEYWORDS and number:
                found.append(f"line {node.lineno}: {key.value} {ast.unparse(value)}")
            if key.value == "enum" and isinstance(value, ast.List | ast.Tuple):
                found.append(f"line {node.lineno}: a literal enum")
            if key.value == "pattern" and literal:
                found.append(f"line {node.lineno}: a literal pattern")
    return found


def test_every_bound_enum_and_pattern_comes_from_the_code_that_enforces_it() -> None:
    assert _schema_literals() == []


def test_the_document_states_the_validators_bounds() -> None:
    from watershed import validation as v
    from watershed.services import ingest, users

    schemas = openapi.build()["components"]["schemas"]
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == users.MIN_PASSWORD
    assert schemas["StationCreate"]["properties"]["name"]["maxLength"] == v.NAME_MAX
    push = openapi.build()["paths"]["/v1/streams/{id}/intervals"]["post"]["requestBody"]
    assert push["content"]["application/json"]["schema"]["maxItems"] == ingest.MAX_ITEMS
