"""A small AWS IoT SQL (version 2016-03-23) evaluator for the local MQTT broker.

`make run` routes MQTT messages to the same functions IoT Core would, so it needs the rules'
SQL to select the same JSON the cloud would hand the Lambda action. A statement is parsed once
(`parse`) and evaluated per message (`Statement.evaluate`). Semantics follow the AWS IoT SQL
reference: missing fields are *Undefined* (omitted from the output, and a comparison with them
is Undefined, so a WHERE clause on them is not satisfied); `topic(n)` counts segments from 1;
`FROM` filters use MQTT's `+` and `#` wildcards; `encode(*, 'base64')` reads the raw payload,
JSON or not.

Where the reference is silent the choices are: `SELECT *` alone passes any JSON payload through
(an array stays an array, as the rules engine does for a Lambda action), `SELECT *` alone on a
non-JSON payload yields the raw bytes (a Lambda action cannot take them: the caller routes the
message to its error action), and `*` combined with other items needs a JSON object.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "UNDEFINED",
    "IotSqlError",
    "IotSqlEvaluationError",
    "Message",
    "Statement",
    "parse",
    "topic_matches",
]


class _Undefined:
    """The IoT SQL *Undefined* value: not JSON-representable, dropped from outputs."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Any = _Undefined()


class IotSqlError(ValueError):
    """The statement cannot be parsed (the cloud would reject the rule at creation)."""


class IotSqlEvaluationError(ValueError):
    """The statement cannot produce a JSON result for this message (the rule's error action runs)."""


@dataclass(frozen=True)
class Message:
    """One MQTT message as the rules engine sees it."""

    topic: str
    payload: bytes
    client_id: str = "n/a"
    principal: str = ""
    timestamp_ms: int | None = None


