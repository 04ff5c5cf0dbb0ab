"""The OpenAPI 3.1 document, generated once per app and served at
/api/v1/openapi.json: paths from the app's routes (apispec's FlaskPlugin), bodies and parameters
from the marshmallow schemas each view declares with `documented` (MarshmallowPlugin), and each
operation's roles from what `requires` stored on the view, so the document cannot disagree with
the code. Summaries and descriptions are the views' docstrings."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from apispec_webframeworks.flask import FlaskPlugin
from flask import Blueprint, Flask, current_app, jsonify
from marshmallow import Schema, validate
from marshmallow.fields import Field

from connector import answers
from connector.auth import requires
from connector.schemas import JSON_SCHEMA, DecimalText, PathSchema
from gating.roles import ROLES

bp = Blueprint("openapi", __name__)
F = TypeVar("F", bound=Callable[..., Any])
EXTENSION = "creditgate.openapi"

# Statuses any operation may answer with, by what it takes.
_KEY_ERRORS = {
    "401": "Missing or unknown API key, or a bad, expired or replayed signature (a nonce used "
    "twice)",
    "403": "The key's role may not call this endpoint",
}
_INPUT_ERRORS = {
    "422": "Invalid fields, each named under `fields` by its path in the body "
    "(`thresholds.overrides.customers.C-1`): also a key given twice, a lone surrogate, a number "
    "with an exponent, nesting deeper than 32 levels",
}
_BODY_ERRORS = {"400": "The body is not a JSON object", "413": "The body is larger than 64 KiB"}
# The gate and order events: an erp key acts for its own source only, unless it was granted more.
SOURCE_REFUSED = (
    "The key's role may not call this endpoint, or `source` names a source the key was not "
    "granted (`fields.source` says so)"
)
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "A client with a signing secret also sends X-Creditgate-Signature: "
    "t=<unix>[,n=<nonce>],v1=<hex HMAC-SHA256 of '<t>.[<n>.]<raw body>'>; t at most 300 s old "
    "and 30 s ahead; a nonce is refused if used again within the window",
}


@dataclass(frozen=True)
class Operation:
    """What a view takes and answers, as `documented` declares it."""

    body: type[Schema] | None = None
    query: type[Schema] | None = None
    answer: type[Schema] | None = None
    media: str | tuple[str, ...] = "application/json"  # several: one file in each (exports)
    # Its own statuses: a description (an Error body), or a description and the body's schema.
    errors: Mapping[int, str | tuple[str, type[Schema]]] = field(default_factory=dict)


def documented(**declared: Any) -> Callable[[F], F]:
    """Declare a view's `Operation` (request body, query, answer) for the document: sets one
    attribute, nothing runs per request. Path parameters come from the route, roles from
    `requires`."""

    def mark(view: F) -> F:
        view.api = Operation(**declared)  # type: ignore[attr-defined]
        return view

    return mark


def _flat(validators: Any) -> Iterator[Any]:
    for validator in validators:
        if isinstance(validator, validate.And):
            yield from _flat(validator.validators)
        else:
            yield validator


class _Converter(OpenAPIConverter):
    """apispec's, also reading validators inside `validate.And`, every Regexp (apispec takes
    only the first), exclusive bounds, the JSON Schema that schemas.JSON_SCHEMA gives a function
    validator, and amounts (a decimal string or a JSON number)."""

    def field2property(self, field: Field[Any]) -> dict[str, Any]:
        clone = copy.copy(field)
        clone.validators = list(_flat(field.validators))
        found: dict[str, Any] = super().field2property(clone)
        for validator in clone.validators:
            for key, value in JSON_SCHEMA.get(validator, {}).items():
                # A new list: the field's metadata may hold the one apispec copied from.
                found["allOf"] = [*found.get("allOf", ()), {key: value}]
        if field.load_default is None:  # "not given", not a null to send
            found.pop("default")
            found["type"] = found["type"][0]
        if isinstance(field, DecimalText):
            return _amount(found)
        return found

    def field2pattern(self, field: Field[Any], **_: Any) -> dict[str, Any]:
        # A Regexp matches from the start of the value, a JSON Schema pattern anywhere in it.
        patterns = [
            p if p.startswith("^") else f"^{p}"
            for p in (
                str(v.regex.pattern) for v in field.validators if isinstance(v, validate.Regexp)
            )
        ]
        if not patterns:
            return {}
        return {
            "pattern": patterns[0],
            **({"allOf": [{"pattern": p} for p in patterns[1:]]} if patterns[1:] else {}),
        }

    def field2range(self, field: Field[Any], ret: dict[str, Any]) -> dict[str, Any]:
        found = {}
        for v in field.validators:
            if isinstance(v, validate.Range):
                for end, value, inclusive in (
                    ("min", v.min, v.min_inclusive),
                    ("max", v.max, v.max_inclusive),
                ):
                    if value is not None:
                        key = f"{end}imum" if inclusive else f"exclusive{end.title()}imum"
                        found[key] = _number(field._serialize(value, None, None))
        if ret.get("type") in ("number", "integer") or isinstance(field, DecimalText):
            return found
        return {f"x-{key}": value for key, value in found.items()}


def _number(value: Any) -> Any:
    """A Decimal bound as a JSON number (jsonify would write it as a string)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _amount(found: dict[str, Any]) -> dict[str, Any]:
    """An amount in a request: a decimal string (`12500.00`) or a plain JSON number; those that
    must be more than zero say `exclusiveMinimum: 0`."""
    found.pop("type", None)
    text: dict[str, Any] = {"type": "string", "pattern": answers.AMOUNT_PATTERN}
    number: dict[str, Any] = {"type": "number"}
    for key in ("exclusiveMinimum", "exclusiveMaximum", "minimum", "maximum"):
        if key in found:
            number[key] = found.pop(key)
    if number.get("exclusiveMinimum") == 0:
        text["pattern"] = r"^([0-9]*[1-9][0-9]*(\.[0-9]+)?|[0-9]+\.[0-9]*[1-9][0-9]*)$"
    return {**found, "oneOf": [text, number], "examples": ["12500.00"]}


