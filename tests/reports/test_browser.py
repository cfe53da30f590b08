"""The reports as an analyst sees them: Debian's chromium, driven by Playwright, opens the landing page, both Great
Expectations Data Docs sites, the Evidently report, every executed notebook (from files, as from a file share) and
every Voila dashboard (served by `churnops dashboards`). Each page: its key elements are visible, the numbers it shows
equal the run's JSON results, no request leaves the machine (any other address is refused and recorded) and the
browser console shows no error. Screenshots go to reports/screenshots/ (the README shows copies from docs/)."""
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

SCREENSHOTS = REPO / "reports" / "screenshots"
LOCAL = re.compile(r"^(file:|data:|blob:|about:|https?://(127\.0\.0\.1|localhost)[:/])")


@pytest.fixture(scope="module")
def browser():
    "One headless chromium (the Debian build: Playwright cannot download browsers here) for every page of this module."
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    assert executable, "chromium is not installed: `make system-tools` installs it"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@dataclass
class Visit:
    page: object
    left_the_machine: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def visit(browser, url: str, screenshot: str | None = None, wait_for: str | None = None, timeout_ms: int = 30_000) -> Visit:
    "Open `url` in a fresh context that refuses every non-local request; wait for `wait_for` text; screenshot."
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    seen = Visit(page)

    def route(request_route):
        if LOCAL.match(request_route.request.url):
            request_route.continue_()
        else:
            seen.left_the_machine.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    page.on("console", lambda message: seen.console_errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.console_errors.append(str(error)))
    page.goto(url, wait_until="load", timeout=timeout_ms)
    if wait_for:
        page.get_by_text(wait_for).first.wait_for(timeout=timeout_ms)
    # Settled = every image decoded and every font loaded (what a screenshot and a reader need). Not "networkidle":
    # Playwright discourages it, and on a busy machine it timed out on a page that had long finished loading.
    page.wait_for_function("document.readyState === 'complete' && [...document.images].every(image => image.complete)",
                           timeout=timeout_ms)
    page.evaluate("document.fonts.ready.then(() => true)")
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"))
    return seen


def assert_offline_and_clean(seen: Visit, what: str) -> None:
    assert seen.left_the_machine == [], f"{what} asked the network for {seen.left_the_machine[:5]}"
    assert seen.console_errors == [], f"{what}: console errors {seen.console_errors[:5]}"


def result(root: Path, relative: str) -> dict:
    return json.loads((root / "reports" / relative).read_text())


def test_landing_page_shows_the_runs_numbers_plots_and_links(pipeline_run, browser):
    seen = visit(browser, (pipeline_run / "reports" / "index.html").as_uri(), "landing_page")
    page = seen.page
    metrics, decision = result(pipeline_run, "evaluation/metrics.json"), result(pipeline_run, "registry/decision.json")
    drift = result(pipeline_run, "monitoring/drift.json")
    model = page.locator("#card-model")
    for metric in ("roc_auc", "pr_auc", "baseline_roc_auc", "baseline_pr_auc"):
        assert model.locator(f"[data-metric={metric}]").inner_text() == f"{metrics[metric]:.3f}", metric
    gate = page.locator("#card-gate")
    assert gate.locator("[data-metric=promoted]").inner_text() == ("promoted" if decision["promoted"] else "not promoted")
    assert gate.locator("[data-metric=version]").inner_text() == str(decision["version"])
    for name, relative in (("raw-data", "validation/raw_data.json"), ("features", "validation/features.json")):
        card, validation = page.locator(f"#card-data-{name}"), result(pipeline_run, relative)
        assert card.is_visible()
        assert int(card.locator("[data-metric=expectations]").inner_text()) == validation["expectations"]
        assert int(card.locator("[data-metric=succeeded]").inner_text()) == sum(r["success"] for r in validation["results"])
        assert int(card.locator("[data-metric=failed_blocking]").inner_text()) == validation["failed_blocking"]
    card = page.locator("#card-drift")
    assert card.locator("[data-metric=drift_share]").inner_text() == f"{drift['drift_share']:.2f}"
    assert card.locator("[data-metric=drift_share_threshold]").inner_text() == f"{drift['drift_share_threshold']:.2f}"
    assert page.locator("#card-retrain").is_visible()
    assert model.locator("[data-metric=calibration_error]").inner_text() == f"{metrics['calibration_error']:.3f}"
    contact = result(pipeline_run, "contact/summary.json")
    card = page.locator("#card-contact")
    assert card.locator("[data-metric=contacts]").inner_text() == f"{contact['contacts']:,}"
    assert card.locator("[data-metric=expected_saved_value]").inner_text() == f"{contact['expected_saved_value']:,.0f}"
    assert card.locator("table.top tr").count() == 1 + min(5, contact["contacts"])  # header + the top of the list
    images = page.locator("img")
    assert images.count() == 4  # gain, calibration, budget curve, drift
    for i in range(images.count()):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 300"), f"plot {i} did not render"
    text = page.locator("body").inner_text()
    assert "Out[" not in text and str(pipeline_run) not in page.content(), "no notebook prompt, no machine path"
    links = page.locator("section.links a")
    assert links.count() >= 15
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href")
        assert (pipeline_run / "reports" / href).is_file(), f"broken link {href}"
    assert_offline_and_clean(seen, "the landing page")


