"""The explorer's web server: a Starlette app over one `Explorer`, served by uvicorn.

Every endpoint takes row numbers, never paths, so no request can name a file outside the
data: images and thumbnails are read through the `Explorer`. Bad input is a 4xx with a JSON
`{"error": ...}`; nothing is sent that the page did not ask for (thumbnail sheets one by one).
"""

from __future__ import annotations

import json
import math

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from headstart.curate.explore.page import plotly_js, served_page
from headstart.curate.explore.points import Explorer
from headstart.errors import HeadstartError

MAX_SELECT = 100_000


def make_app(explorer: Explorer) -> Starlette:
    """The ASGI app: the page, plotly, and the JSON API under /api.

    Example:
        >>> uvicorn.run(make_app(explorer), host="127.0.0.1", port=8765)
    """
    points = json.dumps(explorer.payload(), separators=(",", ":")).encode()  # made once: the page's largest read

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(served_page())

    async def plotly(request: Request) -> FileResponse:
        # one file per plotly release: a browser may keep it (and its compiled code) for a day
        return FileResponse(plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=86400"})

    async def all_points(request: Request) -> Response:
        return Response(points, media_type="application/json")

    def row(request: Request) -> int:
        i = request.path_params["row"]
        if not 0 <= i < len(explorer):
            raise HTTPException(404, f"no point {i} (there are {len(explorer)})")
        return i

    async def point(request: Request) -> JSONResponse:
        return JSONResponse(explorer.point(row(request)))

    # CPU-bound handlers are plain functions: Starlette runs them in its thread pool (torch lets go
    # of the GIL), so a long duplicate search does not stall the thumbnails of the hover
    def neighbours(request: Request) -> JSONResponse:
        rows, dist = explorer.neighbours(row(request), _int(request, "k", 9))
        return JSONResponse({"ids": rows, "distances": dist})

    async def thumbs(request: Request) -> FileResponse:
        sheet = request.path_params["sheet"]
        if explorer.sprites is None or not 0 <= sheet < explorer.sprites.sheets:
            raise HTTPException(404, f"no thumbnail sheet {sheet}")
        return FileResponse(explorer.sprites.path(sheet), media_type="image/webp")

    def image(request: Request) -> Response:
        i = row(request)
        if explorer.image is None:
            raise HTTPException(404, "a text run has no images")
        return Response(explorer.image(i), media_type="image/png")

    async def select(request: Request) -> JSONResponse:
        body = await _json(request)
        n, among = body.get("n"), body.get("among")
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_SELECT:
            raise HTTPException(400, f"n must be an integer in 1..{MAX_SELECT}")
        if among is not None and not (isinstance(among, list) and all(isinstance(i, int) for i in among)):
            raise HTTPException(400, "among must be a list of rows")
        strategy, seed = body.get("strategy", "typical"), body.get("seed", 0)
        if not isinstance(strategy, str) or not isinstance(seed, int):
            raise HTTPException(400, "strategy must be a name and seed an integer")
        ids = await run_in_threadpool(explorer.select, n, strategy, among=among, seed=seed)
        return JSONResponse({"ids": ids})

    def duplicates(request: Request) -> JSONResponse:
        try:
            threshold = float(request.query_params.get("threshold", "0.95"))
        except ValueError:
            raise HTTPException(400, "threshold must be a number") from None
        if not math.isfinite(threshold) or not 0.5 <= threshold <= 1:
            raise HTTPException(400, "threshold must be a cosine in [0.5, 1]")
        return JSONResponse(explorer.duplicates(threshold))

    routes = [Route("/", index), Route("/plotly.min.js", plotly), Route("/api/points", all_points),
              Route("/api/point/{row:int}", point), Route("/api/neighbors/{row:int}", neighbours),
              Route("/api/thumbs/{sheet:int}.webp", thumbs), Route("/api/image/{row:int}", image),
              Route("/api/select", select, methods=["POST"]), Route("/api/duplicates", duplicates)]
    return Starlette(routes=routes, exception_handlers={HTTPException: _http_error, HeadstartError: _user_error})


def _int(request: Request, key: str, default: int) -> int:
    try:
        return int(request.query_params.get(key, default))
    except ValueError:
        raise HTTPException(400, f"{key} must be an integer") from None


async def _json(request: Request) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


async def _user_error(request: Request, exc: HeadstartError) -> JSONResponse:
    """A bad k, strategy or n: the request's fault, said in one line."""
    return JSONResponse({"error": str(exc)}, status_code=400)


def serve(explorer: Explorer, *, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C)."""
    uvicorn.run(make_app(explorer), host=host, port=port, log_level="warning")
