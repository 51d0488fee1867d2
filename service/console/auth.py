"""Sign in with an API key and sign out. The key is checked by ``service.keys.authenticate``, as the API checks a
bearer key; a failed attempt says so without saying why (unknown and revoked look the same)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from service.console.render import redirect, render
from service.console.session import PREFIX, Posted, Visitor, safe_next
from service.keys import authenticate

router = APIRouter()

NextQuery = Annotated[str | None, Query(max_length=2000, description="Where to go after signing in")]


@router.get("/signin")
def signin_form(page: Visitor, next: NextQuery = None) -> Response:
    if page.principal is not None:
        return redirect(page, safe_next(next))
    return render(page, "signin.html", next=safe_next(next))


@router.post("/signin")
async def signin(
    page: Visitor,
    csrf: Annotated[str, Form()] = "",
    key: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    page.check_csrf(csrf)
    key = key.strip()
    principal = await run_in_threadpool(authenticate, page.request.app.state.store, key) if key else None
    if principal is None:
        error = page.t("signin.bad" if key else "signin.empty")
        return render(page, "signin.html", 401 if key else 422, next=safe_next(next), error=error)
    page.sign_in(key, principal)
    return redirect(page, safe_next(next))


@router.post("/signout")
def signout(page: Posted) -> Response:
    page.sign_out()
    return redirect(page, f"{PREFIX}/signin")
