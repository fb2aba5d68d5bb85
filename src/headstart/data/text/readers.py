"""Read documents from `.txt`, `.jsonl`, `.csv` / `.tsv` files and folders of them.

- `.txt` (or a single file of any other extension): one document per file, or with
  `paragraphs` one per blank-line-separated paragraph;
- `.jsonl`: one JSON object per line with a `text` field (and `label` when labeled);
- `.csv` / `.tsv`: a header row with a `text` column (and `label`);
- a folder: when it holds no loose text files and at least two of its sub-folders hold
  some, the sub-folders are the classes (sorted by name), as for image folders; otherwise
  every text file below it is read, and labels come from the files' `label` fields.

Bad input — a binary file, bytes that are not valid in `encoding`, an empty document, a
missing column, a JSONL line that does not parse — is skipped with a `BadTextWarning`
naming `file:line`, or raises `BadText` when `strict`. Nothing usable left is an error.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

from headstart.data.decode import show_path
from headstart.data.text.corpus import Corpus, Problems, label_ids
from headstart.errors import HeadstartError

TEXT_EXTENSIONS = (".txt", ".jsonl", ".csv", ".tsv")
MAX_CELL = 1 << 30  # characters in one CSV cell
BINARY_PROBE = 8192  # bytes searched for a NUL, the mark of a binary file
Record = tuple[str, "str | None", str]  # (text, class name or None, origin "file:line")


def read_corpus(path: str | os.PathLike, *, paragraphs: bool = False, strict: bool = False,
                encoding: str = "utf-8", text_field: str = "text", label_field: str = "label") -> Corpus:
    """Read a text file or a folder of them into a `Corpus`.

    Args:
        path: a `.txt`, `.jsonl`, `.csv` or `.tsv` file, or a folder (see module doc).
        paragraphs: split `.txt` files into one document per blank-line-separated paragraph.
        strict: raise `BadText` at the first bad file, line or document instead of skipping it.
        encoding: the files' text encoding (a UTF-8 byte-order mark is dropped).
        text_field: the JSONL field / CSV column holding the text.
        label_field: the JSONL field / CSV column holding the class, when there is one.

    Returns:
        A `Corpus`; labeled when every document has a class.

    Example:
        >>> read_corpus("reviews.csv").classes
        ['negative', 'positive']
    """
    root = Path(path)
    if not root.exists():
        raise HeadstartError(f"no such file or folder: {show_path(root)}",
                             fix="pass a .txt/.jsonl/.csv file or a folder of them")
    problems = Problems(strict=strict)
    reader = _Reader(problems, paragraphs, encoding, text_field, label_field)
    if root.is_file():
        records = reader.file(root)
    else:
        records = _read_folder(root, reader)
    problems.finish()
    if not records:
        raise HeadstartError(f"no usable documents in {show_path(root)}",
                             fix=f"put non-empty text in {', '.join(TEXT_EXTENSIONS)} files; the warnings "
                             "above say why each file was skipped")
    labels, classes = label_ids([label for _, label, _ in records])
    return Corpus(texts=[t for t, _, _ in records], labels=labels, classes=classes,
                  origins=[o for _, _, o in records], source=os.fspath(path))


def _read_folder(root: Path, reader: _Reader) -> list[Record]:
    loose = _text_files(root, recursive=False)
    subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    per_class = [(d.name, _text_files(d, recursive=True)) for d in subdirs]
    per_class = [(name, files) for name, files in per_class if files]
    if len(per_class) >= 2 and not loose:
        return [(text, name, origin) for name, files in per_class for f in files
                for text, _, origin in reader.file(f)]
    files = sorted(loose + [f for _, class_files in per_class for f in class_files])
    return [record for f in files for record in reader.file(f)]


def _text_files(folder: Path, *, recursive: bool) -> list[Path]:
    """Text files in `folder` (and below it when `recursive`), hidden names skipped, sorted."""
    found: list[Path] = []
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if recursive else []
        found += [Path(top) / f for f in files
                  if not f.startswith(".") and os.path.splitext(f)[1].lower() in TEXT_EXTENSIONS]
    return sorted(found)


class _Reader:
    """Reads one file into records, reporting bad input to `problems`."""

    def __init__(self, problems: Problems, paragraphs: bool, encoding: str, text_field: str,
                 label_field: str) -> None:
        self.problems = problems
        self.paragraphs = paragraphs
        self.encoding = encoding
        self.text_field = text_field
        self.label_field = label_field

    def file(self, path: Path) -> list[Record]:
        content = self._decode(path)
        if content is None:
            return []
        name = os.fspath(path)
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            return self._jsonl(name, content)
        if suffix in (".csv", ".tsv"):
            return self._csv(name, content, "\t" if suffix == ".tsv" else ",")
        return self._plain(name, content)

    def _decode(self, path: Path) -> str | None:
        name = os.fspath(path)
        try:
            data = path.read_bytes()
        except OSError as err:
            self.problems.bad(name, None, f"cannot read: {err.strerror or err}")
            return None
        if b"\0" in data[:BINARY_PROBE]:
            self.problems.bad(name, None, "binary file (it holds NUL bytes), not text")
            return None
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            self.problems.bad(name, line, f"not {self.encoding} text (byte 0x{data[err.start]:02x} at "
                              f"offset {err.start}); convert the file to UTF-8 or pass its encoding")
            return None
        except LookupError:
            raise HeadstartError(f"unknown text encoding {self.encoding!r}",
                                 fix="pass a Python codec name such as utf-8 or latin-1") from None
        return text.removeprefix("\ufeff")

    def _plain(self, name: str, content: str) -> list[Record]:
        content = content.replace("\r\n", "\n")
        if not self.paragraphs:
            return self._keep(name, 1, content.strip(), None)
        records: list[Record] = []
        lines: list[str] = []
        first = 0
        for number, line in enumerate([*content.split("\n"), ""], 1):
            if line.strip():
                first = first if lines else number
                lines.append(line)
            elif lines:
                records += self._keep(name, first, "\n".join(lines).strip(), None)
                lines = []
        if not records:
            self.problems.bad(name, None, "empty file (no text)")
        return records

    def _jsonl(self, name: str, content: str) -> list[Record]:
        records: list[Record] = []
        # split on "\n" only: JSON strings may hold U+2028 and other characters splitlines() breaks at
        for number, line in enumerate(content.split("\n"), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                self.problems.bad(name, number, f"not a JSON object: {err.msg} (column {err.colno})")
                continue
            if not isinstance(row, dict):
                self.problems.bad(name, number, f"a JSON {type(row).__name__}, not an object with a "
                                  f"{self.text_field!r} field")
                continue
            records += self._row(name, number, row, "field")
        return records

    def _csv(self, name: str, content: str, delimiter: str) -> list[Record]:
        # a long document is one large cell; csv's default limit (128 KiB) would reject it
        csv.field_size_limit(max(csv.field_size_limit(), MAX_CELL))
        rows = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
        try:
            header = next(rows, None)
            if header is None:
                self.problems.bad(name, None, "empty file (no header row)")
                return []
            header = [h.strip() for h in header]
            if self.text_field not in header:
                self.problems.bad(name, 1, f"no {self.text_field!r} column (columns: {', '.join(header)})")
                return []
            records: list[Record] = []
            start = rows.line_num + 1
            for row in rows:
                if any(cell.strip() for cell in row):
                    records += self._row(name, start, dict(zip(header, row)), "column")
                start = rows.line_num + 1
            return records
        except csv.Error as err:
            self.problems.bad(name, rows.line_num, f"cannot parse CSV: {err}")
            return []

    def _row(self, name: str, line: int, row: dict, kind: str) -> list[Record]:
        text = row.get(self.text_field)
        if text is None:
            self.problems.bad(name, line, f"no {self.text_field!r} {kind}")
            return []
        if not isinstance(text, str):
            self.problems.bad(name, line, f"{self.text_field!r} is a {type(text).__name__}, not a string")
            return []
        label = row.get(self.label_field)
        label = None if label is None or label == "" else str(label).strip()
        return self._keep(name, line, text.strip(), label)

    def _keep(self, name: str, line: int, text: str, label: str | None) -> list[Record]:
        if not text:
            self.problems.bad(name, line, "empty document")
            return []
        return [(text, label, f"{show_path(name)}:{line}")]
