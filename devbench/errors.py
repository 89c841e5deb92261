"""Typed errors. Each carries its data so callers can report or record it."""

from __future__ import annotations


class DevbenchError(Exception):
    """Base of every error devbench reports to the user as one line."""


class ConfigError(DevbenchError):
    """A config file that cannot be used: names the file, line, column and field."""

    def __init__(self, file: str, line: int | None, column: int | None, field: str, message: str):
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class ConfigErrors(ConfigError):
    """Several config errors, reported together as a linter does: in file order (--set
    overrides, which have no line, last), one file:line:column line each. Its own fields are
    the first error's."""

    def __init__(self, errors: list[ConfigError]):
        flat: list[ConfigError] = []
        for x in errors:
            flat += x.errors if isinstance(x, ConfigErrors) else [x]
        self.errors: list[ConfigError] = sorted(
            flat, key=lambda e: (e.line is None, e.file, e.line or 0, e.column or 0))
        first = self.errors[0]
        super().__init__(first.file, first.line, first.column, first.field, first.message)

    def __str__(self) -> str:
        return "\n".join(ConfigError.__str__(e) for e in self.errors)

    @staticmethod
    def of(errors: list[ConfigError]) -> ConfigError:
        """The one error, or all of them."""
        return errors[0] if len(errors) == 1 else ConfigErrors(errors)


class TargetError(DevbenchError):
    """A device could not do what was asked: names the device and the step."""

    def __init__(self, target: str, step: str, message: str, *, stdout: str = "", stderr: str = ""):
        self.target = target
        self.step = step
        self.message = message
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.target}: {self.step}: {self.message}"


class ConnectionLost(TargetError):
    """The connection to a device dropped while it worked (adbd died, link down, host gone).
    The device's journal still holds what to restore; the runner reconnects."""


class BuildError(DevbenchError):
    """The payload could not be built for an ABI."""

    def __init__(self, abi: str, compiler: str, message: str, log: str = ""):
        self.abi = abi
        self.compiler = compiler
        self.message = message
        self.log = log
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"payload build for {self.abi} with {self.compiler}: {self.message}"


class ResultsError(DevbenchError):
    """A results file that cannot be read."""

    def __init__(self, path: str, message: str):
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
