"""What produced an output file, kept beside it, so that `--resume` continues only a file written under
the same rubric, judge, profile and settings.

The output rows stay plain JSONL (`{"id", ...}` per line); the record is a small JSON file beside them,
OUTPUT.run.json (`scored.jsonl` -> `scored.jsonl.run.json`), written when a run starts. It holds named
parts (`command`, `input`, `fields`, `rubric`, `judge`, `profile`, `settings`), each a JSON value the
command builds: the input and the rubric as digests of their content, the --field mapping, the judge's
spec and server URLs without credentials (an embedded judge's model file as a digest of its content),
the settings that change what a row holds. No key or password is ever part of it.

On `--resume` of a file that already holds rows, the record beside it must equal this run's: a part
that differs is bad usage (exit 2) naming the parts that changed. A file with rows and no record
(written by judgekit before records existed, or copied without its record) is refused too: nothing
says what wrote it, and continuing it could mix two rubrics or judges in one file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from judgekit.errors import InputError
from judgekit.secrets import redact

RunRecord = dict[str, Any]
"""Part name -> a JSON value (str, number, bool, None, list or dict of these)."""

SUFFIX = ".run.json"
_FORMAT = "judgekit run record 1"
INFO_PARTS = ("about", "totals")
"""Parts that describe a run for its page (`judgekit report`), never compared by --resume: `about` (where the
input is, the rubric's criteria, the judge as shown, the start date) and `totals` (calls, tokens, cost and
duration, written when the run ends)."""


def record_path(output: Path) -> Path:
    return output.with_name(output.name + SUFFIX)


def digest(value: object) -> str:
    """A short, stable digest of a JSON value (its canonical text: sorted keys, no spaces)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()[:32]


def public_url(url: str) -> str:
    """A server URL without what may carry credentials: the user and password, the query and fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a port: keep nothing of it
        port = ""
    return redact(urlunsplit((parts.scheme, host + port, parts.path, "", "")))


def refuse_input_as_record(source: Path, output: Path) -> None:
    """Exit 2 when the record beside `output` would be written over the input (`score X.run.json -o X`):
    the same path, a symlink or a hard link to it. Called before the output is opened."""
    path = record_path(output)
    try:
        same = os.path.samefile(source, path)
    except OSError:  # no record there yet (or it cannot be looked at): it is not the input
        same = False
    if same:
        raise InputError(f"the run record beside the output ({path.name}) would be written over the input file "
                         f"({source}); choose another -o: the input is never written", file=str(output), field="--output")


def keep_record(output: Path, record: RunRecord, *, resume: bool, has_rows: bool) -> None:
    """Before a run writes a row to `output`: with --resume of a file that holds rows, check that it was
    written under `record` (else InputError, exit 2); then `record` is kept beside the output."""
    if resume and has_rows:
        _check_same(output, record)
    path = record_path(output)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(json.dumps({"format": _FORMAT, **record}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def add_totals(output: Path, totals: Mapping[str, object]) -> None:
    """When a run ends: its calls, tokens, cost and duration into the record beside `output` (kept as it was
    when it cannot be read: the page then shows no totals)."""
    path = record_path(output)
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(saved, dict) and saved.get("format") == _FORMAT:
        keep_record(output, {k: v for k, v in saved.items() if k != "format"} | {"totals": totals},
                    resume=False, has_rows=False)


def read_record(output: Path) -> RunRecord | None:
    """The record beside an output, for its page; None when there is none or it is not one."""
    try:
        saved = json.loads(record_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and saved.get("format") == _FORMAT else None


def _check_same(output: Path, record: RunRecord) -> None:
    path = record_path(output)
    saved = _read(path, output)
    changed = [name for name in record if name not in INFO_PARTS and saved.get(name) != record[name]]
    if changed:
        raise InputError(f"--resume would mix two runs in one file: the {_named(changed, record, saved)} changed "
                         f"since this output was written (see {path.name}); run again without --resume, or "
                         "write to another -o", file=str(output), field="--resume")


def _read(path: Path, output: Path) -> RunRecord:
    missing = (f"this output has no record of the rubric and judge that wrote it ({path.name} is not beside it: "
               "written by an older judgekit, or copied without it), so --resume cannot tell whether it is this "
               "run's; run again without --resume")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(missing, file=str(output), field="--resume") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable run record ({type(exc).__name__}); run again without --resume",
                         file=str(path)) from None
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise InputError("not a judgekit run record; run again without --resume", file=str(path))
    return saved


# How a part is named in the refusal, where its own name does not say it.
_PART_NAMES = {"input": "input's content", "fields": "field mapping (--field)"}


def _named(changed: list[str], record: RunRecord, saved: RunRecord) -> str:
    """'rubric and judge', with the settings that changed: 'settings (samples, explain)'."""
    names = []
    for name in changed:
        now, before = record[name], saved.get(name)
        if isinstance(now, dict) and isinstance(before, dict) and name not in ("judge", "fields"):
            keys = sorted(k for k in now.keys() | before.keys() if now.get(k) != before.get(k))
            names.append(f"{name} ({', '.join(keys)})")
        else:
            names.append(_PART_NAMES.get(name, name))
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
