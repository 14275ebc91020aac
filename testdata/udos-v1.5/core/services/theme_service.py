"""Terminal themes: the seed's bank of system themes."""

import json
import os

from core.services.path_service import get_repo_root


def system_themes():
    bank = os.path.join(get_repo_root(), "core", "framework", "seed", "bank", "system", "themes")
    names = []
    for entry in sorted(os.listdir(bank)):
        with open(os.path.join(bank, entry)) as f:
            names.append(json.load(f)["name"])
    return names
