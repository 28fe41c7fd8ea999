"""Progress of the long training phases: bars, lines, or nothing."""

from __future__ import annotations

import io

import pytest

from nas.runtime.training_progress import EpochProgress, progress_mode


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_mode_follows_quiet_and_the_terminal() -> None:
    assert progress_mode(False, _Terminal()) == "off"
    assert progress_mode(True, _Terminal()) == "bar"
    assert progress_mode(True, io.StringIO()) == "lines"


def test_lines_report_every_epoch(capsys: pytest.CaptureFixture[str]) -> None:
    progress = EpochProgress("supernet", 2, "lines")
    for epoch in range(2):
        progress(epoch, {"loss": 0.5, "train_acc_exit0": 0.9, "train_acc_exit1": 0.95})
    progress.close()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["supernet epoch 1/2", "supernet epoch 2/2"]
    assert "loss 0.500, train acc per exit 0.90 0.95" in lines[1]


def test_off_is_silent_and_bar_renders_in_the_driver(capsys: pytest.CaptureFixture[str]) -> None:
    quiet = EpochProgress("teacher", 3, "off")
    quiet(0, {"loss": 1.0})
    quiet.close()
    assert capsys.readouterr() == ("", "")
    bar = EpochProgress("teacher", 3, "bar")
    for epoch in range(3):
        bar(epoch, {"loss": 1.0})
    bar.close()
    err = capsys.readouterr().err
    assert "teacher (loss 1.000)" in err and "100%" in err


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="progress mode"):
        EpochProgress("x", 1, "loud")
