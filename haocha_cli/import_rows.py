"""Reading a rating file's rows (读取与校验): the header (or a JSON object's keys) mapped to fields, each row
validated against the catalogue and the rules (haocha_cli.import_rules) into the values stored, or rejected with
a reason; a fixed rejects file's masked cells given back (the rejects round trip, docs/import.md).

A part of the import's batch (haocha_cli.importer._Job). The row loop (``_validate``) is the hot path of a
million-row file: look-ups are precomputed dicts, phones are hashed once per distinct number, and the rows go
to the writer (haocha_cli.import_writer) in groups.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
from typing import Any

from haocha_cli.config import LEVELS
from haocha_cli.context import Context
from haocha_cli.errors import HaochaError, InvalidInput
from haocha_cli.import_rules import (
    _ANONYMOUS,
    _NUMBER,
    _PHONE_MASK,
    _REF,
    _ROUNDS,
    _SCI,
    _SPLIT_TAGS,
    _UNSEEN,
    CACHE_LIMIT,
    CODED_LEVELS,
    EARLIEST_TEXT,
    RAW_LIMIT,
    REF_COLUMN,
    T,
    _excel_number,
    _field_label,
    _in_window,
    _LevelCode,
    _mask_any,
    _ref_key,
    _Reject,
    _stray_code_reason,
    _Tally,
    parse_time,
    reject_ref,
)
from haocha_cli.indicators import in_scope
from haocha_cli.privacy import mask_numbers, mask_values, masked_numbers, normalize_phone
from haocha_cli.profiles import FIELDS, LEVEL_SCALES, Profile, load_profile, normalize_header
from haocha_cli.readers import cell_text
from haocha_cli.spreadsheet import csv_safe


class RowReader:
    """The batch's reading side: header mapping, validation, rejected rows (see the module's docstring)."""

    def _map_header(self, header: list[str]) -> None:
        fields: dict[str, int] = {}
        sources: dict[str, str] = {}
        ignored = []
        for i, name in enumerate(header):
            target = self._target(name) if name else None
            if target is None:
                if name:
                    ignored.append(name)
                continue
            if target in fields:
                label = _field_label(target)
                raise InvalidInput(f"{self.file_name}: columns {sources[target]!r} and {name!r} both give {label}",
                                   'remove one of them, or in a profile map the other to "" to ignore it')
            fields[target] = i
            sources[target] = name
        if "item_name" in fields and "item_code" not in fields:
            fields["item_code"] = fields.pop("item_name")  # names only: the name column is the item column
        self.ignored = ignored
        self._check_required(fields, header)
        self.header = header
        self.width = len(header)
        self._build_getters(fields)

    def _check_required(self, fields: dict[str, int], header: list[str]) -> None:
        prof = self.profile
        required = ["rated_at", "level"]
        if not prof.rating_id_from or "rating_id" in fields:
            required.insert(0, "rating_id")
        else:
            required[:0] = [f for f in prof.rating_id_from if f not in prof.defaults]
        if "window_code" not in fields and not (prof.window_from_county and "county_code" in fields):
            required.append("window_code")
        if "channel" not in prof.defaults:
            required.append("channel")
        missing = [f for f in dict.fromkeys(required) if f not in fields and f not in prof.defaults]
        if missing:
            found = ", ".join(h for h in header if h) or "(none)"
            hint = f"columns found: {found}"
            lowered = {normalize_header(h) for h in header}
            if prof.name != "platform" and {"satisfaction", "assesstime"} & lowered:
                hint += "; these look like the provincial platform's fields: try --profile platform"
            raise InvalidInput(f"{self.file_name}: missing required column(s) "
                               f"{', '.join(_field_label(f) for f in missing)}", hint)

    def _build_getters(self, fields: dict[str, int]) -> None:
        """Row cells -> the canonical values in a fixed order, by one itemgetter call: absent fields read
        from a tail of defaults appended to the row."""
        order = list(FIELDS)
        tail: list[str] = []
        positions = []
        for name in order:
            if name in fields:
                positions.append(fields[name])
            else:
                positions.append(self.width + len(tail))
                tail.append(self.profile.defaults.get(name, ""))
        self.tail = tail
        self.getter = itemgetter(*positions)
        self.field_pos = {name: positions[i] for i, name in enumerate(order)}
        self.ind_codes = [c for c in self.ind_order if c in fields]
        self.ind_getter = itemgetter(*[fields[c] for c in self.ind_codes]) if self.ind_codes else None
        if len(self.ind_codes) == 1:
            getter = self.ind_getter
            self.ind_getter = lambda cells: (getter(cells),)
        self.phone_pos = fields.get("rater_phone")
        # Without an id column (or, in JSON, an id value) the profile may build the id from other fields.
        self.rid_from = None
        if self.profile.rating_id_from and ("rating_id" not in fields or not self.header):
            self.rid_from = list(self.profile.rating_id_from)

    def _json_setup(self) -> None:
        """JSON objects are turned into cells in the order of a fixed virtual header."""
        self.json_header = list(FIELDS) + self.ind_order
        self.json_index = {name: i for i, name in enumerate(self.json_header)}
        self.key_cache: dict[str, int | None] = {}
        self.ignored_keys: dict[str, None] = {}
        self.json_defaults = [self.profile.defaults.get(name, "") for name in self.json_header]
        self.header = []
        self.width = len(self.json_header)
        self._build_getters({name: i for i, name in enumerate(self.json_header)})

    def _cells_of(self, obj: dict[str, Any]) -> list[str]:
        cells = list(self.json_defaults)
        taken: dict[int, str] = {}
        for key, value in obj.items():
            index = self.key_cache.get(key, -1)
            if index == -1:
                target = self._target(key)
                index = self.json_index.get(target) if target else None
                self.key_cache[key] = index
                if index is None:
                    self.ignored_keys.setdefault(key)
            if index is None:
                continue
            text = cell_text(value)
            if index in taken:
                if text.strip() and cells[index].strip() and text.strip() != cells[index].strip():
                    raise _Reject("column_conflict", f"keys {taken[index]!r} and {key!r} both give "
                                                     f"{_field_label(self.json_header[index])}, differently")
                if cells[index].strip():
                    continue
            cells[index] = text
            taken[index] = key
        return cells

    def _reject_row(self, tally: _Tally, line: int, cells: list[str] | None, raw: str | None, code: str,
                    reason: str, obj: dict[str, Any] | None = None) -> tuple:
        """Count a rejected row and return it as stored: phone masked in the row, encrypted beside it.

        A phone number written in another cell (a comment, a misaligned row) is masked too; the cells masked
        are kept as they were, encrypted (cells_enc), for the rejects round trip. A line that could not be
        split is stored masked and kept whole, encrypted, for `--reveal-phones` and the round trip."""
        reason = mask_numbers(reason)  # a reason may quote the cell
        tally.count(line, code, reason)
        phone_enc = cells_enc = None
        originals: dict[str, Any] = {}
        if cells is not None and self.header:
            cells = list(cells[: self.width])
            if self.phone_pos is not None and self.phone_pos < len(cells) and cells[self.phone_pos].strip():
                phone_enc = self._encrypt(cells[self.phone_pos])
                originals[str(self.phone_pos)] = cells[self.phone_pos]
                cells[self.phone_pos] = _mask_any(cells[self.phone_pos])
            shown = []
            for i, cell in enumerate(cells):
                masked = mask_numbers(cell)
                if masked != cell:
                    originals[str(i)] = cell
                shown.append(masked)
            text = json.dumps(shown, ensure_ascii=False)
        elif obj is not None:
            obj = dict(obj)
            for key, value in obj.items():
                value_text = cell_text(value)
                if self.profile.field_for(key) == "rater_phone" and value_text.strip():
                    phone_enc = self._encrypt(value_text)
                    originals[key] = value
                    obj[key] = _mask_any(value_text)
                elif mask_numbers(value_text) != value_text:
                    originals[key] = value
                    obj[key] = mask_numbers(value_text)
            text = json.dumps(obj, ensure_ascii=False, default=str)
        else:
            raw = raw if raw is not None else ""
            if len(raw) > RAW_LIMIT:  # a "line" of a binary file: SQLite stores at most 1 GB in one value
                raw = raw[:RAW_LIMIT] + f"… ({len(raw) - RAW_LIMIT} more characters not kept)"
            masked = mask_numbers(raw)
            if masked != raw:
                phone_enc = self.ctx.vault._fernet.encrypt(raw.encode("utf-8")).decode("ascii")
            text = json.dumps(masked, ensure_ascii=False)
        if originals:
            cells_enc = self.ctx.vault._fernet.encrypt(
                json.dumps(originals, ensure_ascii=False, default=str).encode("utf-8")).decode("ascii")
        return (self.batch_id, line, text, code, reason, phone_enc, cells_enc)

    def _encrypt(self, text: str) -> str:
        return self.ctx.vault._fernet.encrypt(text.strip().encode("utf-8")).decode("ascii")

    def _restore_rows(self, rows: Iterator) -> Iterator:
        """The rows of a fixed rejects file with their masked cells given back (docs/import.md, "Rejected rows").

        A row whose reject_ref names a reject of this database (its check verifies) takes, in every cell that
        comes back as the rejects file wrote it, the cell as it was: the phone, a comment with a phone in it,
        a cell the file wrote with a leading apostrophe or with visible escapes. A cell that was changed is
        taken as typed. A reference gives back one row per file; one that names no reject here (typed,
        changed, another database's) does nothing. A file without the column is not touched."""
        if self.header:
            found = [i for i, h in enumerate(self.header) if normalize_header(h) == REF_COLUMN]
            if not found:
                return rows
            return self._restoring(rows, found[-1])
        return self._restoring(rows, None)

    def _restoring(self, rows: Iterator, ref_pos: int | None) -> Iterator:
        positions: dict[str, int] = {}
        for i, name in enumerate(self.header or []):
            positions.setdefault(name, i)
            positions.setdefault(normalize_header(name), i)
        used: set[tuple[int, int]] = set()
        for item in rows:
            line, cells, obj, raw, error = item
            if cells is not None:
                ref = cells[ref_pos] if ref_pos is not None and ref_pos < len(cells) else ""
            else:
                ref = obj.get(REF_COLUMN) if obj is not None else None
            if isinstance(ref, str) and ref.strip():
                named, fixes = self._reject_fixes(ref.strip(), used)
                if fixes is not None:
                    if cells is not None:
                        cells, given = _restore_cells(list(cells), positions, ref_pos, fixes)
                    else:
                        obj, given = _restore_object(obj, fixes)
                    if given:  # a reference that fits no cell of the row (another row's) is not used up by it
                        used.add(named)
                        self.restored += 1
                        item = (line, cells, obj, raw, error)
            yield item

    def _reject_fixes(self, ref: str, used: set[tuple[int, int]]) -> tuple[tuple[int, int] | None, tuple | None]:
        """(batch, line) of the reject named by ``ref`` and what it gives back; None when it names none of this
        database's rejects, or one that gave its cells to an earlier row of the file."""
        match = _REF.match(ref)
        if match is None:
            return None, None
        named = (int(match.group(1)), int(match.group(2)))
        if named in used:
            return None, None
        row = self.conn.execute("SELECT r.raw, r.phone_enc, r.cells_enc, b.header, b.profile FROM rejects r"
                                " JOIN batches b ON b.id = r.batch_id WHERE r.batch_id = ? AND r.line = ?",
                                list(named)).fetchone()
        if row is None:
            return None, None
        raw, phone_enc, cells_enc, header, profile = row
        if not hmac.compare_digest(reject_ref(self._ref_key(), *named, raw).lower(), ref.lower()):
            return None, None
        return named, _fixes_of(self.ctx, json.loads(raw), phone_enc, cells_enc, json.loads(header), profile)

    def _ref_key(self) -> bytes:
        key = getattr(self, "ref_key", None)
        if key is None:
            key = self.ref_key = _ref_key(self.ctx.keys.data_key)
        return key

    def _produce(self, rows: Iterator) -> Iterator[tuple]:
        """Groups of validated rows: (rows, their cells or objects, their scores, rows whose phone still needs
        a contact id, rejected rows, rows read so far)."""
        return self._validate(rows)

    def _validate(self, rows: Iterator) -> Iterator[tuple]:
        # Locals: this loop runs once per row of a million-row file.
        getter, tail, width, ind_getter = self.getter, self.tail, self.width, self.ind_getter
        is_json = not self.header
        windows, channels, items, levels = self.windows, self.channels, self.items, self.levels
        named_items, named_windows, named_cities = self.named_items, self.named_windows, self.named_cities
        day_info, day_of = self.day_info, self._day
        now_s = self.now_text
        earliest = EARLIEST_TEXT
        fromiso = datetime.fromisoformat
        rounds, anonymous_map = _ROUNDS, _ANONYMOUS
        phone_cache, contact_cache = self.phone_cache, self.contact_cache
        rid_from = self.rid_from
        tally = self.reader_tally
        reject = self._reject_row
        xlsx = self.fmt == "xlsx"
        next_id = self.next_id
        group_rows = self.group_rows
        group: list[list] = []
        group_src: list = []  # cells (or the JSON object) of each grouped row, for a late reject
        group_scores: list = []
        pending: list[list] = []
        rejects: list[tuple] = []
        # No scale declared: rows with a level code wait here until the file shows names or codes (CODED_LEVELS).
        undecided = self.scale is None
        held: list[tuple] = []
        read = 0
        for line, cells, obj, raw, error in rows:
            read += 1
            if cells is None:
                if error is not None:
                    rejects.append(reject(tally, line, None, raw, "row_malformed" if self.fmt == "csv" else "json_invalid",
                                          error))
                    continue
                try:
                    cells = self._cells_of(obj)
                except _Reject as exc:
                    rejects.append(reject(tally, line, None, raw, exc.code, exc.reason, obj))
                    continue
            elif len(cells) != width:
                if len(cells) > width and not any(c.strip() for c in cells[width:]):
                    del cells[width:]  # trailing empty cells (a spreadsheet's ragged right edge)
                elif xlsx and len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                else:
                    rejects.append(reject(tally, line, cells, None, "cells_count",
                                          f"the row has {len(cells)} cells, the header has {width} "
                                          "(truncated or misaligned)"))
                    continue
            if tail:
                cells.extend(tail)  # absent fields: their defaults (a reject keeps cells[:width])
            try:
                (rid, when, wcode, chan, item, lvl, case_no, rnd, comment, phone, anon, staff, token, problems,
                 scores_text, county, iname, wname, cname, city) = getter(cells)
                # rating id
                if rid_from is None or rid.strip():
                    rid = rid.strip()
                    if not rid:
                        raise _Reject("id_missing", "the rating id (评价编号) is empty")
                    if ("E+" in rid or "e+" in rid) and _SCI.match(rid):
                        raise _excel_number("rating id", rid)
                # time
                if len(when) == 19 and when[10] == " " and when[4] == "-" and when[13] == ":" and when[16] == ":":
                    try:
                        fromiso(when)
                    except ValueError:
                        when = parse_time(when, self.excel_epoch)
                    else:
                        if when < earliest:
                            _in_window(fromiso(when), when)
                else:
                    when = parse_time(when, self.excel_epoch)
                if when > now_s:
                    raise _Reject("time_future", f"the time {when} is later than now ({now_s})")
                day = when[:10]
                # channel
                ch = channels.get(chan)
                if ch is None:
                    ch = self._channel(chan)
                channel, cmode = ch
                # window
                win = windows.get(wcode)
                if win is None:
                    win = self._window(wcode, county, channel, cmode)
                wcode, wcounty, kind, active, deactivated = win
                # what the file says beside the window code: its name, county and city (one lookup each)
                if wname:
                    named = named_windows.get(wname, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_window(wname)
                    if named is not None and wcode not in named:
                        raise _Reject("window_mismatch", f"窗口编码 {wcode} is {self.window_names[wcode]}, "
                                                         f"not {wname.strip()}")
                if county or cname:
                    self._check_county(wcode, wcounty, county, cname)
                if city:
                    named = named_cities.get(city, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_city(city)
                    if named is False:
                        raise _Reject("county_mismatch", f"窗口编码 {wcode} is in {self.city_name}, "
                                                         f"not {city.strip()}")
                if not active and (deactivated is None or when >= deactivated):
                    raise _Reject("window_inactive", f"window {wcode} was deactivated "
                                  + (f"on {deactivated}, before this rating" if deactivated else
                                     "(no deactivation time is recorded)"))
                if cmode is not None and cmode != kind:
                    raise _Reject("channel_mode", f"channel {chan.strip()} is {cmode} but window {wcode} is {kind}")
                # item
                if item:
                    code = items.get(item)
                    if code is None:
                        code = items.get(item.strip())
                        if code is None:
                            if item.strip():
                                raise _Reject("item_unknown", f"service item {item.strip()!r} is not in the catalogue")
                            code = ""
                else:
                    code = ""
                if iname:  # the item name beside the code: the code is the item, the name must agree
                    named = named_items.get(iname, _UNSEEN)
                    if named is _UNSEEN:
                        named = self._named_item(iname)
                    if named is not None:
                        if not code:
                            if not named:
                                raise _Reject("item_unknown", f"service item {iname.strip()!r} is not in the catalogue")
                            code = named
                        elif named != code:
                            raise _Reject("item_mismatch", f"事项编码 {code} is {self.item_names[code]}, "
                                                           f"not {iname.strip()}")
                # level
                level = levels.get(lvl)
                by_code = False
                if level is None:
                    level, by_code = self._level(lvl, line)
                if undecided:  # a level name: the file is of names, and the codes held are its rows' problems
                    undecided, self.levels_named = False, True
                    for held_line, held_cells, held_obj, value in held:
                        rejects.append(reject(tally, held_line, held_cells, None, "level_invalid",
                                              _stray_code_reason(value), held_obj))
                    held = []
                # optional fields
                if case_no:
                    case_no = case_no.strip()
                    if ("E+" in case_no or "e+" in case_no) and _SCI.match(case_no):
                        raise _excel_number("case number (办件编号)", case_no)
                rnd_value = rounds.get(rnd)
                if rnd_value is None:
                    rnd_value = rounds.get(rnd.strip())
                    if rnd_value is None:
                        raise _Reject("round_invalid", f"评价次数 {rnd.strip()!r} is not 1 (first) or 2 (追评)")
                if not rid:
                    rid = self._compose_id(cells, case_no, rnd_value)
                info = day_info.get(day)
                if info is None:
                    info = day_of(day)
                total, wts, plain = info[1][kind]
                ivals = ind_getter(cells) if ind_getter is not None else ()
                if scores_text or any(ivals):
                    scores = self._scores(ivals, scores_text, kind, info[0], day)
                else:
                    scores = None
                if scores:
                    t_level = T[level]
                    index = total * t_level + sum(wts[c] * (T[s] - t_level) for c, s in scores.items())
                    scores_json = "{" + ",".join([f'"{c}":{s}' for c, s in scores.items()]) + "}"
                else:
                    index = plain[level]
                    scores_json = ""
                problems_json = self._problems(problems, info[0], day) if problems else ""
                contact: int | tuple = 0
                if phone:
                    entry = phone_cache.get(phone)
                    if entry is None:
                        entry = self._phone(phone)
                    contact = contact_cache.get(entry[0]) or entry  # (hash, phone): resolved in bulk
                anonymous = anonymous_map.get(anon)
                if anonymous is None:
                    if anon.strip():
                        anonymous = anonymous_map.get(anon.strip().lower())
                        if anonymous is None:
                            raise _Reject("anonymous_invalid", f"是否匿名 {anon.strip()!r} is not 是/否 (yes/no)")
                    else:
                        anonymous = 0 if phone else 1
                if staff:
                    staff = staff.strip()
                token_ok = -1
                if token:
                    token = token.strip()
                    if token:
                        token_ok = self.token_cache.get((wcode, token))
                        if token_ok is None:
                            token_ok = self._verify_token(wcode, token)
                        if token_ok == 2:  # the previous QR secret's: judged by the rating's time (qr.token_at)
                            token_ok = self._old_token_at(when)
                        if not token_ok:
                            self.tokens_failed += 1
            except _Reject as exc:
                rejects.append(reject(tally, line, None if is_json else cells, None, exc.code, exc.reason,
                                      obj if is_json else None))
                continue
            except _LevelCode as exc:
                held.append((line, None if is_json else cells, obj if is_json else None, exc.value))
                if len(held) >= CODED_LEVELS:
                    raise self._coded_file(held) from None
                continue
            row = [next_id, rid, line, when, day, wcode, wcounty, kind, channel, code, level, index, info[0],
                   scores_json, problems_json, case_no, rnd_value, comment, contact, anonymous, staff, token,
                   token_ok]
            next_id += 1
            if by_code:
                self.levels_by_code += 1
            group.append(row)
            group_src.append(obj if is_json else cells)
            group_scores.append(scores)
            if contact.__class__ is tuple:
                pending.append(row)
            if len(group) >= group_rows:
                self.read = read
                yield (group, group_src, group_scores, pending, rejects, read)
                group, group_src, group_scores, pending, rejects = [], [], [], [], []
            elif len(rejects) >= group_rows:
                yield ([], [], [], [], rejects, read)
                rejects = []
        if held:  # every level read was a code
            raise self._coded_file(held)
        self.read = read
        if group or rejects:
            yield (group, group_src, group_scores, pending, rejects, read)

    def _level(self, text: str, line: int) -> tuple[int, bool]:
        """(level, read by code). A code 1–5 is read by the declared scale. Without a scale, a code in a file
        of names rejects its row, and one met before the file is known to be of names raises _LevelCode (the
        row is held back until the file's first CODED_LEVELS levels tell; see _validate). Anything else that
        is neither a name nor a code 1–5 (0, 9, 4.5, N/A) rejects its row."""
        value = text.strip()
        if not value:
            raise _Reject("level_missing", "the level (评价等级) is empty")
        level = self.levels.get(value) or self.levels.get(value.lower())
        if level is not None:
            self.levels[text] = level
            return level, False
        if _NUMBER.match(value):
            number = float(value)
            if not (number.is_integer() and 1 <= number <= 5):
                if self.scale is not None:
                    raise _Reject("level_invalid", f"level code {value} is not 1–5 on the {self.scale} scale")
                raise _Reject("level_invalid", f"{value!r} is not a level ({' / '.join(reversed(LEVELS))}), "
                                               "nor a level code 1–5")
            if self.scale is None:
                if self.levels_named:
                    raise _Reject("level_invalid", _stray_code_reason(value))
                raise _LevelCode(value)
            return LEVEL_SCALES[self.scale][int(number)], True
        raise _Reject("level_invalid", f"{value!r} is not a level ({' / '.join(reversed(LEVELS))})")

    def _coded_file(self, held: list[tuple]) -> InvalidInput:
        """The error that stops a file whose levels are codes and no scale is declared."""
        line, value = held[0][0], held[0][3]
        return InvalidInput(
            f"{self.file_name}: {self.word} {line}: level {value!r} is a numeric code (the file's levels are codes, "
            "not names) and no level scale is declared; nothing was imported",
            "level codes run both ways: give --level-scale national (GB/T 39046: 1 = 非常满意) or "
            "--level-scale platform (5 = 非常满意), or a profile that declares it; names such as 非常满意 "
            "are always accepted")

    def _compose_id(self, cells: list[str], case_no: str, rnd: int) -> str:
        parts = []
        for name in self.rid_from or ["rating_id"]:
            if name == "case_no":
                value = case_no
            elif name == "rating_round":
                value = str(rnd)
            else:
                value = cells[self.field_pos[name]].strip()
            if not value:
                labels = " + ".join(_field_label(n) for n in self.rid_from or ["rating_id"])
                raise _Reject("id_missing", f"the rating id is built from {labels}, and {_field_label(name)} is empty")
            parts.append(value)
        return self.profile.rating_id_separator.join(parts)

    def _of_version(self, code: str, version: str, day: str) -> str:
        """The indicator's scope in the version; raises _Reject when the version has no such indicator."""
        scope = self.version_scope.get(version, {}).get(code)
        if scope is None:
            theirs = ", ".join(self.ind_versions.get(code) or ["no version"])
            raise _Reject("indicator_version", f"indicator {self.ind_name.get(code, code)} ({code}) is of {theirs}, not"
                                               f" of {version} in force on {day} (指标不属于当日适用的指标体系版本)")
        return scope

    def _scores(self, ivals: tuple, scores_text: str, kind: str, version: str, day: str) -> dict[str, int]:
        """The indicator scores given, {code: 1..5} in code order; raises _Reject."""
        given = [(c, v) for c, v in zip(self.ind_codes, ivals, strict=True) if v and not v.isspace()]
        if scores_text and not scores_text.isspace():
            try:
                extra = json.loads(scores_text)
            except ValueError:
                raise _Reject("score_invalid", f"指标评分 {scores_text.strip()[:60]!r} is not a JSON object") from None
            if not isinstance(extra, dict):
                raise _Reject("score_invalid", "指标评分 is not a JSON object {indicator: score}")
            for key, value in extra.items():
                code = self.indicator_alias.get(normalize_header(key))
                if code is None:
                    raise _Reject("score_invalid", f"指标评分 names {key!r}, not an indicator")
                given.append((code, cell_text(value)))
            given.sort()
        scores: dict[str, int] = {}
        values = self.score_values
        for code, value in given:
            score = values.get(value)
            if score is None:
                score = values.get(value.strip())
                if score is None:
                    raise _Reject("score_invalid", f"score of {self.ind_name[code]} ({code}) is {value.strip()!r}; "
                                                   "scores are whole numbers 1–5")
            scope = self._of_version(code, version, day)
            if not in_scope(scope, kind):
                raise _Reject("score_scope", f"indicator {self.ind_name[code]} ({code}) is {scope} only; "
                                             f"the window is {kind}")
            scores[code] = score
        return scores

    def _problems(self, text: str, version: str, day: str) -> str:
        codes: list[str] = []
        for token in _SPLIT_TAGS.split(text.strip()):
            if not token:
                continue
            code = self.indicator_alias.get(normalize_header(token))
            if code is None:
                raise _Reject("problem_unknown", f"problem tag {token!r} is not an indicator code or name")
            self._of_version(code, version, day)
            if code not in codes:
                codes.append(code)
        return json.dumps(codes) if codes else ""

    def _phone(self, text: str) -> tuple[str, str]:
        value = text.strip()
        if ("E+" in value or "e+" in value) and _SCI.match(value):
            raise _excel_number("phone number", value)
        phone = normalize_phone(value)
        if phone is None:
            if _PHONE_MASK.match(value):  # as a rejects file writes it, without the reject_ref that gives it back
                raise _Reject("phone_invalid", f"phone number {value} is masked, as `batches rejects` writes"
                                               " it: only the row's unchanged reject_ref, in the database that wrote"
                                               " it, gives the number back; otherwise type the number in full")
            raise _Reject("phone_invalid", f"phone number {_mask_any(value)} is not a plausible mobile or landline")
        if len(self.phone_cache) > CACHE_LIMIT:
            self.phone_cache.clear()
        entry = (self.ctx.vault.hash(phone), phone)
        self.phone_cache[text] = entry
        return entry

    def _verify_token(self, window: str, token: str) -> int:
        """1 the current QR secret's token, 2 only the previous secret's (whatever the time), 0 neither."""
        from haocha_cli.qr_tokens import token_secret

        ok = token_secret(self.ctx.keys, window, token, int(self.ctx.config["qr.token_length"]))
        if len(self.token_cache) > CACHE_LIMIT:
            self.token_cache.clear()
        self.token_cache[(window, token)] = ok
        return ok

    def _old_token_at(self, when: str) -> int:
        """token_ok of a rating made at ``when`` with a token of the previous QR secret: 1 made before the
        rotation, 2 within its grace period (flag old_token, counted as qr_tokens_old), 0 after it."""
        from haocha_cli.qr_tokens import token_at

        verdict = token_at(self.ctx.keys, 2, when)
        self.tokens_old += verdict == 2
        return verdict


def _fixes_of(ctx: Context, stored: Any, phone_enc: str | None, cells_enc: str | None, header: list[str],
              profile_name: str) -> tuple[dict[str, tuple], dict[str, str]]:
    """What a reject gives back to its row in a fixed rejects file: ({column or key: (the value the rejects file
    wrote, its text forms, the cell as it was)} for each cell the file did not write as it was, and {mask: the
    number as written} for a line that could not be split, whose masks are given back wherever they are)."""
    if isinstance(stored, str):  # a line that could not be split: kept whole, encrypted, when it held a number
        if not phone_enc:
            return {}, {}
        numbers = masked_numbers(ctx.vault.reveal(phone_enc))
        return {}, {mask: found[0] for mask, found in numbers.items() if len(set(found)) == 1}
    originals: dict[str, Any] = json.loads(ctx.vault.reveal(cells_enc)) if cells_enc else {}
    if phone_enc and not cells_enc:  # stored before the masked cells were kept: the phone alone
        try:
            profile: Profile | None = load_profile(profile_name)
        except HaochaError:
            profile = None
        names = header if isinstance(stored, list) else list(stored)
        phone_at = next((i for i, h in enumerate(names) if profile and profile.field_for(h) == "rater_phone"), None)
        if phone_at is not None:
            originals[str(phone_at) if isinstance(stored, list) else names[phone_at]] = ctx.vault.reveal(phone_enc)
    entries = (zip(header, stored, strict=False) if isinstance(stored, list) else stored.items())
    fixes: dict[str, tuple] = {}
    for at, (name, value) in enumerate(entries):
        key = str(at) if isinstance(stored, list) else name
        shown = mask_values(value)  # as batch_rejects shows it
        text = cell_text(shown)
        forms = {text.strip(), csv_safe(text).strip()}
        original = originals.get(key, value)
        if name not in fixes and (original != shown or len(forms) > 1):
            fixes[name] = (shown, forms, original)
    return fixes, {}


def _restore_cells(cells: list[str], positions: dict[str, int], ref_pos: int | None,
                   fixes: tuple) -> tuple[list[str], int]:
    """The row's cells with what its reject gives back, and how many cells changed."""
    by_name, masks = fixes
    given = 0
    for name, (_shown, forms, original) in by_name.items():
        at = positions.get(name, positions.get(normalize_header(name)))
        if at is not None and at < len(cells) and cells[at].strip() in forms:
            cells[at] = cell_text(original)
            given += 1
    if masks:
        for at, cell in enumerate(cells):
            if at != ref_pos and "*" in cell:
                for mask, number in masks.items():
                    cell = cell.replace(mask, number)
                given += cell != cells[at]
                cells[at] = cell
    return cells, given


def _restore_object(obj: dict[str, Any], fixes: tuple) -> tuple[dict[str, Any], int]:
    """The object with what its reject gives back, and how many values changed."""
    by_name, masks = fixes
    obj = dict(obj)
    given = 0
    for key, value in obj.items():
        fix = by_name.get(key)
        if fix is not None:
            shown, forms, original = fix
            if value == shown or (isinstance(value, str) and value.strip() in forms):
                obj[key] = original
                given += 1
        elif masks and key != REF_COLUMN and isinstance(value, str) and "*" in value:
            for mask, number in masks.items():
                value = value.replace(mask, number)
            given += value != obj[key]
            obj[key] = value
    return obj, given