# --------------------------------------------------------------------------- topic filters


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic-filter matching: `+` is one level, a final `#` is any number of levels (even 0).

    As MQTT requires, a filter starting with a wildcard does not match topics starting with `$`
    (reserved topics such as `$aws/events/...` must be named literally).
    """
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    filter_levels = topic_filter.split("/")
    topic_levels = topic.split("/")
    for index, level in enumerate(filter_levels):
        if level == "#":
            return index == len(filter_levels) - 1
        if index >= len(topic_levels):
            return False
        if level != "+" and level != topic_levels[index]:
            return False
    return len(filter_levels) == len(topic_levels)


def _check_filter(topic_filter: str) -> None:
    if not topic_filter:
        raise IotSqlError("FROM needs a topic filter")
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            raise IotSqlError(f"'#' must be a whole, final level in {topic_filter!r}")
        if "+" in level and level != "+":
            raise IotSqlError(f"'+' must be a whole level in {topic_filter!r}")


# --------------------------------------------------------------------------- values


_DECIMAL_STRING = re.compile(r"^-?\d+(\.\d+)?([eE]-?\d+)?$")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_decimal(value: Any) -> float | int | None:
    """The standard conversion to Decimal: numbers, and strings that look like one."""
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    if isinstance(value, str) and _DECIMAL_STRING.match(value):
        number = float(value)
        integral = number.is_integer() and "." not in value and "e" not in value.lower()
        return int(number) if integral else number
    return None


def _to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _to_string(value: Any) -> Any:
    """The standard conversion to String; Undefined stays Undefined."""
    if value is UNDEFINED:
        return UNDEFINED
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if _is_number(value):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _same_kind(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return True
    kinds = (bool, str, list, dict, type(None))
    return any(isinstance(left, kind) and isinstance(right, kind) for kind in kinds)


def _equals(left: Any, right: Any) -> Any:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if not _same_kind(left, right):
        return False
    return bool(left == right)


def _not_equals(left: Any, right: Any) -> Any:
    result = _equals(left, right)
    return result if result is UNDEFINED else not result


def _ordering(compare: Callable[[float, float], bool]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        left_number, right_number = _to_decimal(left), _to_decimal(right)
        if left_number is None or right_number is None:
            return UNDEFINED
        return compare(left_number, right_number)

    return apply


def _logical(combine: Callable[[bool, bool], bool]) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        left_bool, right_bool = _to_bool(left), _to_bool(right)
        if left_bool is None or right_bool is None:
            return UNDEFINED
        return combine(left_bool, right_bool)

    return apply


def _truncating_div(left: int, right: int) -> int:
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient


def _arithmetic(operator: str) -> Callable[[Any, Any], Any]:
    def apply(left: Any, right: Any) -> Any:
        if left is UNDEFINED or right is UNDEFINED:
            return UNDEFINED
        if operator == "+" and (isinstance(left, str) or isinstance(right, str)):
            return f"{_to_string(left)}{_to_string(right)}"
        if operator == "+" and not (_is_number(left) and _is_number(right)):
            return UNDEFINED
        a, b = _to_decimal(left), _to_decimal(right)
        if a is None or b is None:
            return UNDEFINED
        both_int = isinstance(a, int) and isinstance(b, int)
        if operator in ("/", "%") and b == 0:
            return UNDEFINED
        if operator == "+":
            return a + b
        if operator == "-":
            return a - b
        if operator == "*":
            return a * b
        if operator == "/":
            return _truncating_div(a, b) if both_int else a / b  # type: ignore[arg-type]
        if both_int:
            return a - b * _truncating_div(a, b)  # type: ignore[arg-type,operator]
        return math.fmod(a, b)

    return apply


_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "=": _equals,
    "<>": _not_equals,
    "!=": _not_equals,
    "<": _ordering(lambda a, b: a < b),
    "<=": _ordering(lambda a, b: a <= b),
    ">": _ordering(lambda a, b: a > b),
    ">=": _ordering(lambda a, b: a >= b),
    "AND": _logical(lambda a, b: a and b),
    "OR": _logical(lambda a, b: a or b),
    "+": _arithmetic("+"),
    "-": _arithmetic("-"),
    "*": _arithmetic("*"),
    "/": _arithmetic("/"),
    "%": _arithmetic("%"),
}


# --------------------------------------------------------------------------- evaluation context


@dataclass
class _Context:
    message: Message
    document: Any  # the parsed JSON payload, or UNDEFINED when the payload is not JSON
    now_ms: int

    @property
    def segments(self) -> list[str]:
        return self.message.topic.split("/")


def _parse_payload(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return UNDEFINED


# --------------------------------------------------------------------------- expression tree


class _Expr:
    def evaluate(self, ctx: _Context) -> Any:
        raise NotImplementedError

    @property
    def default_name(self) -> str | None:
        return None


@dataclass(frozen=True)
class _Literal(_Expr):
    value: Any

    def evaluate(self, ctx: _Context) -> Any:
        return self.value


@dataclass(frozen=True)
class _Path(_Expr):
    """A field reference: `a`, `a.b`, `a[0]`, applied to the payload or to a sub-expression."""

    base: _Expr | None
    steps: tuple[str | _Expr, ...]

    def evaluate(self, ctx: _Context) -> Any:
        value = ctx.document if self.base is None else self.base.evaluate(ctx)
        for step in self.steps:
            if isinstance(step, str):
                value = value.get(step, UNDEFINED) if isinstance(value, dict) else UNDEFINED
            else:
                index = _to_decimal(step.evaluate(ctx))
                if isinstance(value, list) and index is not None and 0 <= int(index) < len(value):
                    value = value[int(index)]
                else:
                    value = UNDEFINED
            if value is UNDEFINED:
                return UNDEFINED
        return value

    @property
    def default_name(self) -> str | None:
        names = [step for step in self.steps if isinstance(step, str)]
        return names[-1] if names else None


@dataclass(frozen=True)
class _Unary(_Expr):
    operator: str
    operand: _Expr

    def evaluate(self, ctx: _Context) -> Any:
        value = self.operand.evaluate(ctx)
        if self.operator == "NOT":
            as_bool = _to_bool(value)
            return UNDEFINED if as_bool is None else not as_bool
        number = _to_decimal(value)
        return UNDEFINED if number is None else -number


@dataclass(frozen=True)
class _Binary(_Expr):
    operator: str
    left: _Expr
    right: _Expr

    def evaluate(self, ctx: _Context) -> Any:
        return _BINARY[self.operator](self.left.evaluate(ctx), self.right.evaluate(ctx))


class _Star(_Expr):
    """`*` as a function argument: the whole payload (raw bytes for encode())."""

    def evaluate(self, ctx: _Context) -> Any:
        return ctx.document


def _fn_topic(ctx: _Context, args: list[Any]) -> Any:
    if not args:
        return ctx.message.topic
    index = _to_decimal(args[0])
    if index is None:
        return UNDEFINED
    position = math.floor(index)
    segments = ctx.segments
    return segments[position - 1] if 1 <= position <= len(segments) else UNDEFINED


def _fn_encode(ctx: _Context, args: list[Any], raw: bool) -> Any:
    value, scheme = args
    if scheme != "base64":
        return UNDEFINED
    if raw:
        return base64.b64encode(ctx.message.payload).decode("ascii")
    text = _to_string(value)
    return UNDEFINED if text is UNDEFINED else base64.b64encode(text.encode()).decode("ascii")


def _fn_decode(ctx: _Context, args: list[Any]) -> Any:
    value, scheme = args
    if scheme != "base64" or not isinstance(value, str):
        return UNDEFINED
    try:
        decoded = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    parsed = _parse_payload(decoded)
    if parsed is not UNDEFINED:
        return parsed
    try:
        return decoded.decode()
    except UnicodeDecodeError:
        return None


def _string_predicate(test: Callable[[str, str], bool]) -> Callable[[_Context, list[Any]], Any]:
    def apply(ctx: _Context, args: list[Any]) -> Any:
        if any(arg is UNDEFINED or arg is None for arg in args):
            return UNDEFINED
        return test(_to_string(args[0]), _to_string(args[1]))

    return apply


def _fn_concat(ctx: _Context, args: list[Any]) -> Any:
    if not args:
        return UNDEFINED
    if len(args) == 1:
        return args[0]
    if any(isinstance(arg, list) for arg in args):
        joined: list[Any] = []
        for arg in args:
            joined.extend(arg if isinstance(arg, list) else [arg])
        return joined
    if any(isinstance(arg, str) for arg in args):
        parts = [_to_string(arg) for arg in args]
        return UNDEFINED if UNDEFINED in parts else "".join(parts)
    return UNDEFINED


def _case(convert: Callable[[str], str]) -> Callable[[_Context, list[Any]], Any]:
    def apply(ctx: _Context, args: list[Any]) -> Any:
        text = _to_string(args[0])
        return UNDEFINED if text is UNDEFINED else convert(text)

    return apply


# name -> (allowed argument counts, implementation)
_FUNCTIONS: dict[str, tuple[tuple[int, ...], Callable[[_Context, list[Any]], Any]]] = {
    "topic": ((0, 1), _fn_topic),
    "clientid": ((0,), lambda ctx, args: ctx.message.client_id),
    "principal": ((0,), lambda ctx, args: ctx.message.principal),
    "timestamp": ((0,), lambda ctx, args: ctx.now_ms),
    "newuuid": ((0,), lambda ctx, args: str(uuid.uuid4())),
    "decode": ((2,), _fn_decode),
    "isundefined": ((1,), lambda ctx, args: args[0] is UNDEFINED),
    "isnull": ((1,), lambda ctx, args: args[0] is None),
    "startswith": ((2,), _string_predicate(lambda a, b: a.startswith(b))),
    "endswith": ((2,), _string_predicate(lambda a, b: a.endswith(b))),
    "concat": (tuple(range(0, 16)), _fn_concat),
    "lower": ((1,), _case(str.lower)),
    "upper": ((1,), _case(str.upper)),
}


@dataclass(frozen=True)
class _Call(_Expr):
    name: str
    args: tuple[_Expr, ...]

    def evaluate(self, ctx: _Context) -> Any:
        if self.name == "encode":
            raw = isinstance(self.args[0], _Star)
            return _fn_encode(ctx, [UNDEFINED if raw else self.args[0].evaluate(ctx),
                                    self.args[1].evaluate(ctx)], raw)
        return _FUNCTIONS[self.name][1](ctx, [arg.evaluate(ctx) for arg in self.args])

    @property
    def default_name(self) -> str | None:
        return self.name


# --------------------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(\.\d+)?([eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<quoted>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><>|!=|<=|>=|[=<>(),.*+\-/%\[\]])
    """,
    re.VERBOSE,
)

