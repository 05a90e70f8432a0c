from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from visionflow import __version__
from visionflow.cli import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"visionflow {__version__}"


def test_bad_flag_value_names_the_flag() -> None:
    result = runner.invoke(app, ["serve", "--agents", "0"])
    assert result.exit_code == 2
    assert "--agents" in result.output and "greater than or equal to 1" in result.output


def test_bad_physics_choice_names_the_flag() -> None:
    result = runner.invoke(app, ["serve", "--physics", "quantum"])
    assert result.exit_code == 2
    assert "--physics" in result.output


def test_bad_log_level_names_the_flag() -> None:
    result = runner.invoke(app, ["serve", "--log-level", "chatty"])
    assert result.exit_code == 2
    assert "--log-level" in result.output


def test_mcp_source_needs_a_target() -> None:
    result = runner.invoke(app, ["serve", "--source", "mcp"])
    assert result.exit_code == 2
    assert "--mcp-command" in result.output and "--mcp-url" in result.output


def test_bad_mcp_profile_names_the_flag() -> None:
    args = ["serve", "--source", "mcp", "--mcp-url", "http://127.0.0.1:1/mcp", "--mcp-profile", "/nonexistent/p.yaml"]
    result = runner.invoke(app, [*args, "--http-port", "0", "--ws-port", "0"])
    assert result.exit_code == 2
    assert "--mcp-profile" in result.output and "cannot read" in result.output


@pytest.mark.parametrize(
    ("extra", "flag", "message"),
    [
        (["--mcp-env", "NO_EQUALS_SIGN"], "--mcp-env", "not KEY=VALUE"),
        (["--mcp-env", "1ST=x"], "--mcp-env", "not a variable name"),
        (["--mcp-cwd", "/nonexistent/dir"], "--mcp-cwd", "not a directory"),
    ],
)
def test_bad_mcp_environment_or_directory_names_the_flag(extra: list[str], flag: str, message: str) -> None:
    args = ["serve", "--source", "mcp", "--mcp-command", "orchestrator mcp start", *extra]
    result = runner.invoke(app, [*args, "--http-port", "0", "--ws-port", "0"])
    assert result.exit_code == 2, result.output
    assert f"error: {flag}:" in result.output and message in result.output


def test_environment_and_directory_do_not_go_with_a_url(tmp_path: Path) -> None:
    args = ["serve", "--source", "mcp", "--mcp-url", "http://127.0.0.1:1/mcp", "--mcp-cwd", str(tmp_path)]
    result = runner.invoke(app, [*args, "--http-port", "0", "--ws-port", "0"])
    assert result.exit_code == 2 and "--mcp-cwd" in result.output and "--mcp-command" in result.output


def test_db_current_says_behind_until_db_upgrade_migrates(tmp_path: Path) -> None:
    behind = runner.invoke(app, ["db", "current", "--data-dir", str(tmp_path)])
    assert behind.exit_code == 1 and "behind: run visionflow db upgrade" in behind.output
    upgraded = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert upgraded.exit_code == 0 and "database at revision 0001" in upgraded.output
    current = runner.invoke(app, ["db", "current", "--data-dir", str(tmp_path)])
    assert current.exit_code == 0 and current.output.startswith("0001") and "up to date" in current.output


def test_db_commands_name_a_bad_or_unreachable_database() -> None:
    bad = runner.invoke(app, ["db", "current", "--database-url", "mysql://somewhere/x"])
    assert bad.exit_code == 2 and "--database-url" in bad.output
    away = runner.invoke(app, ["db", "current", "--database-url", "postgresql://nobody@127.0.0.1:1/none"])
    assert away.exit_code == 1 and "127.0.0.1:1" in away.output and "Connect" in away.output


def test_serve_names_a_database_it_cannot_open(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--database-url", "postgresql://nobody@127.0.0.1:1/none", "--ws-port", "0",
                                 "--http-port", "0", "--physics", "cpu"])  # fmt: skip
    assert result.exit_code == 1 and "--database-url: cannot open the store" in result.output
