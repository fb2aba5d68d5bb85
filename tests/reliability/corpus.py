"""The bad-input corpus, made by the tests (nothing downloaded): every odd file a real image
folder holds, each made from a real Fashion-MNIST image where it has pixels.

`CASES` maps a case name to (maker, expected outcome). A maker writes its file(s) into a folder
and returns the file name the user must see in a warning (or None). Outcomes:
  "kept"    decoded and used, no warning;
  "skipped" left out with one warning naming the file;
  "ignored" not an image the folder index lists (hidden, other extension), no warning.
Bad-file kinds already made by the data tests (`tests/data/data_files.py`) are reused.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data"))
from data_files import write_bad_files

LONG_STEM = "x" * 251  # + ".png" = 255 bytes, the longest name most file systems allow


def _pixels(fashion, i: int = 0) -> np.ndarray:
    return fashion.images[i, 0].numpy()  # (28, 28) uint8


def _jpeg(folder: Path, name: str, fashion, i: int = 0) -> Path:
    path = folder / name
    Image.fromarray(_pixels(fashion, i)).convert("RGB").save(path, quality=90)
    return path


def truncated_jpeg(folder: Path, fashion) -> str:
    data = _jpeg(folder, "whole.jpg", fashion).read_bytes()
    (folder / "whole.jpg").unlink()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    return "truncated.jpg"


def zero_jpeg(folder: Path, fashion) -> str:
    (folder / "zero.jpg").write_bytes(b"")
    return "zero.jpg"


def from_data_files(name: str):
    """A maker for one of the bad files `tests/data/data_files.write_bad_files` writes."""

    def make(folder: Path, fashion) -> str:
        scratch = folder / ".scratch"
        write_bad_files(scratch, fashion)
        os.replace(scratch / name, folder / name)
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
        return name

    make.__name__ = f"data_files:{name}"
    return make


def bad_crc_png(folder: Path, fashion) -> str:
    Image.fromarray(_pixels(fashion)).save(folder / "crc.png")
    data = bytearray((folder / "crc.png").read_bytes())
    data[40] ^= 0xFF  # inside the IDAT chunk: its CRC no longer matches
    (folder / "crc.png").write_bytes(bytes(data))
    return "crc.png"


def cmyk_jpeg(folder: Path, fashion) -> None:
    Image.fromarray(_pixels(fashion, 1)).convert("CMYK").save(folder / "cmyk.jpg", quality=90)


def png_16bit(folder: Path, fashion) -> None:
    Image.fromarray(_pixels(fashion, 2).astype(np.uint16) * 257).save(folder / "deep16.png")


def palette_png(folder: Path, fashion) -> None:
    Image.fromarray(_pixels(fashion, 3)).convert("P").save(folder / "palette.png")


def la_png(folder: Path, fashion) -> None:
    gray = _pixels(fashion, 4)
    Image.fromarray(np.stack([gray, np.full_like(gray, 200)], -1), "LA").save(folder / "alpha_la.png")


def rgba_png(folder: Path, fashion) -> None:
    gray = _pixels(fashion, 5)
    Image.fromarray(np.stack([gray, gray, gray, np.full_like(gray, 128)], -1), "RGBA").save(folder / "rgba.png")


def animated_gif(folder: Path, fashion) -> None:
    frames = [Image.fromarray(_pixels(fashion, i)).convert("P") for i in (6, 7, 8)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=40, loop=0)


def exif_rotated_jpeg(folder: Path, fashion) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    wide = np.concatenate([_pixels(fashion, 9), _pixels(fashion, 10)], 1)  # (28, 56)
    Image.fromarray(wide).convert("RGB").save(folder / "rotated.jpg", exif=exif, quality=90)


def one_pixel(folder: Path, fashion) -> None:
    Image.new("L", (1, 1), 128).save(folder / "dot.png")


def huge_aspect(folder: Path, fashion) -> None:
    row = np.resize(_pixels(fashion, 11).ravel(), 4000).astype(np.uint8)
    Image.fromarray(np.stack([row, row[::-1], row])).save(folder / "strip_4000x3.png")  # (3, 4000)


def webp_bmp_tiff(folder: Path, fashion) -> None:
    for ext in ("webp", "bmp", "tif"):
        Image.fromarray(_pixels(fashion, 12)).save(folder / f"other.{ext}")


def upper_case_extension(folder: Path, fashion) -> None:
    _jpeg(folder, "SHOUT.JPG", fashion, 13)


def trailing_garbage_jpeg(folder: Path, fashion) -> None:
    path = _jpeg(folder, "garbage_tail.jpg", fashion, 14)
    path.write_bytes(path.read_bytes() + os.urandom(500))


def non_utf8_name(folder: Path, fashion) -> None:
    name = os.fsdecode(b"caf\xe9_\xff.png")  # Latin-1 bytes: not valid UTF-8
    Image.fromarray(_pixels(fashion, 15)).save(folder / name)


def long_name(folder: Path, fashion) -> None:
    Image.fromarray(_pixels(fashion, 16)).save(folder / f"{LONG_STEM}.png")


def unreadable(folder: Path, fashion) -> str:
    """chmod 000; as root (CI) that stops nothing, so the tests also make PIL's open raise
    PermissionError for it (see `deny_reading`)."""
    path = folder / "locked.png"
    Image.fromarray(_pixels(fashion, 17)).save(path)
    path.chmod(0)
    return "locked.png"


def broken_link(folder: Path, fashion) -> str:
    (folder / "gone.jpg").symlink_to(folder / "deleted-long-ago.jpg")
    return "gone.jpg"


def link_loop(folder: Path, fashion) -> str:
    (folder / "loop.png").symlink_to(folder / "loop.png")  # ELOOP
    (folder / "up").symlink_to(folder)  # a folder loop: read once, no warning
    return "loop.png"


def hidden_and_other_files(folder: Path, fashion) -> None:
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "._apple_double.jpg").write_bytes(b"\0\5\26\7")  # macOS metadata next to copied images
    (folder / "notes.txt").write_text("not an image\n")
    (folder / "empty_subfolder").mkdir()


def deny_reading(monkeypatch, names: set[str]) -> None:
    """PIL cannot open files called `names`: EACCES, as for a non-root user on a chmod 000 file."""
    original = Image.open

    def guarded(fp, *args, **kwargs):
        if isinstance(fp, (str, os.PathLike)) and os.path.basename(os.fspath(fp)) in names:
            raise PermissionError(13, "Permission denied", os.fspath(fp))
        return original(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", guarded)


CASES = {
    "truncated jpeg": (truncated_jpeg, "skipped"),
    "truncated png": (from_data_files("truncated.png"), "skipped"),
    "zero-byte jpeg": (zero_jpeg, "skipped"),
    "zero-byte png": (from_data_files("zero.png"), "skipped"),
    "text file named .jpg": (from_data_files("text.jpg"), "skipped"),
    "png header 100000x100000": (from_data_files("bomb.png"), "skipped"),
    "png with bad crc": (bad_crc_png, "skipped"),
    "unreadable (permission)": (unreadable, "skipped"),
    "broken symlink": (broken_link, "skipped"),
    "symlink loop": (link_loop, "skipped"),
    "cmyk jpeg": (cmyk_jpeg, "kept"),
    "16-bit png": (png_16bit, "kept"),
    "palette png": (palette_png, "kept"),
    "LA png": (la_png, "kept"),
    "RGBA png": (rgba_png, "kept"),
    "animated gif": (animated_gif, "kept"),
    "exif-rotated jpeg": (exif_rotated_jpeg, "kept"),
    "1x1 png": (one_pixel, "kept"),
    "4000x3 png": (huge_aspect, "kept"),
    "webp, bmp, tiff": (webp_bmp_tiff, "kept"),
    "upper-case .JPG": (upper_case_extension, "kept"),
    "jpeg with trailing garbage": (trailing_garbage_jpeg, "kept"),
    "non-UTF-8 file name": (non_utf8_name, "kept"),
    "255-byte file name": (long_name, "kept"),
    "hidden files, .txt, empty sub-folder": (hidden_and_other_files, "ignored"),
}


def write_good(folder: Path, fashion, count: int, start: int = 100) -> list[Path]:
    """`count` real Fashion-MNIST PNGs, `good_<i>.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        paths.append(folder / f"good_{i:05d}.png")
        Image.fromarray(_pixels(fashion, i)).save(paths[-1])
    return paths


def files_kept(folder: Path) -> int:
    """Image files a case leaves that must be decoded (for "kept" cases)."""
    return sum(1 for p in folder.iterdir() if not p.name.startswith(("good_", "."))
               and p.suffix.lower() in (".png", ".jpg", ".gif", ".webp", ".bmp", ".tif"))

