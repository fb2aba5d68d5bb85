"""metrics.csv that survives resumes: Lightning's CSV logger deletes the file when it reopens a
folder; ours keeps the rows before the checkpoint's step and appends after them."""

from __future__ import annotations

import csv
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

from headstart.io import write_text


class _KeepingWriter(ExperimentWriter):
    resume_step: int | None = None

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            keys = list(reader.fieldnames or [])
            rows = [r for r in reader if self.resume_step is None or _step(r) < self.resume_step]
        self.metrics_keys = keys
        write_text(path, _to_csv(keys, rows))  # rows after the checkpoint will be logged again


def _step(row: dict) -> int:
    try:
        return int(float(row.get("step") or 0))
    except ValueError:
        return 0


def _to_csv(keys: list[str], rows: list[dict]) -> str:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


class MetricsCSV(CSVLogger):
    """`run/metrics.csv`, kept across `--resume` (rows up to the resumed step)."""

    def __init__(self, run_dir: Path, resume_step: int | None = None) -> None:
        super().__init__(save_dir=str(run_dir), name="", version="")
        self._resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            _KeepingWriter.resume_step = self._resume_step
            self._experiment = _KeepingWriter(log_dir=self.log_dir)
        return self._experiment
