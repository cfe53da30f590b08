"""The failover drill: two `churnops serve` regions behind a real health-checking proxy (Debian's HAProxy), the
primary killed under a bounded load and started again (benchmarks/failover_drill.py prints the numbers)."""
import pytest

from churnops.failover import run_drill
from tests.serving.test_api import trained  # noqa: F401  (the module's model bundles: a fixture)


@pytest.fixture(scope="module")
def drill(trained, repo, tmp_path_factory):  # noqa: F811
    root, rows = trained  # without haproxy the drill fails saying what installs it (`make system-tools`)
    return run_drill(str(root / "1"), repo / "params.yaml", rows, kill_at=3, restore_at=5, after_ready=4, rate=40,
                     workdir=tmp_path_factory.mktemp("drill"))


def test_no_request_fails_when_the_primary_region_dies_and_returns(drill):
    failures = [r for r in drill.records if r[1] != 200]
    assert drill.requests > 100 and drill.failed == 0, (drill.summary(), failures[:10], "see haproxy.log of the drill")
    # only an answer the kill cut off midway is sent again by the client: at most the requests then in flight
    assert drill.client_retries <= 4, drill.summary()
    assert set(drill.answered_by) == {"eu-west-1", "us-east-1"}, drill.summary()


def test_the_secondary_answers_while_the_primary_is_down_and_the_primary_takes_over_again(drill):
    assert drill.failover_seconds is not None and drill.failback_seconds is not None, drill.summary()
    down = {region for sent, _, region in drill.records
            if drill.killed_at + drill.failover_seconds <= sent < drill.primary_ready_at}
    assert down == {"us-east-1"}, "only the secondary answers while the primary is away"
    back = {region for sent, _, region in drill.records if sent > drill.primary_ready_at + drill.failback_seconds + 0.5}
    assert back == {"eu-west-1"}, "the primary serves again once it passes its health checks"
    before = {region for sent, _, region in drill.records if sent < drill.killed_at - 0.5}
    assert before == {"eu-west-1"}, "the secondary is a backup: idle while the primary is healthy"
