from core.commands.help import HELP  # noqa: F401
