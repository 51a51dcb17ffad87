"""The course website (``make site``, ``tools/build_site.py``): every lecture in it, in the README's order, built
from the stored outputs, and usable offline in a browser.

The fast tests check what the build is made of (table of contents, alt text, widgets, pages from the README). The
browser tests build the site once, serve it on 127.0.0.1 and open every page in headless Chromium with every
request off 127.0.0.1 refused: no console error, no failed request, formulas typeset, images loaded, internal links
that resolve, search, an axe-core accessibility check, and screenshots in ``_build/site-screenshots/``.
"""

import json
import re
import urllib.parse
from pathlib import Path

import pytest
from browser_helpers import (
    HIDE_INPUT_LECTURE,
    ROOT,
    TIMEOUT_MS,
    deadline,
    http_server,
    is_local,
    marked_and_teaching_cells,
    open_browser,
    unavailable,
)

from course_utils.colab import REPOSITORY
from tools.build_site import (
    LOCAL_BADGE,
    WIDGET_VIEW,
    code_titles,
    course_order,
    figure_alt,
    home_page,
    missing_from_readme,
    prepare_notebook,
)
from tools.build_slides import CACHE, VendorUnavailable, fetch_vendor

README = (ROOT / "README.md").read_text()
LECTURES = sorted((ROOT / "notebooks").glob("0*.ipynb"))
SCREENSHOTS = ROOT / "_build" / "site-screenshots"
AXE = {"axe-core@4.10.3": ("axe-core", ["axe.min.js"])}
SITE_URL = "https://{}.github.io/{}/".format(*REPOSITORY.split("/"))


def _cell(kind, source, outputs=()):
    cell = {"cell_type": kind, "source": source, "metadata": {}}
    if kind == "code":
        cell["outputs"] = list(outputs)
    return cell


PNG = {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}}


# ------------------------------------------------------------------------------------------ what the site holds

@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem)
def test_lecture_is_in_the_readme_table_and_in_the_sites_table_of_contents(path, tmp_path):
    rel = f"notebooks/{path.name}"
    assert rel in [row["path"] for row in course_order()], f"add {rel} to the lecture table in README.md"
    toctree = re.findall(r"```\{toctree\}(.*?)```", home_page(README, tmp_path), flags=re.S)
    assert any(f"\n{rel.removesuffix('.ipynb')}\n" in block for block in toctree), f"{rel} is not in the site's toc"


def test_site_follows_the_readme_order_and_shows_the_student_homework():
    paths = [row["path"] for row in course_order()]
    lectures = [p for p in paths if Path(p).name.startswith("0")]
    assert lectures == sorted(lectures), "the README's lecture table is out of order"
    assert "notebooks/hw2_unet_segmentation.ipynb" in paths and not [p for p in paths if "homework/" in p]
    assert missing_from_readme() == []


def test_a_notebook_missing_from_the_readme_is_reported():
    readme = re.sub(r"^\| 03 \|.*\n", "", README, flags=re.M)
    assert "notebooks/03_pca_and_autoencoders.ipynb" in missing_from_readme(readme)


def test_alt_text_comes_from_the_figure_titles_in_the_code():
    code = 'fig, ax = plt.subplots()\nax.set(title=("A long " "title"), xlabel="x")\nfig.suptitle("Top")\n'
    assert code_titles(code) == ["A long title", "Top"]
    assert code_titles('show_images(x, title=f"β = {beta:g}: samples")') == ["β = …: samples"]
    cells = [_cell("markdown", "## 2 · Pooling"), _cell("code", code, [PNG])]
    assert figure_alt(cells, 1) == "Figure: A long title; Top"


def test_alt_text_falls_back_to_the_section_and_what_to_notice():
    cells = [_cell("markdown", "## 3 · Noise\n\ntext"), _cell("code", "fig = draw(x)", [PNG]),
             _cell("markdown", "**What to notice:** the blur keeps the *edges*. Then more.")]
    assert figure_alt(cells, 1) == "Figure in the section 3 · Noise. What to notice: the blur keeps the edges."
    cells[2] = _cell("markdown", "Next topic.")
    assert figure_alt(cells, 1) == "Figure in the section 3 · Noise"


def test_every_stored_figure_of_every_lecture_gets_alt_text():
    for path in LECTURES:
        cells = prepare_notebook(json.loads(path.read_text()), path.name)["cells"]
        for cell in cells:
            if any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
                alt = cell["metadata"]["mystnb"]["image"]["alt"]
                assert alt.startswith("Figure") and len(alt) > len("Figure in the section "), (path.name, alt)


