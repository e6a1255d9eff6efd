"""The embedded default keeps its data to its own user: files 0600, the data dir 0700."""

import stat
from collections.abc import Callable
from pathlib import Path

from litestar.testing import TestClient

from entrypoints.container import Container
from entrypoints.http.app import create_app
from tests.conftest import bearer

VISA = {"amount": 2500, "currency": "usd", "paymentMethodId": "pm_card_visa"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_0600_and_the_data_dir_0700(
    base_env: dict[str, str], make_container: Callable[[dict[str, str]], Container], user_id: str
) -> None:
    data_dir = Path(base_env["PAYMENTS_DATA_DIR"])
    data_dir.mkdir(parents=True, mode=0o755)
    data_dir.chmod(0o755)  # as a careless operator might have made it
    with TestClient(create_app(make_container(base_env))) as client:
        assert client.post("/api/payments/process", json=VISA, headers=bearer(user_id)).is_success

    databases = sorted(p for p in data_dir.iterdir() if p.name.endswith((".db", "-wal", "-shm")))
    assert {p.name for p in databases} >= {"events.db", "history.db", "audit-chain.db"}
    assert {p.name: mode(p) for p in databases} == {p.name: 0o600 for p in databases}
    assert mode(data_dir) == 0o700
