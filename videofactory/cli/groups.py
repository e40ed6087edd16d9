"""Command groups built on first use: ``videofactory farm`` and ``videofactory cache``.

Typer turns every registered command into a Click command whenever the program starts,
reading each function's signature, whatever command was asked for. A group registered here
is a stand-in with its name and help until it is invoked: ``videofactory --help`` lists it
without importing its module or building its commands, and so does every other command.
"""

from collections.abc import Callable, MutableMapping
from typing import Any

import typer
import typer.core

__all__ = ["LazyGroup", "with_lazy_groups"]


class LazyGroup(typer.core.TyperGroup):
    """A sub-group listed by name and help; ``load`` gives its Typer app when it is invoked
    (or its commands are asked for)."""

    def __init__(
        self, name: str, load: Callable[[], typer.Typer], help: str, settings: dict[str, Any]
    ) -> None:
        self._load = load
        self._settings = settings
        self._real: typer.core.TyperGroup | None = None
        super().__init__(name=name, help=help)

    @property
    def built(self) -> bool:
        """Whether the group itself was built (it was invoked, or its commands asked for)."""
        return self._real is not None

    def real(self) -> typer.core.TyperGroup:
        """The group itself, built once as ``add_typer`` on the main app would build it (with
        the main app's ``settings``: its help style, no completion options)."""
        if self._real is None:
            parent = typer.Typer(**self._settings)
            parent.add_typer(self._load(), name=self.name)
            group = typer.main.get_group(parent).commands[str(self.name)]
            assert isinstance(group, typer.core.TyperGroup), f"{self.name} is not a group"
            self._real = group
        return self._real

    # The stand-in's own commands are never set: TyperGroup's __init__ assigns an empty dict.
    @property  # type: ignore[override]
    def commands(self) -> MutableMapping[str, Any]:
        return self.real().commands

    @commands.setter
    def commands(self, value: MutableMapping[str, Any]) -> None:
        pass

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:  # noqa: E501
        # Click runs a sub-command as ``cmd.make_context(...)`` then ``ctx.command.invoke``:
        # the context made here is the real group's, so is everything that follows.
        return self.real().make_context(info_name, args, parent=parent, **extra)

    def list_commands(self, ctx: Any) -> list[str]:
        return self.real().list_commands(ctx)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return self.real().get_command(ctx, cmd_name)


def with_lazy_groups(
    groups: dict[str, tuple[Callable[[], typer.Typer], str]], **settings: Any
) -> type:
    """A TyperGroup class (``typer.Typer(cls=...)``) that ends with these groups, each
    ``name: (load, help)``, listed after the commands in the order given; ``settings``: the
    main app's ``typer.Typer`` arguments that shape a sub-group (``rich_markup_mode``)."""

    class Main(typer.core.TyperGroup):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            for name, (load, help) in groups.items():
                self.add_command(LazyGroup(name, load, help, settings))

    return Main