def test_a_widget_is_shown_as_the_figure_stored_in_its_state_and_the_badge_is_local():
    path = ROOT / "notebooks" / "01_convolution_by_hand.ipynb"
    original = json.loads(path.read_text())
    nb = prepare_notebook(json.loads(path.read_text()), path.name)
    assert "widgets" not in nb["metadata"]
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
    i = next(i for i, c in enumerate(original["cells"]) if any(WIDGET_VIEW in o.get("data", {})
                                                               for o in c.get("outputs", [])))
    shown = nb["cells"][i]["outputs"]
    assert [o for o in shown if "image/png" in o["data"]], "the widget's stored figure is not shown"
    assert "Interactive widget" in shown[-1]["data"]["text/markdown"]
    title = nb["cells"][0]["source"]
    assert f"/{LOCAL_BADGE}" in title and "colab.research.google.com/assets" not in title
    assert "{download}`Download the notebook" in title and path.name in title


def test_readme_links_the_site_and_says_how_to_build_it():
    assert SITE_URL in README and "make site" in README
    assert re.search(r"^site:", (ROOT / "Makefile").read_text(), flags=re.M)
    workflow = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "tools.build_site" in workflow or "make site" in workflow


# ---------------------------------------------------------------------------------------- the site in a browser

@pytest.fixture(scope="session")
def site(tmp_path_factory):
    from tools.build_site import build_site

    try:
        return build_site(tmp_path_factory.mktemp("site") / "site")
    except VendorUnavailable as err:
        unavailable(f"cannot fetch MathJax from npm: {err}")


@pytest.fixture(scope="session")
def server(site):
    with http_server(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with open_browser() as b:
        yield b


@pytest.fixture(scope="session")
def axe_script():
    try:
        return fetch_vendor(CACHE, packages=AXE) / "axe-core" / "axe.min.js"
    except VendorUnavailable as err:
        unavailable(f"cannot fetch axe-core from npm: {err}")


class Visit:
    """A page opened with every request off 127.0.0.1 refused, and what went wrong while it loaded."""

    def __init__(self, browser, url, viewport=(1280, 800)):
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.page.set_default_timeout(TIMEOUT_MS)
        self.problems = []
        page = self.page
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: is_local(r.url) and self.problems.append(f"failed: {r.url}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

        def offline(route):
            if is_local(route.request.url):
                route.continue_()
            else:
                self.problems.append(f"external request: {route.request.url}")
                route.abort("internetdisconnected")

        page.route("**/*", offline)
        page.goto(url, wait_until="load")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.page.close()


def _pages(site):
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "_static" not in p.parts)


def _ids(html_file: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html_file.read_text()))


