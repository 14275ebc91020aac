"""Terminal themes: the genres under core/themes/genre."""

import os

from core.services.path_service import get_repo_root


def system_themes():
    return sorted(os.listdir(os.path.join(get_repo_root(), "core", "themes", "genre")))
