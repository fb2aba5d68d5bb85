"""The one error type a user can cause, and how the CLI shows it.

Anything a user can get wrong (a path, an image, a key, a value, too few labels) raises
`HeadstartError` with a message that names the thing and the fix. The CLI prints it as one
line and exits with code 2; `--debug` shows the traceback.
"""

from __future__ import annotations

EXIT_USER_ERROR = 2


class HeadstartError(Exception):
    """A problem the user can fix. `str(err)` is the full one-line message."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(f"{message} — {fix}" if fix else message)


def did_you_mean(name: str, valid: list[str]) -> str:
    """A hint listing the valid names, closest first."""
    import difflib

    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    head = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return f"{head}valid: {', '.join(valid)}"