@pytest.mark.slow
@pytest.mark.browser
def test_every_page_loads_offline_with_math_images_and_links_that_work(site, server, browser):
    pages = _pages(site)
    assert {"index.html", "instructors.html", "BENCHMARKS.html", "licence.html", "search.html"} <= set(pages)
    assert {f"notebooks/{p.stem}.html" for p in LECTURES} <= set(pages)
    problems, links = [], set()
    for rel in pages:
        with deadline(90), Visit(browser, f"{server}/{rel}") as visit:
            page = visit.page
            if page.locator(".math").count():
                page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
                page.evaluate("() => MathJax.startup.promise")
                untypeset = page.evaluate("""() => [...document.querySelectorAll('.math')]
                    .filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 60))""")
                visit.problems += [f"formula not typeset: {t}" for t in untypeset]
            page.wait_for_function("() => [...document.images].every(i => i.complete)")
            broken = page.evaluate("() => [...document.images].filter(i => !(i.naturalWidth > 0)).map(i => i.src)")
            no_alt = page.evaluate("() => [...document.images].filter(i => !i.alt.trim()).map(i => i.src)")
            visit.problems += [f"image not loaded: {u}" for u in broken] + [f"image without alt: {u}" for u in no_alt]
            links |= set(page.evaluate("() => [...document.querySelectorAll('a[href]')].map(a => a.href)"))
            problems += [f"{rel}: {p}" for p in visit.problems]
    for url in sorted(u for u in links if u.startswith(server)):
        target, _, fragment = url.partition("#")
        path = site / urllib.parse.unquote(urllib.parse.urlparse(target).path).lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        if not path.is_file():
            problems.append(f"link to a missing file: {url}")
        elif fragment and path.suffix == ".html" and urllib.parse.unquote(fragment) not in _ids(path):
            problems.append(f"link to a missing anchor: {url}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.browser
def test_the_page_checks_catch_external_requests_missing_files_and_console_errors(browser, tmp_path):
    """The checks above can fail: a page that asks the network, misses an image and logs an error is caught."""
    (tmp_path / "bad.html").write_text(
        '<html lang="en"><body><img alt="a" src="https://example.org/x.png"><img alt="b" src="missing.png">'
        "<script>console.error('broken')</script></body></html>")
    with deadline(60), http_server(tmp_path) as url, Visit(browser, f"{url}/bad.html") as visit:
        problems = "\n".join(visit.problems)
    assert "external request: https://example.org/x.png" in problems
    assert "HTTP 404" in problems and "missing.png" in problems
    assert "console: broken" in problems


def _search(browser, server, query):
    with Visit(browser, f"{server}/search.html?q={urllib.parse.quote(query)}") as visit:
        visit.page.wait_for_selector("#search-results ul.search li", state="attached")
        return visit.page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')]"
                                   ".map(a => a.getAttribute('href'))")


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("which", ["first", "last"])
def test_search_finds_a_phrase_from_the_first_and_the_last_lecture(site, server, browser, which):
    lectures = [row for row in course_order() if Path(row["path"]).name.startswith("0")]
    row = lectures[0] if which == "first" else lectures[-1]
    # lecture 01's subject is transposed convolution among others; the last lecture is found by its own title
    query = "transposed convolution" if which == "first" else row["title"]
    with deadline(60):
        hits = _search(browser, server, query)
    stem = Path(row["path"]).stem
    assert any(stem in (h or "") for h in hits), f"searching {query!r} does not find {stem}: {hits}"


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.parametrize("rel", ["index.html", "notebooks/01_convolution_by_hand.html"])
def test_no_serious_accessibility_violation_and_screenshots(site, server, browser, axe_script, rel):
    with deadline(120):
        with Visit(browser, f"{server}/{rel}") as visit:
            visit.page.add_script_tag(path=str(axe_script))
            result = visit.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [f"{v['id']} ({v['impact']}): {v['help']} — e.g. {v['nodes'][0]['html'][:150]}"
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, "axe-core:\n" + "\n".join(serious)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for name, size in {"phone": (390, 844), "desktop": (1280, 800)}.items():
            with Visit(browser, f"{server}/{rel}", viewport=size) as visit:
                if visit.page.locator(".math").count():
                    visit.page.evaluate("() => MathJax.startup.promise")
                width = visit.page.evaluate("() => document.documentElement.scrollWidth")
                assert width <= size[0], f"{rel} is {width} px wide on a {size[0]} px screen: it scrolls sideways"
                shot = SCREENSHOTS / f"{Path(rel).stem}_{name}.png"
                visit.page.screenshot(path=str(shot))
                assert shot.stat().st_size > 10_000


# ------------------------------------------------------------------- hide-input: plotting code folded, figure shown

SITE_CELL_STATE = """keys => keys.map(key => {
    const cell = [...document.querySelectorAll('div.cell')].find(c => {
        const input = c.querySelector('.cell_input');
        return input && input.textContent.includes(key);
    });
    if (!cell) return null;
    const input = cell.querySelector('.cell_input'), img = cell.querySelector('.cell_output img');
    return {codeShown: input.checkVisibility(), folded: !!input.closest('details:not([open])'),
            figureShown: !!img && img.checkVisibility() && img.getBoundingClientRect().width > 0
                         && img.naturalWidth > 0};
})"""


@pytest.mark.slow
@pytest.mark.browser
def test_a_marked_plotting_cell_is_folded_with_its_figure_shown_and_teaching_code_is_in_view(site, server, browser):
    marked, teaching = marked_and_teaching_cells()
    rel = f"notebooks/{HIDE_INPUT_LECTURE.stem}.html"
    with deadline(90), Visit(browser, f"{server}/{rel}") as visit:
        page = visit.page
        page.wait_for_function("() => [...document.images].every(i => i.complete)")
        states = page.evaluate(SITE_CELL_STATE, [c["key"] for c in marked + [teaching]])
        assert None not in states, f"cells not found on {rel}: {[c for c, s in zip(marked, states) if s is None]}"
        *hidden, taught = states
        for cell, state in zip(marked, hidden):
            assert state == {"codeShown": False, "folded": True, "figureShown": True}, (cell, state)
        assert taught["codeShown"] and not taught["folded"], f"the teaching code is not in view: {taught}"
        # one click opens the folded code
        page.locator("div.cell.tag_hide-input", has=page.locator(".cell_output img")).first.locator(
            "summary").click()
        first = page.evaluate(SITE_CELL_STATE, [marked[0]["key"]])[0]
        assert first["codeShown"] and not first["folded"], f"a click does not show the folded code: {first}"
        assert not visit.problems, visit.problems


@pytest.mark.slow
@pytest.mark.browser
def test_the_benchmark_summary_fits_a_1280_pixel_screen_without_scrolling_sideways(site, server, browser):
    with deadline(60), Visit(browser, f"{server}/BENCHMARKS.html", viewport=(1280, 800)) as visit:
        box = visit.page.evaluate("""() => {
            const table = document.querySelector('#summary table');
            const box = table.getBoundingClientRect(), wrapper = table.parentElement;
            return {heading: table.querySelector('th').textContent.trim(), right: box.right,
                    overflow: wrapper.scrollWidth - wrapper.clientWidth, screen: window.innerWidth};
        }""")
    assert box["heading"] == "lecture", box
    assert box["overflow"] <= 1 and box["right"] <= box["screen"], (
        f"the summary table is wider than its column at 1280 px ({box}): shorten what cannot wrap")