_KEYWORDS = {"SELECT", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "TRUE", "FALSE", "NULL"}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, keyword, op, end
    text: str
    position: int


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN.match(sql, position)
        if not match:
            raise IotSqlError(f"unexpected character {sql[position]!r} at {position}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "name" and text.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", text.upper(), position))
        elif kind == "quoted":
            tokens.append(_Token("name", text[1:-1], position))
        elif kind != "ws":
            tokens.append(_Token(kind, text, position))
        position = match.end()
    tokens.append(_Token("end", "", position))
    return tokens


def _unquote(text: str) -> str:
    body = text[1:-1]
    if text[0] == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


# --------------------------------------------------------------------------- parser


@dataclass(frozen=True)
class _Item:
    expr: _Expr | None  # None is the `*` wildcard
    alias: str | None


class _Parser:
    def __init__(self, sql: str) -> None:
        self.tokens = _tokenize(sql)
        self.index = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.index]

    def accept(self, kind: str, text: str | None = None) -> _Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            self.index += 1
            return token
        return None

    def expect(self, kind: str, text: str | None = None) -> _Token:
        token = self.accept(kind, text)
        if token is None:
            wanted = text or kind
            found = self.current.text or "end of statement"
            raise IotSqlError(f"expected {wanted} at {self.current.position}, found {found!r}")
        return token

    def statement(self) -> Statement:
        self.expect("keyword", "SELECT")
        value_only = self.select_value()
        items = [self.item()]
        while self.accept("op", ","):
            items.append(self.item())
        if value_only and (len(items) != 1 or items[0].expr is None):
            raise IotSqlError("SELECT VALUE takes exactly one expression")
        self.expect("keyword", "FROM")
        topic_filter = _unquote(self.expect("string").text)
        _check_filter(topic_filter)
        where = self.expression() if self.accept("keyword", "WHERE") else None
        self.expect("end")
        return Statement(tuple(items), topic_filter, where, value_only)

    def select_value(self) -> bool:
        """`SELECT VALUE expr`; VALUE is contextual, so `SELECT value FROM` still reads a field."""
        token, following = self.current, self.tokens[self.index + 1]
        starts_expression = following.kind in ("name", "number", "string") or (
            following.kind == "keyword" and following.text in ("TRUE", "FALSE", "NULL", "NOT")
        ) or (following.kind == "op" and following.text in ("(", "-"))
        if token.kind == "name" and token.text.upper() == "VALUE" and starts_expression:
            self.index += 1
            return True
        return False

    def item(self) -> _Item:
        if self.current.kind == "op" and self.current.text == "*":
            following = self.tokens[self.index + 1]
            if (following.kind == "op" and following.text == ",") or (
                following.kind == "keyword" and following.text == "FROM"
            ):
                self.index += 1
                return _Item(None, None)
        expr = self.expression()
        alias = None
        if self.accept("keyword", "AS"):
            token = self.accept("name") or self.expect("string")
            alias = _unquote(token.text) if token.kind == "string" else token.text
        return _Item(expr, alias)

    def expression(self) -> _Expr:
        return self.disjunction()

    def disjunction(self) -> _Expr:
        expr = self.conjunction()
        while self.accept("keyword", "OR"):
            expr = _Binary("OR", expr, self.conjunction())
        return expr

    def conjunction(self) -> _Expr:
        expr = self.negation()
        while self.accept("keyword", "AND"):
            expr = _Binary("AND", expr, self.negation())
        return expr

    def negation(self) -> _Expr:
        if self.accept("keyword", "NOT"):
            return _Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self) -> _Expr:
        expr = self.additive()
        token = self.current
        if token.kind == "op" and token.text in ("=", "<>", "!=", "<", "<=", ">", ">="):
            self.index += 1
            expr = _Binary(token.text, expr, self.additive())
        return expr

    def additive(self) -> _Expr:
        expr = self.multiplicative()
        while self.current.kind == "op" and self.current.text in ("+", "-"):
            operator = self.current.text
            self.index += 1
            expr = _Binary(operator, expr, self.multiplicative())
        return expr

    def multiplicative(self) -> _Expr:
        expr = self.unary()
        while self.current.kind == "op" and self.current.text in ("*", "/", "%"):
            operator = self.current.text
            self.index += 1
            expr = _Binary(operator, expr, self.unary())
        return expr

    def unary(self) -> _Expr:
        if self.accept("op", "-"):
            return _Unary("-", self.unary())
        return self.postfix()

    def postfix(self) -> _Expr:
        expr = self.primary()
        steps: list[str | _Expr] = []
        while True:
            if self.accept("op", "."):
                steps.append(self.expect("name").text)
            elif self.accept("op", "["):
                steps.append(self.expression())
                self.expect("op", "]")
            else:
                break
        if not steps:
            return expr
        if isinstance(expr, _Path):
            return _Path(expr.base, expr.steps + tuple(steps))
        return _Path(expr, tuple(steps))

    def primary(self) -> _Expr:
        token = self.current
        if token.kind == "number":
            self.index += 1
            number = float(token.text)
            is_int = number.is_integer() and "." not in token.text and "e" not in token.text.lower()
            return _Literal(int(token.text) if is_int else number)
        if token.kind == "string":
            self.index += 1
            return _Literal(_unquote(token.text))
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL"):
            self.index += 1
            return _Literal({"TRUE": True, "FALSE": False, "NULL": None}[token.text])
        if self.accept("op", "("):
            expr = self.expression()
            self.expect("op", ")")
            return expr
        if token.kind == "name":
            self.index += 1
            if self.accept("op", "("):
                return self.call(token)
            return _Path(None, (token.text,))
        found = token.text or "end of statement"
        raise IotSqlError(f"unexpected {found!r} at {token.position}")

    def call(self, name_token: _Token) -> _Expr:
        name = name_token.text.lower()
        args: list[_Expr] = []
        if not self.accept("op", ")"):
            while True:
                if name == "encode" and not args and self.accept("op", "*"):
                    args.append(_Star())
                else:
                    args.append(self.expression())
                if self.accept("op", ")"):
                    break
                self.expect("op", ",")
        if name == "encode":
            if len(args) != 2:
                raise IotSqlError("encode() takes (value, 'base64')")
        elif name not in _FUNCTIONS:
            raise IotSqlError(f"unsupported function {name_token.text}()")
        elif len(args) not in _FUNCTIONS[name][0]:
            raise IotSqlError(f"{name_token.text}() does not take {len(args)} argument(s)")
        return _Call(name, tuple(args))


