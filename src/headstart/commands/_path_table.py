"""CSV files that say something per image by path (`--labels`, `--groups`), matched to a data set.

A path matches as written or as an absolute path, so a CSV written relative to the working
directory matches the absolute paths a folder set lists (IDX rows `file#i` match as written).
"""

from __future__ import annotations

import csv
from pathlib import Path

from headstart.errors import HeadstartError


def read_csv(path: Path, needed: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of a CSV file that must have the `needed` columns."""
    if not Path(path).is_file():
        raise HeadstartError(f"{path} does not exist", fix="pass a CSV file")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in needed if c not in (reader.fieldnames or [])]
        if missing:
            raise HeadstartError(f"{path} has no {', '.join(missing)} column", fix=f"columns: {', '.join(needed)}")
        return list(reader)


def _key(p: str) -> str:
    return p if "#" in p else str(Path(p).resolve())


def columns_by_path(path: Path, paths: list[str]) -> dict[str, list[str]]:
    """Every column but `path` of the CSV, one value per entry of `paths` ("" where the CSV is silent).

    Raises HeadstartError when no row of the CSV names any of `paths`.
    """
    rows = read_csv(path, ("path",))
    by_path = {_key(r["path"]): r for r in rows if r.get("path")}
    found = [by_path.get(_key(p)) for p in paths]
    if rows and not any(found):
        raise HeadstartError(f"no path of {path} names an image of the data ({paths[0] if paths else 'empty'} ...)",
                             fix="write the paths as the data lists them (index.csv of `headstart embed`)")
    names = [c for c in (rows[0].keys() if rows else []) if c != "path"]
    return {c: [(r or {}).get(c) or "" for r in found] for c in names}
