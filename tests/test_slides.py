"""Every lecture presents as a slide deck that works offline (``make slides``), and the deck shows what it should.

The decks are built by ``tools/build_slides.py`` from the committed, executed notebooks (no re-execution), with
reveal.js and the other scripts taken from npm and served from beside the decks. The browser tests open each deck
in headless Chromium from a local server with every request off 127.0.0.1 refused, as in a lecture hall without
Wi-Fi.
"""

import re

import nbformat
import pytest
from browser_helpers import (
    HIDE_INPUT_LECTURE,
    TIMEOUT_MS,
    deadline,
    http_server,
    is_local,
    marked_and_teaching_cells,
    open_browser,
    screenshot_path,
    unavailable,
)

from course_utils.colab import colab_badge
from tools.build_slides import LECTURES, VendorUnavailable, _copy_tree, build_slides

SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "-", "notes"}
# The Colab badge in each title cell is an image on colab.research.google.com; offline it shows its alt text.
BADGE_IMAGE = re.search(r"\((https://colab\.research\.google\.com/assets/[^)]+)\)", colab_badge("x")).group(1)


def _slide_type(cell) -> str | None:
    return cell.metadata.get("slideshow", {}).get("slide_type")


def _expected_slides(path) -> int:
    """Slides reveal.js will show: one per `slide` or `subslide` cell (skipped cells vanish)."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if _slide_type(c) != "skip"]
    assert _slide_type(cells[0]) == "slide", "the first shown cell must start a slide"
    return sum(_slide_type(c) in ("slide", "subslide") for c in cells)


def _stored_figures(path) -> int:
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code" and _slide_type(c) != "skip"]
    return sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)


lectures = pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)

# Characters of code that fit on one line of a slide. A code cell's box on a slide is 960 - 110 (prompt) - paddings
# wide in reveal's slide units and clips what overflows (.jp-InputArea-editor: overflow hidden); the code font is
# 19px `monospace` (nbconvert's reveal template), DejaVu Sans Mono under Chromium on Linux, 11.44 slide units a
# character. Measured in headless Chromium at 1280x800 on lecture 06's deck: the 70th character ends 7.9 screen px
# inside the box, the 71st is cut. (The slide is scaled as a whole, so the limit does not depend on the window.)
SLIDE_CODE_CHARS = 70


@lectures
def test_no_code_line_on_a_slide_is_cut_off_at_the_right_edge(path):
    """Every line of a code cell that the deck shows fits in its box (cells of slide type `skip` are not shown)."""
    too_long = [f"{path.name}, cell {i}, line {n} ({len(line)} characters): {line.strip()[:50]}..."
                for i, cell in enumerate(nbformat.read(path, as_version=4).cells)
                if cell.cell_type == "code" and _slide_type(cell) != "skip"
                for n, line in enumerate(cell.source.splitlines(), 1) if len(line) > SLIDE_CODE_CHARS]
    assert not too_long, (f"{len(too_long)} code lines are wider than a slide ({SLIDE_CODE_CHARS} characters); "
                          "wrap them:\n" + "\n".join(too_long))


@lectures
def test_section_headings_start_slides_and_subtopics_start_slides_or_subslides(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        kind = _slide_type(cell)
        assert kind is None or kind in SLIDE_TYPES, f"cell {i}: unknown slide_type {kind!r}"
        if cell.cell_type != "markdown":
            continue
        first = cell.source.lstrip().split("\n", 1)[0]
        if re.match(r"#{1,2} ", first):
            assert kind == "slide", f"cell {i} {first!r} is a section heading: slide_type must be 'slide', not {kind!r}"
        elif first.startswith("### "):
            assert kind in ("slide", "subslide"), f"cell {i} {first!r}: slide_type must be 'subslide', not {kind!r}"


@lectures
def test_setup_cell_is_skipped_in_the_slides(path):
    setup = nbformat.read(path, as_version=4).cells[1]
    assert "setup" in setup.metadata.get("tags", []), "cell 1 should be the setup cell (tag `setup`)"
    assert _slide_type(setup) == "skip"


def test_vendor_files_can_be_copied_into_the_same_deck_folder_again(tmp_path):
    """`make slides` twice: the second copy of vendor/ meets the hard links of the first, and a changed file wins."""
    cache, out = tmp_path / "cache", tmp_path / "out"
    (cache / "lib").mkdir(parents=True)
    (cache / "lib" / "a.js").write_text("one")
    _copy_tree(cache, out)
    _copy_tree(cache, out)
    (cache / "lib" / "a.js").unlink()
    (cache / "lib" / "a.js").write_text("two")  # a re-fetched cache: a new file, no longer the linked one
    _copy_tree(cache, out)
    assert (out / "lib" / "a.js").read_text() == "two"


@lectures
def test_lecture_draws_no_mermaid_diagram_so_the_offline_template_may_drop_mermaid(path):
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert "```mermaid" not in text, "this lecture needs mermaid.js: vendor it in tools/build_slides.py"


@pytest.fixture(scope="module")
def decks(tmp_path_factory):
    out = tmp_path_factory.mktemp("slides")
    try:
        build_slides(out)
    except VendorUnavailable as err:
        unavailable(f"cannot fetch reveal.js from npm: {err}")
    return out


@lectures
def test_deck_is_built_from_the_stored_outputs_with_every_script_local(decks, path):
    html = (decks / f"{path.stem}.slides.html").read_text()
    assert html.count("<section") == sum(2 if _slide_type(c) == "slide" else 1 for c in
                                          nbformat.read(path, as_version=4).cells
                                          if _slide_type(c) in ("slide", "subslide"))
    assert len(re.findall(r'<img[^>]*src="data:image/png', html)) == _stored_figures(path), "stored figures lost"
    external = [u for u in re.findall(r'<(?:script|link)[^>]*(?:src|href)="([^"]+)"', html) if "://" in u]
    assert not external, f"scripts or styles loaded from the network: {external}"
    for url in re.findall(r'(?:src|href)="(vendor/[^"?]+)', html) + ["vendor/reveal.js/plugin/notes/notes.js"]:
        assert (decks / url).is_file(), f"{url} is referenced but not shipped"
        if url.endswith(".css"):
            imports = re.findall(r"@import url\(([^)]*)\)", (decks / url).read_text())
            assert not [u for u in imports if "://" in u], f"{url} imports from the network: {imports}"


@pytest.fixture(scope="module")
def browser():
    with open_browser() as b:
        yield b


@pytest.fixture(scope="module")
def server(decks):
    with http_server(decks) as url:
        yield url


def _open_offline(browser, url):
    """A page showing ``url`` with every request off 127.0.0.1 refused; returns (page, console errors, refused)."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.set_default_timeout(TIMEOUT_MS)
    errors, refused = [], []
    page.on("console", lambda m: m.type == "error" and errors.append(f"{m.text} @ {m.location.get('url')}"))
    page.on("pageerror", lambda e: errors.append(str(e)))

    def offline(route):
        if is_local(route.request.url):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", offline)
    try:
        page.goto(url, wait_until="load")
        page.wait_for_selector(".reveal.ready")
    except Exception:
        page.close()
        raise
    return page, errors, refused