@pytest.mark.parametrize("site", ["raw_data", "features"])
def test_data_docs_sites_open_without_a_network_and_count_what_the_gate_counted(pipeline_run, browser, site):
    docs = pipeline_run / "reports" / "data_docs" / site
    validation = result(pipeline_run, f"validation/{site}.json")
    seen = visit(browser, (docs / "index.html").as_uri(), f"data_docs_{site}")
    suites = sorted({r["suite"] for r in validation["results"]})
    for suite in suites:
        assert seen.page.get_by_role("link", name=suite).first.is_visible(), suite
    assert_offline_and_clean(seen, f"the {site} Data Docs index")
    for suite in suites:
        page_path = next((docs / "validations" / suite).rglob("*.html"))
        seen = visit(browser, page_path.as_uri(), f"data_docs_{site}_{suite}" if suite == suites[0] else None)
        evaluated = seen.page.locator("tr", has_text="Evaluated Expectations").locator("td").nth(1).inner_text()
        assert int(evaluated) == sum(r["suite"] == suite for r in validation["results"]), suite
        failed = seen.page.locator("tr", has_text="Unsuccessful Expectations").locator("td").nth(1).inner_text()
        assert int(failed) == sum(r["suite"] == suite and not r["success"] for r in validation["results"]), suite
        assert seen.page.locator("link[rel=stylesheet]").count() >= 5 and seen.page.evaluate("() => !!window.jQuery")
        assert_offline_and_clean(seen, f"the {site}/{suite} validation page")


def test_evidently_report_renders_offline_with_the_monitors_numbers(pipeline_run, browser):
    drift = result(pipeline_run, "monitoring/drift.json")
    expected = f"({drift['drifted_count']} out of {len(drift['feature_drift'])})"
    seen = visit(browser, (pipeline_run / "reports" / "monitoring" / "evidently" / "index.html").as_uri(), "evidently",
                 wait_for=expected)
    assert seen.page.get_by_text("Dataset Drift", exact=True).first.is_visible()
    assert_offline_and_clean(seen, "the Evidently report")


def test_every_executed_notebook_opens_offline_without_warnings_or_errors(pipeline_run, browser):
    notebooks = sorted((pipeline_run / "reports" / "notebooks").glob("*.html"))
    assert {p.stem for p in notebooks} >= {"ingest", "validate", "features", "train", "evaluate", "register", "score", "monitor"}
    for path in notebooks:
        seen = visit(browser, path.as_uri(), f"notebook_{path.stem}" if path.stem == "evaluate" else None)
        assert seen.page.locator(".jp-Notebook").is_visible(), path.name
        text = seen.page.locator("body").inner_text()
        for noise in ("TqdmWarning", "Traceback", "IProgress not found"):
            assert noise not in text, f"{path.name} shows {noise}"
        assert_offline_and_clean(seen, path.name)


@pytest.fixture(scope="module")
def dashboards(pipeline_run):
    "`churnops dashboards` (Voila) on a free port of 127.0.0.1, stopped at the end of the module."
    import time

    import httpx
    port = free_port()
    server = subprocess.Popen(["churnops", "dashboards", "--port", str(port)], cwd=pipeline_run,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            assert server.poll() is None, "churnops dashboards exited"
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("dashboard", ["model_overview", "data_quality", "drift", "experiment"])
def test_voila_dashboards_render_the_runs_numbers(pipeline_run, browser, dashboards, dashboard):
    drift, raw = result(pipeline_run, "monitoring/drift.json"), result(pipeline_run, "validation/raw_data.json")
    champion = json.loads((pipeline_run / "models" / "champion" / "bundle.json").read_text())
    expected = {"model_overview": f"holdout ROC AUC {champion['holdout']['roc_auc']:.3f}",
                "data_quality": f"raw_data: passed — {raw['expectations']} expectations",
                "drift": f"drift share {drift['drift_share']:.2f}", "experiment": "No experiment analysed yet"}[dashboard]
    seen = visit(browser, f"{dashboards}/voila/render/{dashboard}.ipynb", f"dashboard_{dashboard}", wait_for=expected,
                 timeout_ms=120_000)
    text = seen.page.locator("body").inner_text()
    assert "Traceback" not in text and "Error" not in text, text[-1500:]
    assert_offline_and_clean(seen, f"the {dashboard} dashboard")


def test_the_experiment_dashboard_plans_with_a_live_calculator(pipeline_run, browser, dashboards):
    "The sample-size calculator runs in the dashboard's kernel: a changed effect gets the plan `plan_sample_size` makes."
    import pandas as pd

    from churnops.experiment import plan_sample_size, starting_plan
    from churnops.params import load_params
    before = starting_plan(pipeline_run)  # params.yaml's plan at the labelled data's retention (no analysis here)
    labelled = pd.read_parquet(pipeline_run / "data" / "features" / "labelled.parquet")
    settings = load_params(pipeline_run / "params.yaml")["experiment"]
    assert before["baseline_retention"] == round(float(1 - labelled.churned.mean()), 3)
    assert before["minimum_detectable_effect"] == settings["minimum_detectable_effect"] and before["alpha"] == settings["alpha"]
    after = plan_sample_size(before["baseline_retention"], 0.05, before["alpha"], before["power"], before["share_b"])
    text = lambda plan: f"{plan['customers_a']:,} customers in A and {plan['customers_b']:,} in B"
    seen = visit(browser, f"{dashboards}/voila/render/experiment.ipynb", wait_for=text(before), timeout_ms=120_000)
    effect = seen.page.get_by_label("retention change to detect")
    effect.fill("0.05")
    effect.press("Enter")
    seen.page.get_by_text(text(after)).wait_for(timeout=30_000)
    assert after["customers"] < before["customers"]
    assert_offline_and_clean(seen, "the experiment calculator")
