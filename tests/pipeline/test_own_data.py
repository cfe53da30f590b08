"""The docs' "your data" examples (docs/your-data.md), run exactly as written: its bash lines in order and its YAML
merged into params.yaml, in a copy of the session's synthetic pipeline run (so the synthetic champion is
there, and must be judged not comparable rather than crash the register stage)."""
import json
import re
import shlex
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.pipeline.test_feature_store import assert_store_parity

pytestmark = pytest.mark.slow


def readme_examples() -> dict[str, list[tuple[str, str]]]:
    "Example title -> its code blocks (language, text), in order, from the docs' worked examples (docs/your-data.md)."
    text = (REPO / "docs" / "your-data.md").read_text()
    section = text.split("\n## The data-quality gate", 1)[0]
    return {title.strip(): re.findall(r"```(bash|yaml)\n(.*?)```", body, re.S)
            for title, body in re.findall(r"\n## (.*?)\n(.*?)(?=\n## |\Z)", section, re.S)}


def merge(base: dict, change: dict) -> dict:
    "`change` merged into `base` key by key (nested mappings merged, everything else replaced)."
    for key, value in change.items():
        base[key] = merge(base.get(key) or {}, value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return base


def follow(example: str, root) -> str:
    "Run one docs example in `root`; returns the combined output of its commands."
    output = ""
    for language, block in readme_examples()[example]:
        if language == "yaml":
            params = root / "params.yaml"
            params.write_text(yaml.safe_dump(merge(yaml.safe_load(params.read_text()), yaml.safe_load(block)),
                                             sort_keys=False))
            continue
        for line in filter(None, (line.strip() for line in block.splitlines())):
            result = subprocess.run(shlex.split(line), cwd=root, capture_output=True, text=True)
            output += result.stdout + result.stderr
            assert result.returncode == 0, f"{line}:\n{output[-4000:]}"
    return output


@pytest.fixture()
def run_copy(pipeline_run, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(pipeline_run, root, symlinks=True)
    return root


def assert_waited_then_promoted_by_hand(root, output: str) -> None:
    "The first run finished with the challenger waiting for a person (the synthetic champion cannot score the new data); the promote line made it champion."
    assert "waits for a person" in output and "Scores: none this run: champion" in output, output[-4000:]
    decision = json.loads((root / "reports" / "registry" / "decision.json").read_text())
    assert decision["promoted"] and decision["manual"] and decision["champion"] == decision["version"], decision
    assert decision["champion_not_comparable"].startswith("champion v1 "), decision  # the synthetic champion
    assert "data-metric='champion'>" + decision["version"] in (root / "reports" / "index.html").read_text()


def test_the_readme_has_both_examples():
    assert list(readme_examples()) == ["A purchase log (`event_log`)", "A customer table (`snapshot_table`)"]


def test_purchase_log_example(run_copy):
    output = follow("A purchase log (`event_log`)", run_copy)
    assert "stage 'ingest' warns: " in output and "identical to an earlier row" in output, output[-3000:]
    assert_waited_then_promoted_by_hand(run_copy, output)
    events = pd.read_parquet(run_copy / "data" / "raw" / "events.parquet")
    assert set(events.event_type) == {"purchase"} and events.ts.min() >= pd.Timestamp("2025-01-01")
    assert not events.duplicated().any()
    labelled = pd.read_parquet(run_copy / "data" / "features" / "labelled.parquet")
    assert {"sum_items_purchase_30d", "last_items_purchase"} <= set(labelled.columns), "every mapped measure is used"
    scores = pd.read_parquet(run_copy / "data" / "predictions" / "scores.parquet")
    assert len(scores) > 100 and scores.churn_probability.between(0, 1).all()
    assert assert_store_parity(run_copy) > 100, "the event-log path's features in the feature store"


def test_customer_table_example(run_copy):
    output = follow("A customer table (`snapshot_table`)", run_copy)
    assert "column 'TotalCharges'" in output and "blank cell(s)" in output, output[-3000:]
    assert_waited_then_promoted_by_hand(run_copy, output)
    scored = pd.read_parquet(run_copy / "data" / "predictions" / "scores.parquet")
    newer = pd.read_csv(run_copy / "data" / "external" / "customers_scoring.csv")
    assert sorted(scored.customer_id) == sorted(newer.customerID), "the newer table is the one scored"
    assert (scored.as_of_date == pd.Timestamp("2025-05-31")).all()
    assert assert_store_parity(run_copy) > 100, "text customer ids, blank cells: the same rows from the store"
    drift = json.loads((run_copy / "reports" / "monitoring" / "drift.json").read_text())
    assert max(f["score"] for f in drift["feature_drift"].values()) > 0, "a month later the table differs"
