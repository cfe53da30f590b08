"""Behavioural tests of a model trained by the real training code on generated data (Made With ML style):
invariance, direction, and minimum functionality on hand-built customers."""
import pytest

from churnops.features import build_features, split_labelled
from churnops.generate import generate_churn_data
from churnops.model import model_inputs, predict
from churnops.params import load_params
from churnops.registry import behaviour_checks
from churnops.train import fit_candidates, time_split


@pytest.fixture(scope="module")
def trained(repo):
    params = load_params(repo / "params.yaml")
    customers, events = generate_churn_data(n_customers=2_000, n_days=150, seed=5)
    labelled, _ = split_labelled(build_features(customers, events, params["features"], params["schema"]))
    train, test = time_split(labelled, params["train"]["test_snapshots"], params["train"]["gap_days"])
    model, _, _ = fit_candidates(train, params["train"], params["expectations"])
    return model, test, params["expectations"]


def risk(model, rows):
    return predict(model, rows)


def test_invariance_customer_id_does_not_change_the_score(trained):
    model, test, _ = trained
    renamed = test.assign(customer_id=test.customer_id + 10_000_000)
    assert (risk(model, test) == risk(model, renamed)).all()
    assert "customer_id" not in model_inputs(model)


def test_direction_inactivity_and_failed_payments_do_not_lower_risk(trained):
    "The declared expectations of params.yaml hold on the holdout, for every feature they name."
    model, test, expectations = trained
    failures, records = behaviour_checks(model, test, expectations)
    assert failures == []
    checked = {r["feature"] for r in records}
    assert {"days_since_last_event", "days_since_last_payment_failed", "n_payment_failed_30d"} <= checked, checked


def test_minimum_functionality_on_hand_picked_customers(trained):
    "Clear cases, picked from real rows so that every feature is consistent with the others."
    model, test, _ = trained
    engaged = test[(test.days_since_last_session <= 1) & (test.n_session_30d >= test.n_session_30d.quantile(0.75))
                   & (test.n_payment_failed_90d == 0) & (test.n_support_contact_30d == 0)]
    fading = test[(test.days_since_last_session >= 14) & (test.trend_session_7_30d < 0)]
    assert len(engaged) >= 20 and len(fading) >= 20, (len(engaged), len(fading))
    assert risk(model, fading).mean() > 2 * risk(model, engaged).mean()
    assert fading.churned.mean() > engaged.churned.mean(), "the picked cases are clear in the data, too"


def test_the_v2_predecessor_size_gets_a_first_champion(repo):
    "2,000 customers x 120 days, seed 42 (the V2 size): the default declarations pass and the gate promotes."
    from churnops.contract import split_columns
    from churnops.evaluate import best_single_feature, classification_metrics, ranking_metrics
    from churnops.registry import promotion_decision

    params = load_params(repo / "params.yaml")
    customers, events = generate_churn_data(n_customers=2_000, n_days=120, seed=42)
    labelled, _ = split_labelled(build_features(customers, events, params["features"], params["schema"]))
    train, test = time_split(labelled, params["train"]["test_snapshots"], params["train"]["gap_days"])
    model, leaderboard, _ = fit_candidates(train, params["train"], params["expectations"])
    failures, _ = behaviour_checks(model, test, params["expectations"])
    assert failures == [], leaderboard.to_string()
    column, sign = best_single_feature(train, split_columns(train)[0])
    baseline = ranking_metrics(test.churned, sign * test[column])
    promoted, reason = promotion_decision(classification_metrics(test.churned, predict(model, test)), None, baseline,
                                          failures, params["register"]["gate"])
    assert promoted, reason
