"""`headstart export`: a run's weights in the form other tools load as they are.

    headstart.export(run="runs/fm-ft", format="timm", out="model.pt")
"""

from __future__ import annotations

from pathlib import Path

from headstart.config import api_function
from headstart.export.config import ExportConfig
from headstart.export.formats import export_run
from headstart.run import Run


def run(cfg: ExportConfig) -> Path:
    return export_run(Run.read(cfg.run), cfg.format, cfg.out)


export = api_function(ExportConfig, run, "export", "Export a run's weights; returns the file written.")