@pytest.fixture
def guard():
    with deadline(90):
        yield


@lectures
def test_deck_renders_offline_in_chromium_with_every_slide_and_no_console_error(browser, server, path, guard):
    page, errors, refused = _open_offline(browser, f"{server}/{path.stem}.slides.html")
    try:
        total = page.evaluate("""() => new Promise((resolve, reject) => {
            require(["vendor/reveal.js/dist/reveal.js"], R => resolve(R.getTotalSlides()), reject);
        })""")
        assert total == _expected_slides(path)
        assert page.evaluate("typeof MathJax !== 'undefined' && typeof MathJax.Hub !== 'undefined'"), "no MathJax"
        if "widgets" in nbformat.read(path, as_version=4).metadata:  # stored widget state: drawn without a kernel
            page.wait_for_selector(".widget-slider, .jupyter-widgets .widget-hslider", state="attached")
    finally:
        page.close()
    assert set(refused) <= {BADGE_IMAGE}, f"the deck asked the network for {sorted(set(refused))}"
    errors = [e for e in errors if BADGE_IMAGE not in e]
    assert not errors, "console errors:\n" + "\n".join(errors)


@lectures
def test_a_figure_below_its_code_can_be_scrolled_into_view_whole_and_is_saved_as_a_screenshot(browser, server, path,
                                                                                               guard):
    """Slides hold prose, code and then the figure, so most are taller than a 1280x800 screen. The deck must let a
    presenter reach the figure: on the first slide with a stored figure, a taller-than-screen slide scrolls (mouse
    wheel), and after scrolling the whole figure is on screen and drawn on top (what the screenshot shows)."""
    if not _stored_figures(path):
        pytest.skip(f"{path.name} has no stored figures yet (not executed): `make refresh NB=notebooks/{path.name}`")
    page, _, _ = _open_offline(browser, f"{server}/{path.stem}.slides.html")
    try:
        h, v = page.evaluate("""() => new Promise((resolve, reject) => {
            require(["vendor/reveal.js/dist/reveal.js"], R => {
                window.courseReveal = R;
                const s = [...document.querySelectorAll('.reveal .slides section')]
                    .find(s => !s.querySelector('section') && s.querySelector('img[src^="data:image/png"]'));
                const i = R.getIndices(s);
                resolve([i.h, i.v]);
            }, reject);
        })""")
        page.evaluate("([h, v]) => window.courseReveal.slide(h, v)", [h, v])
        page.wait_for_timeout(900)  # the slide transition
        figure = """() => {
            const img = window.courseReveal.getCurrentSlide().querySelector('img[src^="data:image/png"]');
            const b = img.getBoundingClientRect();
            const at = (x, y) => document.elementFromPoint(x, y) === img;
            return {top: b.top, bottom: b.bottom, width: b.width, natural: img.naturalWidth, screen: window.innerHeight,
                    shown: b.top >= 0 && b.bottom <= window.innerHeight
                           && at(b.left + b.width / 2, b.top + b.height / 2) && at(b.left + 4, b.bottom - 4)
                           && at(b.right - 4, b.top + 4)};
        }"""
        before = page.evaluate(figure)
        assert before["width"] > 100 and before["natural"] > 100, "figure not drawn"
        page.mouse.move(640, 400)
        for _ in range(150):  # a presenter's trackpad, a little at a time, until the figure's bottom is on screen
            state = page.evaluate(figure)
            if state["shown"] or state["bottom"] <= state["screen"]:
                break
            page.mouse.wheel(0, 60)
            page.wait_for_timeout(50)
        state = page.evaluate(figure)
        assert state["shown"], (f"slide {h}/{v}: its figure is not wholly on a 1280x800 screen after scrolling "
                                f"(before {before}, after {state}): is `SlidesExporter.reveal_scroll` on in "
                                "tools/build_slides.py?")
        assert (h, v) != (0, 0), "the title slide should hold no figure"
        page.evaluate("() => new Promise(resolve => MathJax.Hub.Queue(resolve))")  # formulas typeset
        page.screenshot(path=str(screenshot_path(f"{path.stem}_slide_{h}_{v}.png")))
        # what the screenshot shows: no formula twice, as MathJax's preview beside its typeset copy
        drawn_twice = page.evaluate("""() => [...document.querySelectorAll('section.present .MathJax_Preview')]
            .filter(p => p.textContent.trim() && getComputedStyle(p).display !== 'none').map(p => p.textContent)""")
        assert not drawn_twice, f"formulas shown twice, as MathJax's preview and typeset: {drawn_twice}"
    finally:
        page.close()


