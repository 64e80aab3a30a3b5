"""Session-wide fixtures. Each area's fixtures live in tests/fixtures/<area>.py."""

from __future__ import annotations

pytest_plugins = [
    "tests.fixtures.common",
    "tests.fixtures.corpus",
    "tests.fixtures.sparse",
    "tests.fixtures.dense",
    "tests.fixtures.reader",
    "tests.fixtures.video",
    "tests.fixtures.ray_cluster",
]
