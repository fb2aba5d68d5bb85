"""`headstart embed`: backbone features of every image -> embeddings.npy + index.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from headstart.data.imageset import ImageSet
from headstart.errors import HeadstartError
from headstart.io import atomic_write, write_text


def write_embeddings(feats: np.ndarray, data: ImageSet, out: Path, fmt: str = "npy") -> list[Path]:
    """Write (N, D) float32 features and an index (row, path, label) in `out/`."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "index.csv"]
    labels = [data.classes[y] if y >= 0 and data.classes else "" for y in data.labels.tolist()]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["row", "path", "label"])
    w.writerows((i, p, lab) for i, (p, lab) in enumerate(zip(data.paths, labels)))
    write_text(out / "index.csv", buf.getvalue())
    if fmt in ("npy", "all"):
        atomic_write(out / "embeddings.npy", lambda f: np.save(f, np.asarray(feats, dtype=np.float32)))  # no copy
        written.append(out / "embeddings.npy")
    if fmt in ("csv", "all"):
        text = "\n".join(",".join(f"{v:.6g}" for v in row) for row in feats) + "\n"
        write_text(out / "embeddings.csv", text)
        written.append(out / "embeddings.csv")
    if fmt in ("parquet", "all"):
        written.append(_parquet(feats, data.paths, labels, out / "embeddings.parquet"))
    return written


def _parquet(feats: np.ndarray, paths: list[str], labels: list[str], path: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise HeadstartError("writing embeddings.parquet (--format parquet or all) needs pyarrow",
                             fix="pip install 'headstart[parquet]' (or pip install pyarrow)") from None
    table = pa.table({"path": paths, "label": labels,
                      "embedding": pa.FixedSizeListArray.from_arrays(feats.astype(np.float32).ravel(), feats.shape[1])})
    atomic_write(path, lambda f: pq.write_table(table, f))
    return path
