"""A user-supplied python check, as `check: {python: tests.check_funcs:mentions_answer}`."""


def mentions_answer(response: str, row: dict) -> bool:
    return "answer" in response
