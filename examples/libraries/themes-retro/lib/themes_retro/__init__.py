"""Retro Themes: colour schemes for the uDOS terminal UI."""

__version__ = "0.3.0"

THEMES = {
    "green-phosphor": {"fg": "#33ff33", "bg": "#0a0f0a", "accent": "#99ff99"},
    "amber": {"fg": "#ffb000", "bg": "#120c00", "accent": "#ffd27f"},
}


def get(name):
    """Return a theme by name, raising KeyError with the known names."""
    try:
        return dict(THEMES[name])
    except KeyError:
        raise KeyError(f"unknown theme {name!r}; known: {', '.join(sorted(THEMES))}") from None
