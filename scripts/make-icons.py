#!/usr/bin/env python3
"""Draws HomeCall's PNG icons into public/icons (run once after changing the design;
the PNGs are committed). Needs Pillow: pip install pillow."""
from pathlib import Path

from PIL import Image, ImageDraw

GREEN = (22, 163, 74, 255)
WHITE = (255, 255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "public" / "icons"


def draw(size: int, maskable: bool) -> Image.Image:
    scale = 4  # draw large, shrink for smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if maskable:
        d.rectangle([0, 0, s, s], fill=GREEN)
        inner = 0.6  # the glyph stays inside the 80% safe zone
    else:
        d.rounded_rectangle([0, 0, s - 1, s - 1], radius=int(s * 0.22), fill=GREEN)
        inner = 0.72
    g = s * inner
    x0 = (s - g) / 2
    y0 = (s - g * 0.62) / 2
    body_w = g * 0.62
    body_h = g * 0.62
    d.rounded_rectangle([x0, y0, x0 + body_w, y0 + body_h], radius=int(g * 0.08), fill=WHITE)
    lens_x = x0 + body_w + g * 0.04
    d.polygon(
        [(lens_x, y0 + body_h * 0.35), (x0 + g, y0 + body_h * 0.1), (x0 + g, y0 + body_h * 0.9),
         (lens_x, y0 + body_h * 0.65)],
        fill=WHITE,
    )
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, False).save(OUT / f"icon-{size}.png", optimize=True)
        draw(size, True).save(OUT / f"maskable-{size}.png", optimize=True)
    touch = draw(180, True).convert("RGB")
    touch.save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
