"""A user-supplied python check, as `check: {python: tests.check_funcs:mentions_answer}`."""

import os


def mentions_answer(response: str, row: dict) -> bool:
    return "answer" in response


def dies_once(response: str, row: dict) -> bool:
    """Ends its own process (no cleanup, as a killed worker) the first time it meets a row whose
    `die_marker` file does not exist yet; met otherwise."""
    marker = row.get("die_marker")
    if marker and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return True
