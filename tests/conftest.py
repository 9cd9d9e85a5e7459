"""Session-wide fixtures: one local Ray cluster for every test that needs one."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest

_RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",  # else Ray 2.60 warns and writes ~/.ray/auth_token
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
}


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A local 2-CPU Ray cluster, started once (about 7 s) and shut down at the end.

    Its temporary folder is short (Ray's socket paths must fit in 107 bytes) and removed.
    """
    ray = pytest.importorskip("ray")
    os.environ.update(_RAY_ENV)
    temp_dir = tempfile.mkdtemp(prefix="r", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _temp_dir=temp_dir)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
