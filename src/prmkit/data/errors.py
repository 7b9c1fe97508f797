"""The one exception type for a user's bad input."""


class InputError(Exception):
    """Bad input from the user. The message reads `FILE:LINE: what is wrong`.

    The CLI prints it on one line and exits non-zero; it never shows a traceback.
    """

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line
