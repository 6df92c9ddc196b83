#!/usr/bin/env python3
"""Pillow oracle for EmovoxVision's native PNG/JPEG decoding (Pillow with its bundled libjpeg-turbo, NumPy).

    pip install pillow numpy && python3 tools/gen_image_fixtures.py

Writes Tests/EmovoxVisionTests/Fixtures/images/*.png|jpg (tiny, odd sizes so JPEG MCUs and PNG rows do not
divide evenly) and images/expected.json: for each file, the 8-bit grey pixels a decoder must produce.
- Colour → grey is OpenCV's cvtColor(RGB2GRAY) fixed point, (4899 R + 9617 G + 1868 B + 2^13) >> 14,
  applied here in NumPy to Pillow's RGB decode; alpha and tRNS are dropped (as cv2.imread does).
- 16-bit samples keep the high byte (libpng's strip_16, OpenCV's 8-bit read, Pillow's RGB;16B unpacker).
- Pillow cannot write 16-bit RGB or Adam7-interlaced PNGs, so those are written by the small encoder below;
  Pillow's decode of them is checked against the source array before they are used.
JPEG decoders may differ in IDCT/upsampling rounding: the Swift test allows ±1 on JPEGs, exact on PNGs.
"""
import io, json, os, struct, zlib
import numpy as np
from PIL import Image, features

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests/EmovoxVisionTests/Fixtures/images")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(17)
W, H = 19, 13


def scene(channels, maxv=255):
    """A smooth gradient with noise: detail for JPEG, every value range for PNG."""
    y, x = np.mgrid[0:H, 0:W]
    planes = [((x * (7 + 3 * c) + y * (11 - 2 * c)) % 97) / 96 * 0.8 + 0.2 * rng.random((H, W)) for c in range(channels)]
    return np.clip(np.round(np.stack(planes, -1) * maxv), 0, maxv).astype(np.uint16 if maxv > 255 else np.uint8)


def grey_cv(rgb):
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14).astype(np.uint8)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png(path, a, color_type, bit_depth, interlace=False):
    """Minimal PNG encoder (filter 0 on every row) for what Pillow cannot write."""
    h, w = a.shape[:2]
    a = a.reshape(h, w, -1)
    def rows(img):
        be = img.astype(">u2") if bit_depth == 16 else img.astype(np.uint8)
        return b"".join(b"\x00" + be[r].tobytes() for r in range(img.shape[0]))
    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(rows(a[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if a[y0::dy, x0::dx].size)
    else:
        raw = rows(a)
    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


expected = {}
def add(name, grey):
    expected[name] = {"width": int(grey.shape[1]), "height": int(grey.shape[0]), "pixels": grey.reshape(-1).astype(int).tolist()}
def path(name): return os.path.join(OUT, name)

# PNG through Pillow: 8-bit grey, RGB, RGBA, grey+alpha, palette (with tRNS), 1-bit grey.
g8 = scene(1)[..., 0]; Image.fromarray(g8, "L").save(path("grey8.png")); add("grey8.png", g8)
rgb = scene(3); Image.fromarray(rgb, "RGB").save(path("rgb8.png")); add("rgb8.png", grey_cv(rgb))
rgba = np.concatenate([scene(3), scene(1)], -1); Image.fromarray(rgba, "RGBA").save(path("rgba8.png")); add("rgba8.png", grey_cv(rgba[..., :3]))
la = np.concatenate([scene(1), scene(1)], -1); Image.fromarray(la, "LA").save(path("greyalpha8.png")); add("greyalpha8.png", la[..., 0])
pal = Image.fromarray(rgb, "RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT)
pal.info["transparency"] = 3
pal.save(path("palette.png"), transparency=3)
add("palette.png", grey_cv(np.asarray(Image.open(path("palette.png")).convert("RGB"))))
bits = (scene(1)[..., 0] > 128)
Image.fromarray(bits).save(path("grey1.png")); add("grey1.png", np.where(np.asarray(Image.open(path("grey1.png"))), 255, 0))
g16 = scene(1, 65535)[..., 0]

# PNG by the encoder above: 16-bit grey and RGB, Adam7-interlaced RGB and grey; Pillow must read back the source.
write_png(path("grey16.png"), g16, 0, 16)
assert (np.asarray(Image.open(path("grey16.png"))) == g16).all()
add("grey16.png", g16 >> 8)
rgb16 = scene(3, 65535)
write_png(path("rgb16.png"), rgb16, 2, 16)
assert (np.asarray(Image.open(path("rgb16.png"))) == (rgb16 >> 8)).all()
add("rgb16.png", grey_cv(rgb16 >> 8))
write_png(path("rgb8_interlaced.png"), rgb, 2, 8, interlace=True)
assert Image.open(path("rgb8_interlaced.png")).info.get("interlace") == 1
assert (np.asarray(Image.open(path("rgb8_interlaced.png"))) == rgb).all()
add("rgb8_interlaced.png", grey_cv(rgb))
write_png(path("grey16_interlaced.png"), g16, 0, 16, interlace=True)
assert (np.asarray(Image.open(path("grey16_interlaced.png"))) == g16).all()
add("grey16_interlaced.png", g16 >> 8)

# JPEG: baseline 4:2:0 and 4:4:4, progressive, greyscale; expected = Pillow's decode (+ OpenCV grey).
def jpeg(name, img, **kw):
    img.save(path(name), "JPEG", **kw)
    dec = Image.open(path(name))
    add(name, np.asarray(dec) if dec.mode == "L" else grey_cv(np.asarray(dec.convert("RGB"))))
jpeg("baseline420.jpg", Image.fromarray(rgb), quality=90, subsampling=2)
jpeg("baseline444.jpg", Image.fromarray(rgb), quality=95, subsampling=0)
jpeg("progressive.jpg", Image.fromarray(rgb), quality=85, progressive=True, subsampling=2)
jpeg("grey.jpg", Image.fromarray(g8, "L"), quality=90)

with open(path("expected.json"), "w") as f:
    json.dump({"generator": "tools/gen_image_fixtures.py", "pillow": Image.__version__,
               "libjpeg_turbo": features.version("libjpeg_turbo"), "images": expected}, f, separators=(",", ":"))
print(f"{len(expected)} images in {OUT}")
