"""The suite's own scheduling: ``--dist loadgroup`` sees the ``xdist_group`` of a test.

``make test`` relies on groups to run each expensive module fixture (the published models'
ONNX export, their golden-rule directory) on one xdist worker, and the real-worker tests one
after another on one worker. A group reaches the scheduler only as a ``@group`` suffix of the
node id (tests/conftest.py); without it the tests of a group are spread over the workers and
every worker builds the fixture again, which nothing else would notice.
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("suite-self-check")
def test_a_grouped_test_carries_its_group_under_loadgroup(request: pytest.FixtureRequest) -> None:
    loadgroup = bool(getattr(request.config.option, "loadgroup", False))
    assert request.node.nodeid.endswith("@suite-self-check") == loadgroup, request.node.nodeid


def test_an_ungrouped_test_keeps_its_id(request: pytest.FixtureRequest) -> None:
    assert "@" not in request.node.nodeid