# ------------------------------------------------------------------ hide-input: the figure without its plotting code

SLIDE_CELL_STATE = """cellId => new Promise((resolve, reject) => {
    require(["vendor/reveal.js/dist/reveal.js"], R => {
        const cell = document.getElementById('cell-id=' + cellId);
        if (!cell) { resolve(null); return; }
        const slide = cell.closest('section');
        const i = R.getIndices(slide);
        R.slide(i.h, i.v);
        setTimeout(() => {
            const input = cell.querySelector('.jp-InputArea'), img = cell.querySelector('img[src^="data:image/png"]');
            resolve({current: R.getCurrentSlide() === slide, slideText: slide.innerText,
                     codeShown: !!input && input.checkVisibility(), codeText: input ? input.innerText : '',
                     figureShown: !!img && img.checkVisibility() && img.naturalWidth > 0});
        }, 900);  // the slide transition
    }, reject);
})"""


def test_the_deck_settings_remove_the_code_of_cells_tagged_hide_input():
    from tools.build_slides import HIDE_INPUT, SETTINGS

    assert SETTINGS["TagRemovePreprocessor.remove_input_tags"] == HIDE_INPUT == "hide-input"
    assert SETTINGS["TagRemovePreprocessor.enabled"] == "True"


def test_a_marked_cell_shows_its_figure_without_its_code_on_its_slide_and_teaching_code_stays(browser, server, guard):
    marked, teaching = marked_and_teaching_cells()
    page, errors, _ = _open_offline(browser, f"{server}/{HIDE_INPUT_LECTURE.stem}.slides.html")
    try:
        for cell in marked:
            state = page.evaluate(SLIDE_CELL_STATE, cell["id"])
            assert state is not None, f"cell {cell['id']} is not in the deck"
            assert state["current"] and state["figureShown"], f"cell {cell['id']}: its figure is not shown: {state}"
            assert not state["codeShown"] and cell["key"] not in state["slideText"], (
                f"cell {cell['id']} is tagged hide-input but its slide shows its code ({cell['key']!r})")
        state = page.evaluate(SLIDE_CELL_STATE, teaching["id"])
        assert state["current"] and state["codeShown"] and "def conv2d_by_hand" in state["codeText"], state
    finally:
        page.close()
