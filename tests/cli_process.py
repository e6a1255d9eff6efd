"""Runs `payment-service` as a real process with a given environment."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

COMMAND = shutil.which("payment-service") or str(Path(sys.executable).parent / "payment-service")


def cli_env(env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PAYMENTS_", "STRIPE_"))}
    return {**keep, **env}


def run_cli(
    env: dict[str, str], *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args],
        env=cli_env(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(env: dict[str, str], *args: str, cwd: Path) -> "subprocess.Popen[str]":
    return subprocess.Popen(
        [COMMAND, *args],
        env=cli_env(env),
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
