"""The README gallery: run every lesson in notebooks/ in a real JupyterLab with headless
Chromium, and write docs/gallery/<lesson>.png (the output holding the lesson's first view) and
docs/gallery/<lesson>.html (the lesson's run, exported with NNViz.to_html; one page per NNViz:
<lesson>-<variable>.html where a lesson shows several).

    .venv/bin/python scripts/screenshots.py [NOTEBOOK ...]      (make screenshots)

The HTML pages are large (the widget's bundle and the whole run) and are not committed; the PNGs
are. It uses the JupyterLab fixtures of tests/lab (the same server and checks as
tests/lab/test_lab_lessons.py); Chromium is Debian's /usr/bin/chromium.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import nbformat  # noqa: E402

from tests.lab.conftest import CHROMIUM, CHROMIUM_ARGS, start_lab_server  # noqa: E402
from tests.lab.labtools import lesson_expectations, run_lesson  # noqa: E402

GALLERY = REPO / "docs" / "gallery"

# Appended to each lesson's copy: export every NNViz and Comparison the lesson made (as it stands;
# a view shown inside a comparison goes out with it, a view held by two names once).
EXPORT_CELL = """
import nnviz_widget as _nnv
_runs = {}
for _name, _obj in list(globals().items()):
    if not _name.startswith("_") and isinstance(_obj, (_nnv.NNViz, _nnv.Comparison)):
        if all(_obj is not _seen for _seen in _runs.values()):
            _runs[_name] = _obj
_inside = {id(_v) for _c in _runs.values() if isinstance(_c, _nnv.Comparison) for _v in _c.views}
_runs = {_name: _obj for _name, _obj in _runs.items() if id(_obj) not in _inside}
for _name, _obj in _runs.items():
    _page = OUT + ("" if len(_runs) == 1 else "-" + _name) + ".html"
    _obj.to_html(_page, overwrite=True, title=TITLE)
    print("exported", _page)
"""


def main(argv: list[str]) -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install -y chromium")
        return 1
    from playwright.sync_api import sync_playwright

    lessons = [Path(a).resolve() for a in argv] or sorted((REPO / "notebooks").glob("*.ipynb"))
    GALLERY.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, start_lab_server(Path(tmp)) as server:
        for path in lessons:
            nb = nbformat.read(str(path), as_version=4)
            title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
            export = EXPORT_CELL.replace("OUT", repr(str(GALLERY / path.stem)))
            export = export.replace("TITLE", repr(title))
            nb.cells.append(nbformat.v4.new_code_cell(export.strip()))
            nbformat.write(nb, str(server.root_dir / path.name))
            shot = GALLERY / f"{path.stem}.png"
            t0 = time.monotonic()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                page = browser.new_page(viewport={"width": 1600, "height": 1100})
                try:
                    run_lesson(page, server, path.name, lesson_expectations(path), shot)
                finally:
                    browser.close()
            made = [shot, *sorted(GALLERY.glob(f"{path.stem}.html"))]
            made += sorted(GALLERY.glob(f"{path.stem}-*.html"))
            sizes = ", ".join(f"{p.relative_to(REPO)} {p.stat().st_size:,} B" for p in made)
            print(f"{path.name}: {time.monotonic() - t0:.0f} s, {sizes}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