class _Plugin(MarshmallowPlugin):
    Converter = _Converter


def _json(
    schema: Any, description: str, media: str | tuple[str, ...] = "application/json"
) -> dict[str, Any]:
    kinds = (media,) if isinstance(media, str) else media
    return {"description": description, "content": {kind: {"schema": schema} for kind in kinds}}


def _operation(view: Callable[..., Any], api: Operation, arguments: set[str]) -> dict[str, Any]:
    roles: tuple[str, ...] = getattr(view, "roles", ())
    first, _, rest = (inspect.getdoc(view) or "").partition("\n\n")
    who = f"role{'s' if len(roles) > 1 else ''} {', '.join(roles)}" if roles else "no key needed"
    operation: dict[str, Any] = {
        "summary": f"{' '.join(first.split()).rstrip('.')} ({who})",
        "security": [{"apiKey": []}] if roles else [],
        "x-roles": list(roles),
    }
    if rest:
        operation["description"] = rest
    parameters: list[dict[str, Any]] = []
    if arguments:
        parameters.append({"in": "path", "schema": PathSchema(only=sorted(arguments))})
    if api.query is not None:
        parameters.append({"in": "query", "schema": api.query})
    if parameters:
        operation["parameters"] = parameters
    errors = {**(_KEY_ERRORS if roles else {})}
    if parameters or api.body is not None:
        errors.update(_INPUT_ERRORS)
    if api.body is not None:
        errors.update(_BODY_ERRORS)
        content = {"application/json": {"schema": api.body}}
        operation["requestBody"] = {"required": True, "content": content}
    media = (api.media,) if isinstance(api.media, str) else api.media
    ok = " ".join((api.answer.__doc__ or "").split()) if api.answer else " or ".join(media)
    described = {
        "200": _json(api.answer or {"type": "string"}, ok, api.media),
        **{status: _json(answers.Error, text) for status, text in errors.items()},
    }
    for status, said in api.errors.items():
        text, schema = (said, answers.Error) if isinstance(said, str) else said
        described[str(status)] = _json(schema, text)
    operation["responses"] = described
    return operation


def build(app: Flask) -> dict[str, Any]:
    """The document for `app`'s routes whose views are `documented`."""
    about = "Each operation names the roles whose API key may call it, also under `x-roles`."
    spec = APISpec(
        "creditgate", "1", "3.1.0", plugins=[FlaskPlugin(), _Plugin()], info={"description": about}
    )
    spec.components.security_scheme("apiKey", SECURITY_SCHEME)
    for name, schema in answers.JSON_SCHEMAS.items():
        spec.components.schema(name, schema)
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        api: Operation | None = getattr(view, "api", None)
        if api is None:
            continue  # the web pages, the stylesheet
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        operation = _operation(view, api, set(rule.arguments))
        operation["tags"] = [rule.endpoint.rpartition(".")[0] or "health"]  # the blueprint
        spec.path(view=view, app=app, operations={m.lower(): operation for m in methods})
    document: dict[str, Any] = spec.to_dict()
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "path":
                    parameter["required"] = True  # PathSchema's fields are optional in a body
    return document


def document(app: Flask) -> dict[str, Any]:
    """`app`'s document, built on first use and kept on the app (building it twice at once is
    harmless): nothing per request, and nothing for an app that never serves it."""
    found: dict[str, Any] | None = app.extensions.get(EXTENSION)
    if found is None:
        found = app.extensions[EXTENSION] = build(app)
    return found


@bp.get("/api/v1/openapi.json")
@requires(*(role for role in ROLES if role != "metrics"))
@documented(answer=answers.Document)
def openapi_json() -> Any:
    """This document"""
    return jsonify(document(current_app._get_current_object()))  # type: ignore[attr-defined]
