"""Every stored figure of every lecture fits a 1280x800 slide at the size it is shown, with room for the title.

Fast and without a browser: it reads the base64 PNGs stored in the committed notebooks. (``tests/test_slides.py``
opens the decks in Chromium; it only warns when no slide shows a whole figure.) A figure is shown at its pixel
size, unless Jupyter stored a display width and height beside it (retina figures), so with the inline backend's
dpi of 100 a ``figsize=(12, 4)`` figure is 1200x400 px on the slide, and 10 pt text is 10/72 * 100 = 14 px high.
"""

import base64
import io
import struct
from pathlib import Path

import nbformat
import pytest

from tools.build_slides import LECTURES

SLIDE_WIDTH_PX = 1280
FIGURE_MAX_HEIGHT_PX = 700  # 800 px of slide less a title line
INLINE_DPI = 100  # matplotlib's figure.dpi, which the inline backend draws with: 1 inch of figsize = 100 px


def png_size(data: bytes) -> tuple[int, int, float | None]:
    """(width, height, dpi) of a PNG: pixel size from its IHDR chunk, dpi from its pHYs chunk (None if absent)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    dpi = None
    at = data.find(b"pHYs")
    if at > 0:
        per_unit_x, _, unit = struct.unpack(">IIB", data[at + 4 : at + 13])
        dpi = per_unit_x * 0.0254 if unit == 1 else None  # unit 1: pixels per metre
    return width, height, dpi


def display_size(output) -> tuple[float, float]:
    """(width, height) in screen pixels at which Jupyter and the slide deck show a stored image/png output."""
    width, height, _ = png_size(base64.b64decode(output["data"]["image/png"]))
    meta = output.get("metadata", {}).get("image/png", {})
    if "width" in meta:  # a retina figure: drawn at 2x, shown at the stored size
        return float(meta["width"]), float(meta.get("height", height * meta["width"] / width))
    return float(width), float(height)


def stored_figures(path: Path):
    """(cell index, output) for each image/png output stored in a notebook."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                if "image/png" in output.get("data", {}):
                    yield index, output


def too_big(path: Path) -> list[str]:
    problems = []
    for index, output in stored_figures(path):
        width, height = display_size(output)
        if width > SLIDE_WIDTH_PX or height > FIGURE_MAX_HEIGHT_PX:
            problems.append(f"{path.name} cell {index}: {width:.0f}x{height:.0f} px")
    return problems


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_every_stored_figure_fits_a_1280x800_slide_below_its_title(path):
    problems = too_big(path)
    assert not problems, (
        f"figures larger than {SLIDE_WIDTH_PX}x{FIGURE_MAX_HEIGHT_PX} px (a 1280x800 slide less "
        "its title); shrink figsize (inches x 100 = px) and refresh the notebook:\n" + "\n".join(problems)
    )


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_stored_figures_are_drawn_at_the_inline_dpi_the_size_check_assumes(path):
    wrong = [
        f"cell {index}: {png_size(base64.b64decode(o['data']['image/png']))[2]} dpi"
        for index, o in stored_figures(path)
        if "width" not in o.get("metadata", {}).get("image/png", {})
        and png_size(base64.b64decode(o["data"]["image/png"]))[2] not in (None, pytest.approx(INLINE_DPI, abs=1))
    ]
    assert not wrong, f"{path.name}: figures not drawn at {INLINE_DPI} dpi, so 1 inch is not 100 px: {wrong}"


# the measuring itself ------------------------------------------------------------------------------------------


def _png_output(figsize, **meta):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize, dpi=INLINE_DPI)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=INLINE_DPI)
    plt.close(fig)
    output = {"data": {"image/png": base64.b64encode(buffer.getvalue()).decode()}, "metadata": {}}
    if meta:
        output["metadata"]["image/png"] = meta
    return output


def test_a_figure_is_shown_at_figsize_times_the_inline_dpi():
    output = _png_output((12, 4))
    assert display_size(output) == (1200, 400)
    assert png_size(base64.b64decode(output["data"]["image/png"]))[2] == pytest.approx(INLINE_DPI, abs=1)


def test_a_retina_figure_is_shown_at_its_stored_width_and_height():
    assert display_size(_png_output((12, 8), width=600, height=400)) == (600, 400)


def test_a_figure_taller_than_the_slide_below_its_title_is_reported(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("fig")
    cell.outputs = [nbformat.from_dict({"output_type": "display_data", **_png_output((9, 7.5))})]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), cell]
    path = tmp_path / "09_example.ipynb"
    nbformat.write(nb, path)
    assert too_big(path) == ["09_example.ipynb cell 1: 900x750 px"]
