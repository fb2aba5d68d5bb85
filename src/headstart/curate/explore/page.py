"""The explorer page: one HTML+JS file (page.html), served as is or made self-contained.

Served, the page loads `plotly.min.js` and the points from the server. Static (`--static`),
plotly, the points, every thumbnail sheet (as data URIs, decoded only when shown) and each
row's nearest neighbours (up to `STATIC_NEIGHBOURS` rows) are inlined, so the file opens
offline from a disk or a mail attachment.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from headstart.curate.explore.points import Explorer
from headstart.errors import HeadstartError
from headstart.io import write_text

TEMPLATE = Path(__file__).with_name("page.html")
STATIC_NEIGHBOURS = 20_000  # above this, every row's neighbours cost too long to inline (O(N^2 D))


def plotly_js() -> Path:
    """The `plotly.min.js` that ships inside the `plotly` Python package (no CDN, works offline)."""
    try:
        import plotly
    except ModuleNotFoundError:
        raise HeadstartError("headstart explore draws the map with plotly, which is not installed",
                             fix="pip install 'headstart[explore]' (or pip install plotly)") from None
    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise HeadstartError(f"plotly {plotly.__version__} ships no {path}", fix="pip install -U plotly")
    return path


def _script(text: str) -> str:
    """Text safe inside <script>...</script>: no `</script` can end the element early."""
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def served_page() -> str:
    """The page of the server: the points are requested before plotly is parsed, so both load at once;
    the scripts come after the controls, so those paint first."""
    return TEMPLATE.read_text().replace("<!--EARLY-->", '<script>window.POINTS = fetch("api/points");</script>').replace(
        "<!--PLOTLY-->", '<script src="plotly.min.js"></script>').replace("<!--DATA-->", "")


def static_page(explorer: Explorer) -> str:
    """The whole page with plotly, the points, thumbnails and neighbours inlined."""
    data = explorer.payload()
    data["strategies"] = []
    if explorer.sprites is not None:
        data["sheets"] = ["data:image/webp;base64," + base64.b64encode(explorer.sprites.path(s).read_bytes()).decode()
                          for s in range(explorer.sprites.sheets)]
    if len(explorer) <= STATIC_NEIGHBOURS:
        data["neighbors"] = explorer.all_neighbours(k=9)
    blob = json.dumps(data, separators=(",", ":"))
    return TEMPLATE.read_text().replace("<!--EARLY-->", "").replace(
        "<!--PLOTLY-->", "<script>" + _script(plotly_js().read_text()) + "</script>").replace(
        "<!--DATA-->", "<script>window.EXPLORE_DATA = " + _script(blob) + ";</script>")


def write_static(explorer: Explorer, path: Path) -> Path:
    """Write the self-contained page to `path`; returns it."""
    write_text(path, static_page(explorer))
    return path
