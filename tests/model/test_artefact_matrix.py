"""Every candidate pipeline, for every mix of column kinds a user's table brings, saves and loads through the model
artefact (skops, trusted types only) and scores the same after loading (issue 37.1: a linear candidate with
blank numeric cells could not be saved), and explains each of its scores exactly: the inputs' contributions and the
bias add up to the model's log-odds, for every candidate kind (issue 40.1); calibrated models (Platt scaling folded into
their parameters, issue 40.2) included."""
import numpy as np
import pandas as pd
import pytest

from churnops.contract import LABEL_COLUMN
from churnops.model import Predictor, load_model, save_model
from churnops.train import CANDIDATES, SINGLE_FEATURE, SMALL_MONOTONE, calibrate, make_model, model_columns

N = 240


def column_of(kind: str, rng: np.random.Generator) -> pd.Series:
    "One column of a customer table, of a kind users bring."
    if kind == "numbers":
        return pd.Series(rng.normal(50, 20, N))
    if kind == "numbers_with_gaps":
        return pd.Series(np.where(rng.random(N) < 0.05, np.nan, rng.gamma(2, 500, N)))
    if kind == "integers":
        return pd.Series(rng.integers(0, 72, N))
    if kind == "text_categories":
        return pd.Series(rng.choice(["Month-to-month", "One year", "Two year"], N), dtype="string")
    if kind == "booleans":
        return pd.Series(rng.random(N) < 0.3)
    if kind == "constant":
        return pd.Series(np.full(N, 7.0))
    if kind == "all_missing":
        return pd.Series(np.full(N, np.nan))
    raise ValueError(kind)


MIXES = {
    "numbers with gaps": ["numbers", "numbers_with_gaps"],
    "gaps and text": ["numbers_with_gaps", "text_categories", "integers"],
    "booleans and text": ["numbers", "booleans", "text_categories"],
    "a constant column": ["numbers_with_gaps", "constant", "text_categories"],
    "an all-missing column": ["numbers", "all_missing", "booleans"],
    "everything": ["numbers", "numbers_with_gaps", "integers", "text_categories", "booleans", "constant", "all_missing"],
}


@pytest.mark.parametrize("kind", [*CANDIDATES, SINGLE_FEATURE, SMALL_MONOTONE])
@pytest.mark.parametrize("mix", MIXES)
def test_every_candidate_saves_and_loads_for_every_mix_of_column_kinds(kind, mix, tmp_path):
    rng = np.random.default_rng(len(mix))
    table = pd.DataFrame({f"{k}_{i}": column_of(k, rng) for i, k in enumerate(MIXES[mix])})
    table[LABEL_COLUMN] = (rng.random(N) < 0.25).astype("int8")
    numeric, categorical, unused = model_columns(table)
    assert set(unused) == {c for c in table if c.startswith("all_missing")}
    if kind in (SINGLE_FEATURE, SMALL_MONOTONE):  # numeric features only, each monotone for the small model
        numeric, categorical = numeric[: 1 if kind == SINGLE_FEATURE else 5], []
    impute = bool(table[numeric].isna().any().any())  # as fit_candidates decides
    model = make_model(kind, numeric, categorical, {"max_iter": 20} if kind == "hist_gradient_boosting" else {},
                       monotonic=dict.fromkeys(numeric, 1) if kind == SMALL_MONOTONE else None,
                       impute=impute).fit(table[numeric + categorical], table[LABEL_COLUMN])
    uncalibrated = model.decision_function(table[numeric + categorical])
    calibrate(model, {"method": "platt", "slope": 0.7, "intercept": 0.3})  # folded into the model's own parameters
    np.testing.assert_allclose(model.decision_function(table[numeric + categorical]), 0.7 * uncalibrated + 0.3, atol=1e-9)
    save_model(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    before = model.predict_proba(table[numeric + categorical])[:, 1]
    predictor = Predictor(loaded, probe=table)
    after = predictor.predict(table)
    np.testing.assert_allclose(after, before, atol=1e-9)
    bias, contributions = predictor.scorer.contributions(predictor.scorer.design_frame(table))
    assert contributions.shape == (N, len(predictor.inputs))
    np.testing.assert_allclose(bias + contributions.sum(axis=1), np.log(before / (1 - before)), atol=1e-8)
    explained, reasons = predictor.explain(table)
    np.testing.assert_array_equal(explained, after)  # the reasons come with the very scores the model serves
    for row, row_reasons in zip(contributions, reasons):
        assert [r["contribution"] for r in row_reasons] == sorted(round(c, 6) for c in row if c > 0)[::-1][:3]
