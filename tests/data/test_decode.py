"""decode_image: every odd image kind comes out as the right uint8 (C, H, W); bad files raise BadImage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from data_files import png_bytes, write_bad_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from headstart.data.decode import BadImage, decode_image, image_size, is_gray
from headstart.errors import HeadstartError


@pytest.fixture
def shirt(fashion) -> np.ndarray:
    return fashion.images[0, 0].numpy()  # (28, 28) uint8, a real Fashion-MNIST image


def test_decode__png_gray_native_size_exact(tmp_path, shirt):
    Image.fromarray(shirt).save(tmp_path / "a.png")
    out = decode_image(tmp_path / "a.png", None, 1)
    assert out.dtype == torch.uint8 and out.shape == (1, 28, 28)
    assert torch.equal(out[0], torch.from_numpy(shirt))
    rgb = decode_image(tmp_path / "a.png", None, 3)
    assert rgb.shape == (3, 28, 28) and torch.equal(rgb[1], rgb[0]) and torch.equal(rgb[0], out[0])


def test_decode__resize_shorter_side_then_center_crop(tmp_path):
    stripes = np.zeros((30, 90, 3), np.uint8)  # left third red, middle green, right blue
    stripes[:, :30, 0] = stripes[:, 30:60, 1] = stripes[:, 60:, 2] = 255
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    out = decode_image(tmp_path / "wide.png", 30, 3)
    assert out.shape == (3, 30, 30)
    assert (out[1] == 255).all() and (out[0] == 0).all() and (out[2] == 0).all()
    assert decode_image(tmp_path / "wide.png", 12, 3).shape == (3, 12, 12)


def test_decode__palette_with_and_without_transparency(tmp_path, shirt):
    Image.fromarray(shirt).convert("P").save(tmp_path / "p.png")
    assert torch.equal(decode_image(tmp_path / "p.png", None, 1)[0], torch.from_numpy(shirt))
    pal = Image.new("P", (8, 8), 0)
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.putpixel((0, 0), 1)
    pal.save(tmp_path / "pt.png", transparency=0)  # index 0 transparent -> white
    out = decode_image(tmp_path / "pt.png", None, 3)
    assert out[:, 0, 0].tolist() == [200, 10, 10] and out[:, 4, 4].tolist() == [255, 255, 255]


def test_decode__rgba_and_la_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque
    rgba[1, 1] = (0, 0, 0, 128)  # half transparent black -> mid gray
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    out = decode_image(tmp_path / "rgba.png", None, 3)
    assert out[:, 0, 0].tolist() == [10, 20, 30]
    assert out[:, 3, 3].tolist() == [255, 255, 255]
    assert all(abs(v - 127) <= 1 for v in out[:, 1, 1].tolist())
    la = Image.fromarray(np.stack([np.full((4, 4), 40, np.uint8), np.full((4, 4), 0, np.uint8)], -1), "LA")
    la.putpixel((0, 0), (40, 255))
    la.save(tmp_path / "la.png")
    gray = decode_image(tmp_path / "la.png", None, 1)
    assert gray.shape == (1, 4, 4) and gray[0, 0, 0] == 40 and gray[0, 2, 2] == 255


def test_decode__16bit_scaled_to_8bit(tmp_path):
    values = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)  # -> 0, 1, 255, 128
    Image.fromarray(values).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")
    assert decode_image(tmp_path / "deep.png", None, 1)[0, 0].tolist() == [0, 1, 255, 128]
    Image.fromarray(values).save(tmp_path / "deep.tif")
    assert decode_image(tmp_path / "deep.tif", None, 3)[:, 0, 2].tolist() == [255, 255, 255]


def test_decode__cmyk_jpeg_to_rgb(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)  # pure red
    out = decode_image(tmp_path / "cmyk.jpg", 8, 3)
    assert out.shape == (3, 8, 8)
    r, g, b = out.float().mean((1, 2)).tolist()
    assert r > 240 and g < 15 and b < 15


@pytest.mark.parametrize("ext", ["png", "jpg"])
def test_decode__exif_orientation_applied(tmp_path, ext):
    stored = np.zeros((20, 40), np.uint8)  # (H, W): the stored pixels are rotated
    stored[:, :10] = 255  # a bright band on the left, 10 columns wide
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    options = {"quality": 95} if ext == "jpg" else {}
    Image.fromarray(stored).save(tmp_path / f"r.{ext}", exif=exif, **options)
    out = decode_image(tmp_path / f"r.{ext}", None, 1)[0].numpy()
    expected = np.rot90(stored, k=-1)  # (40, 20): the band is now on top
    assert out.shape == (40, 20) == expected.shape
    assert np.abs(out.astype(int) - expected).max() <= (0 if ext == "png" else 40)
    assert out[:8].mean() > 240 and out[12:].mean() < 15
    assert image_size(tmp_path / f"r.{ext}") == (20, 40)


def test_decode__animated_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (10, 10), color) for color in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=50, loop=0)
    out = decode_image(tmp_path / "anim.gif", 10, 3)
    assert out[:, 5, 5].tolist() == [255, 0, 0]


def test_decode__one_pixel_and_extreme_aspect_ratio(tmp_path):
    Image.new("L", (1, 1), 77).save(tmp_path / "dot.png")
    dot = decode_image(tmp_path / "dot.png", 16, 1)
    assert torch.equal(dot, torch.full((1, 16, 16), 77, dtype=torch.uint8))
    Image.new("RGB", (3000, 2), (5, 6, 7)).save(tmp_path / "line.png")
    line = decode_image(tmp_path / "line.png", 32, 3)
    assert line.shape == (3, 32, 32) and line[:, 0, 0].tolist() == [5, 6, 7]
    assert decode_image(tmp_path / "line.png", None, 1).shape == (1, 2, 3000)


def test_decode__jpeg_draft_matches_full_decode(tmp_path, fashion):
    big = Image.fromarray(fashion.images[5, 0].numpy()).resize((800, 800), Image.Resampling.BICUBIC)
    big.convert("RGB").save(tmp_path / "big.jpg", quality=95)
    fast = decode_image(tmp_path / "big.jpg", 64, 3)  # decoded at 1/8 scale (100 px), then resized
    with Image.open(tmp_path / "big.jpg") as im:
        full = np.asarray(im.convert("RGB").resize((64, 64), Image.Resampling.BILINEAR))
    assert fast.shape == (3, 64, 64)
    assert np.abs(fast.permute(1, 2, 0).numpy().astype(int) - full).mean() < 3.0


def test_decode__rgb_to_one_channel_is_luma(tmp_path):
    Image.new("RGB", (4, 4), (200, 100, 50)).save(tmp_path / "c.png")
    assert decode_image(tmp_path / "c.png", None, 1)[0, 0, 0] == round(0.299 * 200 + 0.587 * 100 + 0.114 * 50)
    assert is_gray(tmp_path / "c.png") is False


def test_decode__bad_files_raise_bad_image_with_reason(tmp_path, fashion):
    for name, word in write_bad_files(tmp_path, fashion).items():
        with pytest.raises(BadImage) as info:
            decode_image(tmp_path / name, 32, 1)
        assert isinstance(info.value, HeadstartError)
        assert info.value.path == str(tmp_path / name) and word in info.value.reason
        assert name in str(info.value) and "--on-bad-image skip" in str(info.value)
    assert is_gray(tmp_path / "zero.png") is None and image_size(tmp_path / "text.jpg") is None


def test_decode__bomb_header_is_rejected_before_allocating(tmp_path):
    (tmp_path / "b.png").write_bytes(png_bytes(20_000, 10_000))  # 200M px: over 178,956,970
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("error", category=Image.DecompressionBombWarning)  # as decode.py sets it
        message = r"decompression bomb \(200,000,000 pixels, the limit is 178,956,970\)"
        with pytest.raises(BadImage, match=message):
            decode_image(tmp_path / "b.png", 32, 3)
    assert caught == []  # one BadImage, no PIL warning before it


def test_decode__non_utf8_file_name(tmp_path, shirt):
    name = bytes(tmp_path) + b"/caf\xe9.png"  # Latin-1 byte, not UTF-8
    Image.fromarray(shirt).save(name.decode("utf-8", "surrogateescape"))
    assert decode_image(name.decode("utf-8", "surrogateescape"), 8, 1).shape == (1, 8, 8)
    (tmp_path / "x").mkdir()
    bad = bytes(tmp_path) + b"/x/\xff.png"
    open(bad, "wb").close()
    with pytest.raises(BadImage) as info:
        decode_image(bad.decode("utf-8", "surrogateescape"), 8, 1)
    assert "\\xff.png" in str(info.value)
    str(info.value).encode("utf-8")  # printable


PREFIXES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"BM", b"II*\x00",
            b"RIFF\x00\x00\x00\x00WEBP"]  # so the fuzz reaches each decoder, not only identification


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")  # PIL's own note on some random TIFFs
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(PREFIXES), body=st.binary(max_size=300), size=st.sampled_from([None, 8]),
       channels=st.sampled_from([1, 3]))
def test_decode__random_bytes_give_tensor_or_bad_image(tmp_path, prefix, body, size, channels):
    path = tmp_path / "fuzz.img"
    path.write_bytes(prefix + body)
    try:
        out = decode_image(path, size, channels)
    except BadImage as err:
        assert err.reason
    else:
        assert out.dtype == torch.uint8 and out.ndim == 3 and out.shape[0] == channels
        assert size is None or out.shape[1:] == (size, size)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=400), flip=st.integers(min_value=0, max_value=399))
def test_decode__damaged_real_png_gives_tensor_or_bad_image(tmp_path, shirt, cut, flip):
    Image.fromarray(shirt).save(tmp_path / "ok.png")
    data = bytearray((tmp_path / "ok.png").read_bytes()[: max(cut, 1) + 400])
    data[flip % len(data)] ^= 0xFF
    path = Path(tmp_path / "damaged.png")
    path.write_bytes(bytes(data[:cut] if cut < len(data) else data))
    try:
        assert decode_image(path, 16, 1).shape == (1, 16, 16)
    except BadImage:
        pass
