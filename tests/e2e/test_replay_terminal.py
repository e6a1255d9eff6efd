"""On a terminal, `replay` shows a progress bar instead of waiting silently."""

import os
import pty
import subprocess
from pathlib import Path

from adapters.eventstore import EventSourcedPaymentStore, persistence_env
from tests.cli_process import COMMAND, cli_env
from tests.generated import generate


def test_replay_on_a_terminal_draws_a_progress_bar(
    base_env: dict[str, str], tmp_path: Path
) -> None:
    data = Path(base_env["PAYMENTS_DATA_DIR"])
    store = EventSourcedPaymentStore.from_env(persistence_env(None, data / "events.db"))
    generate(store, 2000)
    store.close()
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [COMMAND, "replay"],
        env={**cli_env(base_env), "COLUMNS": "100", "TERM": "xterm"},
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        screen += chunk
    assert process.wait(60) == 0
    text = screen.decode(errors="replace")
    assert "rebuilding history" in text
    assert "history: rebuilt from 7938 events" in text
