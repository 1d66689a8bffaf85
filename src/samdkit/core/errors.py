"""Errors that the CLI turns into one clear line and a non-zero exit instead of a traceback."""


class UserError(Exception):
    """Bad input from the user (missing file, malformed YAML, wrong password): exit 2 by default."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NotYetAvailable(UserError):
    """A command of the CLI contract whose implementation has not landed yet."""

    def __init__(self, command: str) -> None:
        super().__init__(f"'samdkit {command}' is not yet available in this version", exit_code=2)
