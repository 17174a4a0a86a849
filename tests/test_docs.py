"""The README documents every command and setting (it drifts otherwise)."""

from pathlib import Path

from click.testing import CliRunner

from vpcflow import settings
from vpcflow.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_command_is_in_the_readme():
    # through click's API: commands load from their modules on first use
    names = main.list_commands(None)
    missing = [name for name in names if f"vpcflow {name}" not in README]
    assert missing == [] and len(names) > 10
    for group in ("aws", "enrich"):
        for sub in main.get_command(None, group).commands:
            assert f"vpcflow {group} {sub}" in README, f"vpcflow {group} {sub}"


def test_every_setting_is_in_the_readme():
    assert [s.env for s in settings.SETTINGS.values() if f"`{s.env}`" not in README] == []


def test_readme_setup_commands_and_help_work():
    assert "make demo" in README and "make test" in README
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0 and "ingest" in result.output
