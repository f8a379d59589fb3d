"""Files haocha writes — the database and its -wal/-shm, backups, exports, reports, rejected rows, case sheets,
QR codes and sheets, charts — are owner-only (0600) from the moment they exist, or readable by one group
(0640) when ``[files] group`` in haocha.toml names it. They hold personal data (phones, comments, cases).

A file is created by ``os.open`` with mode 0600, so that it is never world-readable, not even for an instant
(the usual umask 022 would make it 0644); then its group is set and only after that is it opened to the group
— in that order, so that no other group can read it meanwhile. A file that existed already is brought to the
same mode. Folders haocha creates for its output are 0700 (0750 with the group); a folder that exists is
never changed: it is the user's.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from haocha_cli.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    from haocha_cli.config import Config


@dataclass(frozen=True)
class Modes:
    """How haocha's files and folders are created: their modes, and the group they belong to (None: the
    creating process's own, the group being shut out anyway)."""

    file: int = 0o600
    folder: int = 0o700
    gid: int | None = None
    group: str = ""


OWNER_ONLY = Modes()


def modes(config: Config) -> Modes:
    """The modes of ``config``'s ``files.group`` ('' = owner only). A group this system does not have, or one
    this user may not give files to, is a ConfigError — raised before anything is written."""
    name = config["files.group"]
    if not name:
        return OWNER_ONLY
    where = config.sources["files.group"]  # the haocha.toml that names it
    try:
        import grp
    except ImportError:  # Windows: no Unix groups
        raise ConfigError(f"{where}: files.group = {name!r} needs Unix groups, which this system does not have",
                          'set files.group = "" (owner-only files)') from None
    try:
        gid = grp.getgrnam(name).gr_gid
    except KeyError:
        raise ConfigError(f"{where}: files.group names the group {name!r}, which this system does not have",
                          f"create it with groupadd {name}, or correct [files] group; an empty group means"
                          " owner-only files") from None
    if os.geteuid() != 0 and gid != os.getegid() and gid not in os.getgroups():
        raise ConfigError(f"{where}: files.group names the group {name!r}, which you are not a member of, so haocha"
                          " cannot give its files to it",
                          f"add your user to it with usermod -aG {name} <user> and log in again, or correct"
                          " [files] group")
    return Modes(0o640, 0o750, gid, name)


def _settle(fd: int, m: Modes) -> None:
    # The group first, then the mode: the file is opened to the right group only.
    if m.gid is not None:
        os.fchown(fd, -1, m.gid)
    os.fchmod(fd, m.file)


def create(path: str | Path, m: Modes = OWNER_ONLY, *, exclusive: bool = False) -> int:
    """A file descriptor open for writing on ``path``, created (or truncated) with the mode of ``m``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        _settle(fd, m)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(path: str | Path, mode: str = "w", m: Modes = OWNER_ONLY, **kwargs: Any) -> IO[Any]:
    """``open(path, mode, **kwargs)`` for writing ("w" or "wb"), the file created with the mode of ``m``."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_file writes a new file: mode 'w' or 'wb', not {mode!r}")
    fd = create(path, m)
    try:
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_text(path: str | Path, text: str, m: Modes = OWNER_ONLY, *, encoding: str = "utf-8") -> None:
    with open_file(path, "w", m, encoding=encoding) as fh:
        fh.write(text)


def write_bytes(path: str | Path, data: bytes, m: Modes = OWNER_ONLY) -> None:
    with open_file(path, "wb", m) as fh:
        fh.write(data)


def touch(path: str | Path, m: Modes = OWNER_ONLY) -> None:
    """An empty file with the mode of ``m``, for a library that opens the file itself (SQLite): opening an
    existing file keeps its mode. An existing file is left as it is."""
    try:
        os.close(create(path, m, exclusive=True))
    except FileExistsError:
        pass


def make_dirs(path: str | Path, m: Modes = OWNER_ONLY) -> None:
    """The folder ``path`` and its missing parents, each created with the folder mode of ``m``; the folders
    that exist already are left as they are."""
    path = Path(path)
    missing = []
    while not path.is_dir():
        if path.exists() or path.is_symlink():
            raise InvalidInput(f"{path} is a file, not a folder", "give a folder, or move the file away")
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:  # made meanwhile by another process: theirs
            continue
        if m.gid is not None:
            os.chown(folder, -1, m.gid)
        os.chmod(folder, m.folder)


@dataclass(frozen=True)
class Exposure:
    """Who besides the owner may use a file that should be private: ``who`` ("every user", "the group staff"),
    ``what`` ("read", "changed", "read and changed") and the file's ``mode``."""

    who: str
    what: str
    mode: int


def exposure(path: str | Path, m: Modes = OWNER_ONLY) -> Exposure | None:
    """How ``path`` is open beyond its owner and the group of ``m`` (with ``m.file``'s bits); None when it is
    not, or when there is no such file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    mode = stat.S_IMODE(st.st_mode)
    extra = mode & 0o077 & ~m.file
    if m.gid is not None and st.st_gid != m.gid:
        extra |= mode & 0o070  # a group, but not the one named
    if not extra:
        return None
    if extra & 0o007:
        who = "every user"
    else:
        try:
            import grp

            who = f"the group {grp.getgrgid(st.st_gid).gr_name}"
        except (ImportError, KeyError):
            who = f"the group {st.st_gid}"
    what = " and ".join(w for w, bits in (("read", 0o044), ("changed", 0o022)) if extra & bits) or "opened"
    return Exposure(who, what, mode)


def sidecars(db_path: str | Path) -> list[Path]:
    """The -wal and -shm files of a database (they may not exist)."""
    return [Path(f"{db_path}{suffix}") for suffix in ("-wal", "-shm")]


def settle_sidecars(db_path: str | Path, m: Modes) -> None:
    """Give the database's -wal and -shm the group of ``m``. SQLite creates them with the database file's mode,
    but (unless it runs as root) in the group of the process that opened the database first."""
    if m.gid is None:
        return
    for path in sidecars(db_path):
        try:
            if path.stat().st_gid != m.gid:
                os.chown(path, -1, m.gid)
        except OSError:  # gone meanwhile, or another user's (the web server's): it keeps its group
            pass
