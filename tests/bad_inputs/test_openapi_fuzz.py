"""Generated requests against the server's own OpenAPI schema: never a 5xx.

schemathesis draws valid and invalid path, query and header values for every operation (the
event stream excepted: it never ends), half of them aimed at real runs -- a healthy one, one
with artifacts and every damaged run of the bad-input table -- so that deep code paths run,
not only the id check. Derandomized and bounded (a fixed number of examples per operation).
"""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
import schemathesis
from cases import RUNS, good_run
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from deepscope.server.app import create_app
from deepscope.store.rundir import slug

sys.path.insert(0, str(Path(__file__).parents[1] / "server"))
from server_runs import write_run  # noqa: E402

EXAMPLES = 50  # per operation and generation mode
SKIP = {"/api/events"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, TestClient]:
    root = tmp_path_factory.mktemp("fuzz-runs")
    good_run(root / "ok")
    write_run(root / "mlp-a", name="mlp-a")
    for case in RUNS:
        case.make(root / slug(case.name))
    app = create_app(root, static_dir=root / "no-static")
    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    return schemathesis.openapi.from_dict(app.openapi()), client


def _send(client: TestClient, case) -> int | None:  # noqa: ANN001
    """The status of ``case`` sent to the app, or None when httpx refuses to send it."""
    try:
        client.cookies = case.cookies or {}
        response = client.request(case.method, case.formatted_path, params=case.query,
                                  headers=case.headers)
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError, ValueError):
        return None
    return response.status_code


def _strategy(operation, run_ids: list[str]) -> st.SearchStrategy:  # noqa: ANN001
    wants_run = "{run_id}" in operation.path
    options = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        options.append(operation.as_strategy(generation_mode=mode))
        if wants_run:
            options += [operation.as_strategy(generation_mode=mode,
                                              path_parameters={"run_id": rid})
                        for rid in run_ids]
    return st.one_of(options)


def test_no_generated_request_gets_a_server_error(served) -> None:  # noqa: ANN001
    schema, client = served
    run_ids = ["ok", "mlp-a", *(slug(c.name) for c in RUNS)]
    sent: dict[str, int] = {}
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in SKIP:
            continue

        @settings(max_examples=EXAMPLES * 2, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=_strategy(operation, run_ids))
        def check(case) -> None:  # noqa: ANN001
            status = _send(client, case)
            if status is None:
                return
            sent[case.operation.path] = sent.get(case.operation.path, 0) + 1
            if status >= 500:
                errors.append(f"{case.method} {case.formatted_path} {case.query} -> {status}")

        check()
    total = sum(sent.values())
    print(f"schemathesis: {total} requests over {len(sent)} operations, "
          f"{len(errors)} server errors")
    assert len(sent) >= 12 and total >= 1000
    assert not errors, "\n".join(errors[:10])
