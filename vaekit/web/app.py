"""The web app of `vaekit explore`: a FastAPI app over an `Explorer`, and one page with inline JS/CSS.

Every request parameter is declared with pydantic types and bounds, so FastAPI rejects a
non-number, an infinite or NaN value, a wrong type or an unknown field with a 422 before any
model code runs; what only the run can judge (the number of latents, each latent's range, the
labels) is checked by the `Explorer`, also answered with a 422. Bodies over `MAX_BODY_BYTES`
are refused with a 413 before they are parsed. Every error body is JSON with an "error" line.
The page loads no asset from elsewhere, and FastAPI's own /docs (which would) are switched off.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from vaekit.web.explorer import Explorer, RequestError

MAX_BODY_BYTES = 256 * 1024  # room for a VQ-VAE's few thousand code values as JSON; far more is an abuse
MAX_VALUES = 16384  # latent values per request, checked before parsing further
MAX_LABEL = 1_000_000
MAX_SEED = 2**31 - 1

Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # a JSON number; not a string, bool or NaN


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecodeRequest(_Strict):
    z: list[Number] = Field(min_length=1, max_length=MAX_VALUES, description="one value per latent dimension")
    label: int | None = Field(default=None, ge=0, le=MAX_LABEL, strict=True)


class SampleRequest(_Strict):
    label: int | None = Field(default=None, ge=0, le=MAX_LABEL, strict=True)
    temperature: Number = Field(default=1.0, ge=0.05, le=2.0)
    seed: int = Field(default=0, ge=0, le=MAX_SEED, strict=True)


class EncodeRequest(_Strict):
    index: int = Field(ge=0, le=MAX_LABEL, strict=True)
    label: int | None = Field(default=None, ge=0, le=MAX_LABEL, strict=True)


class InterpolateRequest(_Strict):
    a: int = Field(ge=0, le=MAX_LABEL, strict=True)
    b: int = Field(ge=0, le=MAX_LABEL, strict=True)
    t: Number = Field(ge=0.0, le=1.0)
    path: Literal["linear", "slerp"] = "linear"
    label: int | None = Field(default=None, ge=0, le=MAX_LABEL, strict=True)


def page_html() -> str:
    return files("vaekit.web").joinpath("page.html").read_text(encoding="utf-8")


def create_app(explorer: Explorer):
    """The ASGI app: FastAPI routes behind a guard that refuses oversized bodies."""
    app = FastAPI(title="vaekit explorer", docs_url=None, redoc_url=None, openapi_url=None)
    page = page_html()

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, err: RequestValidationError):
        errors = err.errors()
        return JSONResponse(status_code=422, content={"error": _one_line(errors), "details": _details(errors)})

    @app.exception_handler(RequestError)
    async def unfit(_request: Request, err: RequestError):
        return JSONResponse(status_code=422, content={"error": str(err)})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException):
        return JSONResponse(status_code=err.status_code, content={"error": str(err.detail)}, headers=err.headers)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/info")
    def info() -> dict:
        return explorer.info()

    @app.get("/api/picks")
    def picks() -> list[dict]:
        return explorer.picks()

    @app.get("/api/points")
    def points(x: Annotated[int, Query(ge=0, le=MAX_VALUES)], y: Annotated[int, Query(ge=0, le=MAX_VALUES)]) -> list:
        return explorer.points(x, y)

    @app.post("/api/decode")
    def decode(req: DecodeRequest) -> dict:
        return explorer.decode(req.z, req.label)

    @app.post("/api/sample")
    def sample(req: SampleRequest) -> dict:
        return explorer.sample(req.label, req.temperature, req.seed)

    @app.post("/api/encode")
    def encode(req: EncodeRequest) -> dict:
        return explorer.encode(req.index, req.label)

    @app.post("/api/interpolate")
    def interpolate(req: InterpolateRequest) -> dict:
        return explorer.interpolate(req.a, req.b, req.t, req.path == "slerp", req.label)

    return BodyLimit(app, MAX_BODY_BYTES)


def _one_line(errors) -> str:
    """The first validation error as 'where: what', e.g. 'z.3: Input should be a finite number'."""
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid value')}{more}"


def _details(errors) -> list[dict]:
    """Validation errors without echoing the (possibly huge) input back."""
    return [{"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in list(errors)[:10]]


class BodyLimit:
    """ASGI wrapper: reads each HTTP request body up to `max_bytes` before the app sees it, and
    answers 413 past that, whether the client announced the length or streamed it in chunks."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            return await self._refuse(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._refuse(scope, receive, send)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()  # after the body, only a disconnect can come
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        error = f"request body too large: at most {self.max_bytes} bytes"
        response = JSONResponse(status_code=413, content={"error": error}, headers={"Connection": "close"})
        await response(scope, receive, send)
