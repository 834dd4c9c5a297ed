"""The request guard: every input a request carries is checked here, once, for every endpoint.

* JSON bodies (``request.get_json`` and :func:`parse_json`): at most ``MAX_JSON_DEPTH`` deep, no
  string with NUL or a lone surrogate (PostgreSQL refuses one, the other cannot be encoded), no
  integer beyond 64 bits, no NaN/Infinity. Bad JSON is a 400 ``invalid_json``, never a 500.
* Query strings and form fields: NUL dropped (no query or field means one; PostgreSQL refuses it).
* Path integers (``<int:...>``): bounded to a 32-bit database integer; a bigger one is a 404.
* Bodies sent with ``Transfer-Encoding: chunked``: read within ``MAX_CONTENT_LENGTH`` when the
  server hands over the whole stream, otherwise 411.

New endpoints get all of this for free: nothing to call, except :func:`parse_json` for a body
already read as bytes (a signed body, whose signature covers the raw bytes).
"""

from __future__ import annotations

import io
import json
import math
import re
from typing import Any

import orjson
from flask import Flask, Request, current_app, request
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter

from helpdesk.core.errors import BadInput, LengthRequired, TooLarge

MAX_JSON_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
DB_INT_MAX = 2**31 - 1  # an INTEGER primary key on PostgreSQL
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NUL_OR_SURROGATE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def bad_text(value: str, allow_nul: bool = False) -> bool:
    """NUL (unless allowed), or a lone surrogate (a string that cannot be encoded as UTF-8)."""
    if not allow_nul and "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _bad_number(raw: str) -> Any:
    raise BadInput("invalid_json", f"the body holds a number JSON cannot carry: {raw[:20]}")


def _clean(value: str) -> str:
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _parse_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        _bad_number(raw)
    return value


def _parse_int(raw: str) -> int:
    if len(raw) > 20:
        _bad_number(raw)
    value = int(raw)
    if not INT64_MIN <= value <= INT64_MAX:
        _bad_number(raw)
    return value


def check_value(value: Any, max_depth: int = MAX_JSON_DEPTH, what: str = "the body", allow_nul: bool = False) -> Any:
    """``value`` (parsed JSON, a Socket.IO payload) if it is shallow enough and holds clean text.

    Iterative, so a hostile depth cannot exhaust the stack. Raises ``BadInput``.
    """
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > max_depth:
                raise BadInput("too_deep", f"{what} is nested more than {max_depth} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and bad_text(key, allow_nul):
                        raise BadInput("invalid_text", f"{what} holds a NUL or an unpaired surrogate")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if bad_text(item, allow_nul):
                raise BadInput("invalid_text", f"{what} holds a NUL or an unpaired surrogate")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                raise BadInput("invalid_number", f"{what} holds an integer beyond 64 bits")
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadInput("invalid_number", f"{what} holds a number that is not finite")
    return value


def check_depth(value: Any, max_depth: int = MAX_JSON_DEPTH, what: str = "the body") -> Any:
    """``value`` if its containers nest at most ``max_depth`` deep (iterative, like :func:`check_value`)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise BadInput("too_deep", f"{what} is nested more than {max_depth} levels deep")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return value


# One decoder for every body: json.loads with hooks builds a new one per call, which was about
# half of decoding a chat message's packet.
_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_int=_parse_int, parse_constant=_bad_number)


def _loads(source: bytes | str) -> Any:
    """``json.loads(source)`` with the guard's number hooks, through :data:`_DECODER`."""
    if isinstance(source, (bytes, bytearray)):
        source = source.decode(json.detect_encoding(source), "surrogatepass")
    elif source.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", source, 0)
    return _DECODER.decode(source)


def _clean_source(body: bytes | str) -> str | None:
    """The body as text, if no string JSON parses out of it can hold a NUL or a lone surrogate.

    JSON can only spell those as a ``\\u0000`` or ``\\ud800``-``\\udfff`` escape (a raw control
    character inside a string is invalid JSON), and text that encodes as strict UTF-8 holds no
    surrogate: such a body needs only its depth checked, not every string walked (an ingest batch
    is 500 events of a dozen strings). An escaped backslash before "u0000" is a false alarm, and
    only costs the walk.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        text.encode("utf-8")
    except UnicodeError:
        return None  # another encoding JSON accepts, or a surrogate: walk every string
    if text.startswith("\ufeff") or "\x00" in text or _NUL_OR_SURROGATE_ESCAPE.search(text):
        return None  # a byte-order mark json.loads takes off bytes only, or an escape to look behind
    return text


def parse_json(body: bytes | str, allow_nul: bool = False) -> Any:
    """The one way a request body becomes JSON: checked as the module docstring says.

    ``allow_nul``: for Socket.IO payloads, whose text fields the chat cleans itself."""
    text = _clean_source(body)
    try:
        value = _loads(body if text is None else text)
    except RecursionError as exc:
        raise BadInput("too_deep", f"the body is nested more than {MAX_JSON_DEPTH} levels deep") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadInput("invalid_json", f"the body is not valid JSON: {str(exc)[:200]}") from exc
    if text is not None:  # numbers were checked as they were parsed; its strings are clean
        return check_depth(value)
    return check_value(value, allow_nul=allow_nul)


def compact_json(value: Any) -> str:
    """JSON text without spaces, written by orjson: a tenth of ``json.dumps``' cost (0.5 us for a
    chat message's packet against 4.3). Keys that are not strings become strings, as with
    ``json.dumps``; non-ASCII text stays UTF-8; what orjson refuses (an integer beyond 64 bits)
    goes through ``json.dumps``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"))


class _GuardedJson:
    """What ``Request.get_json`` parses with (``Request.json_module``)."""

    @staticmethod
    def loads(data: bytes | str, **_: Any) -> Any:
        return parse_json(data)

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)


