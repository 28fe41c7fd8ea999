"""``nas spaces list|show``: output and one-line errors with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nas.cli.main import main


def test_list_shows_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("tiny-digits", "usdn-resnet20-cifar10", "usdn-resnet18-imagenet", "usdn-mobilenetv1-cifar100"):
        assert name in out


def test_show_uniform_prints_paper_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "show", "usdn-resnet18-imagenet", "--uniform", "4,4", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "34.698 GBOPs" in out
    assert "262,144 configurations" in out
    assert "layer4.1.conv2" in out


def test_show_yaml_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spaces", "show", "tiny-digits", "--yaml"]) == 0
    copy = tmp_path / "mine.yaml"
    copy.write_text(capsys.readouterr().out.replace("threshold: 0.8", "threshold: 0.9"))
    assert main(["spaces", "show", str(copy)]) == 0
    assert "threshold = 0.9" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["spaces", "show", "missing.yaml"], "no such space file"),
        (["spaces", "show", "tiny-digits", "--uniform", "4"], "--uniform"),
        (["spaces", "show", "tiny-digits", "--uniform", "4,0"], "outside 1..32"),
    ],
)
def test_bad_input_is_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_console_script_zero_budget_file(tmp_path: Path) -> None:
    bad = tmp_path / "zero.yaml"
    bad.write_text(Path(__file__).parents[3].joinpath("spaces/presets/tiny-digits.yaml").read_text()
                   .replace("target_bops: 5.5e6", "target_bops: 0"))
    result = subprocess.run([sys.executable, "-m", "nas.cli.main", "spaces", "show", str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"nas: error: {bad}: budget.target_bops: must be > 0, got 0.0"


def test_help_for_every_subcommand() -> None:
    for argv in (["--help"], ["spaces", "--help"], ["spaces", "show", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 0
