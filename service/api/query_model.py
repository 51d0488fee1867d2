"""Routes whose query parameters are validated in one pass, by a Pydantic model of them built once.

FastAPI validates a route's query parameters one at a time and looks at each one's annotation again at every request
(whether it is a sequence, a model, JSON; its aliases): 0.23 ms for the nine of ``GET /needs/{id}/candidates`` on
this project's AMD EPYC, as long as the response's ``orjson`` and its sending together. A model of the same fields
(their annotations and ``Query`` constraints) takes 5–9 µs. The route's OpenAPI document is still FastAPI's, from the
same signature, and a bad value is still its 422 (``RequestValidationError``, the same ``loc``, types and messages).

A route's own query parameters only, of plain types (no query model, no ``Json``); a dependency's are FastAPI's.
FastAPI lists a bad path parameter and a bad query parameter in one 422; here the query's come after the path's
are good (after every dependency, as FastAPI does too).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import params
from fastapi._compat import ModelField, field_annotation_is_sequence
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, _effective_route_context_var
from pydantic import BaseModel, Json, ValidationError, create_model
from starlette.datastructures import QueryParams

Parse = Callable[[QueryParams], dict[str, Any]]

_REQUEST = "_query_model_request"
"""The request's name in the endpoint's values when the endpoint takes none itself."""


class QueryModelRoute(APIRoute):
    """An ``APIRoute`` whose handler validates the query with one model (``route_class`` of a router)."""

    def get_route_handler(self) -> Callable[..., Any]:
        # FastAPI builds a handler from the route's dependant, or from the one of its inclusion in an app (the
        # app's dependencies added), and its OpenAPI document from the same one later: the handler is built from a
        # copy without the query parameters, and the documented one is put back.
        context = _effective_route_context_var.get()
        route = context if context is not None and context.original_route is self else self
        documented = route.dependant
        parse = _parser(documented.query_params) if documented is not None else None
        if parse is None:
            return super().get_route_handler()
        route.dependant = dataclasses.replace(
            documented,
            query_params=[],
            call=_with_query(documented.call, documented.request_param_name, parse),
            request_param_name=documented.request_param_name or _REQUEST,
        )
        try:
            return super().get_route_handler()
        finally:
            route.dependant = documented


def _parser(fields: Sequence[ModelField]) -> Parse | None:
    """The one-pass validation of ``fields``, or ``None`` when there are none or one this module does not take."""
    if not fields or any(_unplain(f) for f in fields):
        return None
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "Query", **{f.name: (f.field_info.annotation, f.field_info) for f in fields}
    )
    lists = tuple((f.alias, field_annotation_is_sequence(f.field_info.annotation)) for f in fields)

    def parse(query: QueryParams) -> dict[str, Any]:
        given = {alias: query.getlist(alias) if many else query[alias] for alias, many in lists if alias in query}
        try:
            return model.model_validate(given).__dict__
        except ValidationError as e:
            raise RequestValidationError(
                [{**err, "loc": ("query", *err["loc"])} for err in e.errors(include_url=False)]
            ) from None

    return parse


def _unplain(field: ModelField) -> bool:
    """A query model or a JSON value: FastAPI's own work."""
    info = field.field_info
    types = (info.annotation, *getattr(info.annotation, "__args__", ()))
    return (
        not isinstance(info, params.Query)
        or any(type(m) is Json for m in info.metadata)
        or any(inspect.isclass(t) and issubclass(t, BaseModel) for t in types)
    )


def _with_query(call: Callable[..., Any] | None, request_name: str | None, parse: Parse) -> Callable[..., Any]:
    """``call`` with its query parameters from ``parse``; run as FastAPI would run it (a ``def`` in the pool)."""
    assert call is not None
    name = request_name or _REQUEST

    def values_with_query(values: dict[str, Any]) -> dict[str, Any]:
        request = values[name] if request_name else values.pop(name)
        return values | parse(request.query_params)

    if inspect.iscoroutinefunction(call):

        async def endpoint(**values: Any) -> Any:
            return await call(**values_with_query(values))
    else:

        def endpoint(**values: Any) -> Any:
            return call(**values_with_query(values))

    return endpoint
