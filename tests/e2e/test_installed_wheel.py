"""The wheel, installed into a fresh virtualenv far from the source tree, runs on PostgreSQL."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.conftest import JWT_SECRET, ROOT, WEBHOOK_SECRET, make_token, with_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHIPPED = sorted(path.name for path in (ROOT / "migrations" / "postgres").glob("*.sql"))
SOURCES = ("pyproject.toml", "README.md", "src", "migrations")  # what the build reads


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    site_packages: Path

    def command(self, *args: str) -> list[str]:
        return [str(self.venv / "bin" / "payment-service"), *args]


def run(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheel from a copy of the sources, install it with its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    built = run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(work), "."],
                cwd=source)  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = work.glob("payment_service-*.whl")
    venv = work / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    added = run([*pip, "--python", str(python), "install", "--no-compile", str(wheel)], cwd=work)
    assert added.returncode == 0, added.stderr
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    return Installed(wheel=wheel, venv=venv, site_packages=Path(site.stdout.strip()))


@pytest.fixture
def outside(tmp_path: Path, installed: Installed) -> dict[str, str]:
    """An environment that knows nothing of the checkout: no PYTHONPATH, no dev virtualenv."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PAYMENTS_", "STRIPE_", "PYTHON", "VIRTUAL_ENV"))
    }
    return {
        **keep,
        "PATH": f"{installed.venv / 'bin'}:{keep.get('PATH', '')}",
        "PAYMENTS_DATA_DIR": str(tmp_path / "var"),
        "PAYMENTS_JWT_SECRET": JWT_SECRET,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


@pytest.fixture
def new_database(postgres_server_url: str) -> Iterator[str]:
    name = f"payments_wheel_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_server_url, name)
    with psycopg.connect(postgres_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(url: str, process: "subprocess.Popen[str]") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"the installed service did not become ready: {process.communicate()[0][-3000:]}")


def test_the_wheel_carries_every_migration(installed: Installed) -> None:
    names = zipfile.ZipFile(installed.wheel).namelist()
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("migrations/postgres/")) == (
        SHIPPED
    )
    assert not [n for n in names if n.startswith(("src/", "tests/"))]


def test_the_installed_code_is_the_wheel_not_the_checkout(
    installed: Installed, outside: dict[str, str], tmp_path: Path
) -> None:
    probe = "import entrypoints, migrations as m; print(entrypoints.__file__); print(m.__file__)"
    found = run([str(installed.venv / "bin" / "python"), "-c", probe], env=outside, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    for path in found.stdout.split():
        assert Path(path).is_relative_to(installed.site_packages)


def test_migrate_serve_charge_and_history_from_the_installed_wheel(
    installed: Installed, outside: dict[str, str], new_database: str, tmp_path: Path
) -> None:
    env = {**outside, "PAYMENTS_DATABASE_URL": new_database}

    migrated = run(installed.command("migrate"), env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.startswith(f"applied {len(SHIPPED)} migration(s): {', '.join(SHIPPED)}")

    port = free_port()
    server = subprocess.Popen(
        installed.command("serve", "--host", "127.0.0.1", "--port", str(port)),
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server)
        headers = {"Authorization": f"Bearer {make_token('wheel-user')}"}
        body = {"amount": 4200, "currency": "eur", "paymentMethodId": "pm_card_visa"}
        charged = httpx.post(f"{url}/api/payments/process", json=body, headers=headers, timeout=10)
        assert charged.status_code == 201, charged.text
        assert charged.json()["status"] == "succeeded"
        payment_id = charged.json()["paymentId"]
        deadline = time.monotonic() + 5
        history = httpx.get(f"{url}/api/payments/history", headers=headers, timeout=10)
        # the read model follows the log: the row comes, then its succeeded status
        while [p["status"] for p in history.json().get("payments", [])] != [
            "succeeded"
        ] and time.monotonic() < deadline:
            time.sleep(0.05)
            history = httpx.get(f"{url}/api/payments/history", headers=headers, timeout=10)
    finally:
        server.send_signal(signal.SIGTERM)
        exit_code = server.wait(timeout=30)
    assert history.status_code == 200, history.text
    assert [(p["id"], p["amount"], p["status"]) for p in history.json()["payments"]] == [
        (payment_id, 4200, "succeeded")
    ]
    assert exit_code == 0


def test_an_install_without_its_migrations_refuses_to_migrate(
    installed: Installed, outside: dict[str, str], new_database: str, tmp_path: Path
) -> None:
    shipped_dir = installed.site_packages / "migrations" / "postgres"
    kept = tmp_path / "kept"
    shutil.move(shipped_dir, kept)
    shipped_dir.mkdir()
    try:
        env = {**outside, "PAYMENTS_DATABASE_URL": new_database}
        result = run(installed.command("migrate"), env=env, cwd=tmp_path)
    finally:
        shipped_dir.rmdir()
        shutil.move(kept, shipped_dir)

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"migrate: no migration files (*.sql) in {shipped_dir}; "
        "this installation lacks its SQL: reinstall payment-service"
    ]
