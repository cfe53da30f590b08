"""The documentation site as a newcomer reads it: `mkdocs build --strict` (a link to a missing page or anchor fails the
build), served on this machine, every page opened in Debian's chromium: no request leaves the machine, no console error,
every link within the site reaches a page and an anchor that exist, and the search finds a topic."""
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port
from tests.reports.test_browser import assert_offline_and_clean, browser, visit  # noqa: F401 (the browser fixture)

MKDOCS = str(Path(sys.executable).parent / "mkdocs")
TOPICS = {"index.html", "setup.html", "pipeline.html", "decisions.html", "your-data.html", "serving.html", "feature-store.html",
          "streaming.html", "experiments.html", "deployment.html", "production.html", "benchmarks.html"}


@pytest.fixture(scope="module")
def docs_site(tmp_path_factory):
    "The site built from README.md and docs/, served by a plain HTTP server on 127.0.0.1 (stopped after the module)."
    out = tmp_path_factory.mktemp("site")
    built = subprocess.run([MKDOCS, "build", "--strict", "--site-dir", str(out)], cwd=REPO, capture_output=True,
                           text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                               str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/index.html", timeout=5).close()
            break
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "the docs server did not start"
            time.sleep(0.2)
    yield base, out
    server.terminate()
    server.wait(timeout=30)


def test_the_home_page_is_the_readme(docs_site):
    base, out = docs_site
    home = (out / "index.html").read_text()
    assert "Two commands" in home and "make pipeline" in home and "The map of the house" in home
    assert 'href="serving.html"' in home and "docs/serving.md" not in home  # README's links, made site-relative


def test_every_page_opens_offline_and_every_link_lands(browser, docs_site):  # noqa: F811
    base, out = docs_site
    pages = sorted(p.name for p in out.glob("*.html") if p.name != "404.html")
    assert TOPICS <= set(pages), sorted(TOPICS - set(pages))
    broken = []
    for name in pages:
        seen = visit(browser, f"{base}/{name}")
        assert_offline_and_clean(seen, name)
        assert seen.page.locator("h1").first.is_visible(), f"{name}: no visible title"
        for link in seen.page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)"):
            if not link.startswith(base + "/"):
                continue  # external addresses are links a reader may follow, never loaded by the page
            target, _, anchor = link[len(base) + 1:].partition("#")
            path = out / (target or name)
            if not path.is_file():
                broken.append(f"{name} -> {link}: no such page")
            elif anchor and path.suffix == ".html" and f'id="{anchor}"' not in path.read_text():
                broken.append(f"{name} -> {link}: no such anchor")
        seen.page.context.close()
    assert broken == [], broken


def test_search_finds_the_streaming_page(browser, docs_site):  # noqa: F811
    base, _ = docs_site
    seen = visit(browser, f"{base}/index.html")
    page = seen.page
    page.keyboard.press("s")  # the theme's search shortcut opens the search dialog
    query = page.locator("#mkdocs-search-query")
    query.wait_for(state="visible", timeout=30_000)
    streaming = page.locator('#mkdocs-search-results a[href*="streaming.html"]')
    deadline = time.monotonic() + 60
    while not streaming.count():  # keys typed before the index is built find nothing: type again until it answers
        assert time.monotonic() < deadline, "the search never listed the streaming page for 'kafka'"
        query.fill("")
        query.press_sequentially("kafka", delay=20)  # the theme searches on key presses
        page.wait_for_timeout(500)
    assert_offline_and_clean(seen, "search")
    page.context.close()
