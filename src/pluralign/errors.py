"""Errors that reach users as one clear line (the CLI turns them into exit code 2)."""


class InputError(ValueError):
    """Bad input from a user: a file, a field, a request. The message names where.

    The CLI prints ``str(error)`` on one line and exits with status 2; nothing is written.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None, field: str | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        if field:
            where += f"field '{field}': "
        super().__init__(where + message)
        self.path, self.line, self.field = path, line, field