# --------------------------------------------------------------------------- statement


@dataclass(frozen=True)
class Statement:
    """A parsed rule query: evaluate it per message."""

    items: tuple[_Item, ...]
    topic_filter: str
    where: _Expr | None = None
    value_only: bool = False

    def matches(self, topic: str) -> bool:
        """Whether the FROM filter selects messages on this topic."""
        return topic_matches(self.topic_filter, topic)

    def evaluate(self, message: Message) -> Any:
        """The selected value, or UNDEFINED when the topic or the WHERE clause does not match.

        A JSON-compatible value is what a Lambda action receives. `bytes` comes back only for a
        bare `SELECT *` on a non-JSON payload. Raises IotSqlEvaluationError when no JSON result
        can be built (a `*` merged with other items on a payload that is not a JSON object).
        """
        if not self.matches(message.topic):
            return UNDEFINED
        now_ms = message.timestamp_ms if message.timestamp_ms is not None else int(time.time() * 1000)
        ctx = _Context(message, _parse_payload(message.payload), now_ms)
        if self.where is not None and _to_bool(self.where.evaluate(ctx)) is not True:
            return UNDEFINED
        if self.value_only:
            expr = self.items[0].expr
            assert expr is not None
            return expr.evaluate(ctx)
        if len(self.items) == 1 and self.items[0].expr is None:
            return message.payload if ctx.document is UNDEFINED else ctx.document
        result: dict[str, Any] = {}
        for position, item in enumerate(self.items):
            if item.expr is None:
                if not isinstance(ctx.document, dict):
                    raise IotSqlEvaluationError("'*' with other items needs a JSON object payload")
                result.update(ctx.document)
                continue
            value = item.expr.evaluate(ctx)
            if value is not UNDEFINED:
                result[item.alias or item.expr.default_name or f"_{position + 1}"] = value
        return result


def parse(sql: str) -> Statement:
    """Parse one IoT SQL statement (raises IotSqlError with the position of the problem)."""
    return _Parser(sql).statement()