class GuardedRequest(Request):
    @property  # type: ignore[override]
    def json_module(self) -> type[_GuardedJson]:
        return _GuardedJson

    @json_module.setter
    def json_module(self, _value: Any) -> None:
        """Flask sets ``request.json_module = app.json`` on each request: keep the guarded one."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise BadInput("invalid_json", "send a JSON body with Content-Type: application/json")


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` that never matches a number the database cannot hold (a 404, not a 500)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = None, signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, DB_INT_MAX if max is None else max, signed)

    def to_python(self, value: str) -> int:
        if len(value) > 12:  # never hand int() a megabyte of digits
            from werkzeug.routing import ValidationError
            raise ValidationError()
        return super().to_python(value)  # type: ignore[no-any-return]


def _read_chunked_body() -> None:
    """A chunked body has no Content-Length to check: read it here, at most ``MAX_CONTENT_LENGTH``
    (werkzeug's own bound truncates silently), and hand the rest of the app a sized body."""
    environ = request.environ
    if not environ.get("wsgi.input_terminated"):  # the server would hand us an unbounded stream
        raise LengthRequired("length_required", "send the body with a Content-Length")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    raw = environ["wsgi.input"].read(limit + 1 if limit else -1)
    if limit is not None and len(raw) > limit:
        raise TooLarge("body_too_large", f"the body must be at most {limit} bytes")
    environ["wsgi.input"] = io.BytesIO(raw)
    environ["CONTENT_LENGTH"] = str(len(raw))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    for cached in ("stream", "content_length"):
        request.__dict__.pop(cached, None)


def _check_request() -> None:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _read_chunked_body()
    if request.method in BODY_METHODS and request.is_json and request.get_data(cache=True):
        request.get_json()  # parsed (and cached) once here, so every endpoint gets the same guard first
    if "\x00" in request.query_string.decode("latin-1").replace("%00", "\x00"):
        # No query names or matches a NUL, and PostgreSQL refuses one in text: drop it, once, here.
        request.__dict__["args"] = ImmutableMultiDict(
            [(k.replace("\x00", ""), v.replace("\x00", "")) for k, v in request.args.items(multi=True)])
    if request.method in BODY_METHODS and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            fields = list(request.form.items(multi=True))
            request.files  # noqa: B018  parsed with the form: a malformed part fails here, once
        except (TypeError, ValueError, UnicodeError) as exc:  # werkzeug's parser on a malformed multipart body
            raise BadInput("invalid_form", "the form body cannot be parsed") from exc
        for key, value in fields:
            if not isinstance(key, str) or not isinstance(value, str):  # a part without a name
                raise BadInput("invalid_form", "every form field needs a name")
        if any(bad_text(key) or bad_text(value) for key, value in fields):
            request.__dict__["form"] = ImmutableMultiDict(  # as for query strings: NUL dropped
                [(_clean(k), _clean(v)) for k, v in fields])


def _guard_json_forms() -> None:
    """Flask-WTF reads a JSON body as the form (``ImmutableMultiDict(request.get_json())``): a
    list, or an object holding lists or objects, would raise inside WTForms. Only an object of
    plain values may stand in for a form; anything else is a 400."""
    from flask_wtf.form import FlaskForm, _Auto

    meta = FlaskForm.Meta
    if getattr(meta.wrap_formdata, "guarded", False):
        return
    original = meta.wrap_formdata

    def wrap_formdata(self: Any, form: Any, formdata: Any) -> Any:
        if formdata is _Auto and request.is_json and not request.files and not request.form:
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or any(isinstance(v, (dict, list)) for v in body.values()):
                raise BadInput("invalid_form", "send the form's fields as one JSON object of plain values")
        return original(self, form, formdata)

    wrap_formdata.guarded = True  # type: ignore[attr-defined]
    meta.wrap_formdata = wrap_formdata  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    """Before any blueprint is registered (the converter applies to rules added afterwards)."""
    app.request_class = GuardedRequest
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request_funcs.setdefault(None, []).insert(0, _check_request)
    _guard_json_forms()
