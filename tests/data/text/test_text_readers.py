"""Text files and folders -> Corpus: layouts, formats, and bad input named by file:line."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest

from headstart.data.text.corpus import BadText, BadTextWarning
from headstart.data.text.readers import read_corpus
from headstart.data.text.sources import is_text_spec, open_text
from headstart.errors import HeadstartError


def read_warned(path, **kw):
    """(corpus, [warning messages]) with every BadTextWarning recorded."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        corpus = read_corpus(path, **kw)
    return corpus, [str(w.message) for w in caught if issubclass(w.category, BadTextWarning)]


def test_read_corpus__txt_folder_one_document_per_file(tmp_path, topic_test):
    for i in range(5):
        (tmp_path / f"{i}.txt").write_text("\n" + topic_test.texts[i] + "\n\n", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert corpus.texts == topic_test.texts[:5]
    assert not corpus.has_labels and corpus.classes == [] and (corpus.labels == -1).all()
    assert corpus.origins[2] == f"{tmp_path / '2.txt'}:1"


def test_read_corpus__paragraphs_split_at_blank_lines_with_line_numbers(tmp_path, topic_test):
    a, b, c = topic_test.texts[10:13]
    (tmp_path / "doc.txt").write_text(f"{a}\n\n \t\n{b}\n\n{c}", encoding="utf-8")
    corpus = read_corpus(tmp_path / "doc.txt", paragraphs=True)
    assert corpus.texts == [a, b, c]
    first_b = a.count("\n") + 4  # a's lines, a blank line, a white-space line
    first_c = first_b + b.count("\n") + 2
    assert [o.rsplit(":", 1)[1] for o in corpus.origins] == ["1", str(first_b), str(first_c)]


def test_read_corpus__class_subfolders_are_labels(tmp_path, topic_test):
    for cls in (3, 7, 1):
        name = topic_test.classes[cls]
        (tmp_path / name).mkdir()
        for i in np.flatnonzero(topic_test.labels == cls)[:4]:
            (tmp_path / name / f"{i}.txt").write_text(topic_test.texts[i], encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert corpus.classes == ["computers", "education", "medicine"]
    assert corpus.has_labels and np.bincount(corpus.labels).tolist() == [4, 4, 4]
    truth = {t: topic_test.classes[y] for t, y in zip(topic_test.texts, topic_test.labels)}
    assert all(truth[t] == corpus.classes[y] for t, y in zip(corpus.texts, corpus.labels))


def test_read_corpus__jsonl_and_csv_text_and_label(tmp_path, topic_test):
    rows = [{"text": topic_test.texts[i], "label": topic_test.classes[topic_test.labels[i]]}
            for i in range(40)]
    with open(tmp_path / "a.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[:20])
    with open(tmp_path / "b.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "label"])
        writer.writeheader()
        writer.writerows({"id": i, **r} for i, r in enumerate(rows[20:]))
    corpus = read_corpus(tmp_path)
    assert corpus.texts == [r["text"] for r in rows] and corpus.has_labels
    assert [corpus.classes[y] for y in corpus.labels] == [r["label"] for r in rows]
    # a quoted multi-line cell: the next record's line is where it starts, not where the previous ended
    lines_before = 1 + sum(r["text"].count("\n") + 1 for r in rows[20:25])
    assert corpus.origins[25] == f"{tmp_path / 'b.csv'}:{lines_before + 1}"


def test_read_corpus__bad_input_is_skipped_with_file_and_line(tmp_path, topic_test):
    good = topic_test.texts[:3]
    (tmp_path / "good.txt").write_text(good[0], encoding="utf-8")
    (tmp_path / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (tmp_path / "latin1.txt").write_bytes("line one\nline two\nCaf\u00e9 cr\u00e8me\n".encode("latin-1"))
    (tmp_path / "empty.txt").write_text(" \n\t\n", encoding="utf-8")
    lines = [json.dumps({"text": good[1]}), '{"text": "unterminated', json.dumps({"body": "x"}), "",
             json.dumps({"text": "   "}), json.dumps([good[2]]), json.dumps({"text": good[2]})]
    (tmp_path / "broken.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "nocol.csv").write_text("body,label\nhello,a\n", encoding="utf-8")
    corpus, messages = read_warned(tmp_path)
    assert sorted(corpus.texts) == sorted(good)
    p = str(tmp_path)
    assert sorted(messages) == sorted([
        f"skipping {p}/binary.txt: binary file (it holds NUL bytes), not text",
        f"skipping {p}/broken.jsonl:2: not a JSON object: Unterminated string starting at (column 10)",
        f"skipping {p}/broken.jsonl:3: no 'text' field",
        f"skipping {p}/broken.jsonl:5: empty document",
        f"skipping {p}/broken.jsonl:6: a JSON list, not an object with a 'text' field",
        f"skipping {p}/empty.txt:1: empty document",
        (f"skipping {p}/latin1.txt:3: not utf-8 text (byte 0xe9 at offset 21); convert the file to UTF-8 "
         "or pass its encoding"),
        f"skipping {p}/nocol.csv:1: no 'text' column (columns: body, label)",
    ])


def test_read_corpus__strict_raises_at_the_first_bad_line(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "fine"}\nnot json\n', encoding="utf-8")
    with pytest.raises(BadText) as info:
        read_corpus(tmp_path / "a.jsonl", strict=True)
    assert info.value.where == f"{tmp_path / 'a.jsonl'}:2"
    assert info.value.reason.startswith("not a JSON object")


def test_read_corpus__encoding_option_reads_latin1(tmp_path):
    (tmp_path / "fr.txt").write_bytes("Caf\u00e9 cr\u00e8me".encode("latin-1"))
    assert read_corpus(tmp_path / "fr.txt", encoding="latin-1").texts == ["Caf\u00e9 cr\u00e8me"]


def test_read_corpus__nothing_usable_is_one_error(tmp_path):
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    (tmp_path / "junk.bin").write_bytes(b"\x00" * 10)  # not a text extension: ignored in a folder
    with pytest.raises(HeadstartError, match=r"^no usable documents in .* — put non-empty text in"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", BadTextWarning)
        read_corpus(tmp_path)


def test_read_corpus__a_flood_of_bad_lines_warns_ten_times_and_sums_up(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "ok"}\n' + "oops\n" * 250, encoding="utf-8")
    corpus, messages = read_warned(tmp_path / "a.jsonl")
    assert corpus.texts == ["ok"] and len(messages) == 11
    assert messages[-1] == f"skipped 240 more bad lines in {tmp_path / 'a.jsonl'}"


def test_open_text__split_folders_and_spec_suffix(tmp_path, topic_test):
    for split, i in (("train", 0), ("test", 1)):
        (tmp_path / split).mkdir()
        (tmp_path / split / "x.txt").write_text(topic_test.texts[i], encoding="utf-8")
    assert open_text(str(tmp_path)).texts == [topic_test.texts[0]]
    assert open_text(f"{tmp_path}:test").texts == [topic_test.texts[1]]
    with pytest.raises(HeadstartError, match="did you mean 'fortunes-topic'"):
        open_text("fortunes-topik")


def test_is_text_spec__names_files_and_folders(tmp_path, topic_test):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.jsonl").write_text(json.dumps({"text": topic_test.texts[0]}), encoding="utf-8")
    (tmp_path / "i").mkdir()
    (tmp_path / "i" / "a.png").write_bytes(b"")
    assert is_text_spec("fortunes-topic:test") and is_text_spec(str(tmp_path / "t"))
    assert is_text_spec(str(tmp_path / "t" / "a.jsonl"))
    assert not is_text_spec(str(tmp_path / "i")) and not is_text_spec("fashion-mnist")
