"""write_atomic: the whole new content or the old, the file's mode kept, nothing left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from spfmanager.files import atomic
from spfmanager.files.atomic import NEW_FILE_MODE, write_atomic


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_data_and_the_default_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.zone"
    write_atomic(path, "text é\n")
    assert path.read_bytes() == "text é\n".encode()
    assert _mode(path) == NEW_FILE_MODE
    assert os.listdir(tmp_path) == ["new.zone"]


def test_bytes_are_written_as_they_are_and_str_in_the_encoding(tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_atomic(path, b"\x00\xff\r\n")
    assert path.read_bytes() == b"\x00\xff\r\n"
    write_atomic(path, "a\r\nb", encoding="ascii")
    assert path.read_bytes() == b"a\r\nb"  # no newline translation
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "é", encoding="ascii")
    assert path.read_bytes() == b"a\r\nb" and os.listdir(tmp_path) == ["f"]


def test_the_replaced_file_keeps_its_mode_unless_one_is_given(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("old", encoding="ascii")
    path.chmod(0o600)
    write_atomic(path, "new")
    assert (path.read_text(encoding="ascii"), _mode(path)) == ("new", 0o600)
    write_atomic(path, "newer", mode=0o644)
    assert (path.read_text(encoding="ascii"), _mode(path)) == ("newer", 0o644)


def test_the_inode_is_replaced_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"old")
    with path.open("rb") as reader:  # a reader holding the old file keeps reading it whole
        write_atomic(path, b"new")
        assert reader.read() == b"old"
    assert path.read_bytes() == b"new"


def test_the_temporary_is_named_beside_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        seen.append((os.path.basename(src), os.path.dirname(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    write_atomic(tmp_path / "z.zone", "x")
    write_atomic(tmp_path / "z.zone", "y", prefix=".z.zone.tag-", suffix=".part")
    (default, default_dir), (custom, custom_dir) = seen
    assert default.startswith(".z.zone.") and default.endswith(".tmp")
    assert custom.startswith(".z.zone.tag-") and custom.endswith(".part")
    assert default_dir == custom_dir == str(tmp_path)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"old")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["data"]


def test_a_symlink_is_replaced_as_named(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_bytes(b"old")
    link = tmp_path / "link"
    link.symlink_to(target)
    write_atomic(link, b"new")
    assert not link.is_symlink() and link.read_bytes() == b"new"
    assert target.read_bytes() == b"old"


def test_the_directory_is_fsynced_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    monkeypatch.setattr(atomic, "fsync_directory", synced.append)
    write_atomic(tmp_path / "a", b"1")
    write_atomic(tmp_path / "b", b"2", fsync_dir=False)
    assert synced == [tmp_path]


def test_fsync_directory_passes_over_what_it_cannot_open(tmp_path: Path) -> None:
    atomic.fsync_directory(tmp_path)
    atomic.fsync_directory(tmp_path / "missing")  # no error
